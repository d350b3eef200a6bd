%% @doc The agent's owner on a target node: one process that owns everything ElixirLumin installs there and
%% undoes it in one place, `cleanup/1', whatever ends the attachment — a detach, the kernel or its bridge
%% dying (even by SIGKILL), or the connection dropping. It watches the bridge itself (a monitor across
%% distribution), so it never relies on the kernel to say goodbye. Cleanup removes this agent's trace
%% patterns and flags (and only those), stops its processes, and deletes and purges its modules. On a node
%% the kernel started itself (`owned'), it then stops the node.
%%
%% A cut link can go unnoticed by distribution for the node's whole net tick time (60 s by default), so the
%% bridge also sends a heartbeat every second: an agent that hears none for ?SILENT_MS cleans up as if the
%% bridge were gone. The agent also reports nodes that join or leave this node's cluster (`cluster_change').
-module(lumin_agent).
-behaviour(gen_server).

-export([start/2, call/2]).
%% Without a heartbeat from the bridge for this long, the agent cleans up; checked this often.
-define(SILENT_MS, 3000).
-define(CHECK_MS, 250).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

%% @doc Start the owner for `Bridge' (a pid on the kernel's bridge node). Opts: modules (the agent modules
%% to purge at the end), owned (boolean). Refused when another kernel's agent is already here.
-spec start(pid(), map()) -> {ok, pid()} | {error, binary()}.
start(Bridge, Opts) ->
    case whereis(?MODULE) of
        undefined ->
            {ok, Pid} = gen_server:start({local, ?MODULE}, ?MODULE, {Bridge, Opts}, []),
            {ok, Pid};
        Other ->
            {error, iolist_to_binary(io_lib:format("another ElixirLumin kernel is attached to ~ts (its agent is ~p); "
                                                   "detach it first", [node(), Other]))}
    end.

%% @doc A request from the bridge: {arm, Name, Kind, Spec} | {disarm, Name | all} | list |
%% {snapshot, Kind, Options} | {process, Target, What} | {redact, Enabled, Keys} | stop.
call(Agent, Request) -> gen_server:call(Agent, Request, 30000).

init({Bridge, Opts}) ->
    process_flag(trap_exit, true),
    %% Who holds this node (host, kernel, since when): read by a second kernel before it loads anything.
    put(lumin_holder, maps:get(holder, Opts, #{})),
    %% The redaction policy and what it learns live as long as the attachment (the table is this process's).
    ok = lumin_redact:start(),
    case maps:get(redact, Opts, undefined) of
        #{enabled := On, keys := Keys} -> lumin_redact:set_policy(On, Keys);
        _ -> ok
    end,
    erlang:monitor(process, Bridge),
    erlang:send_after(?CHECK_MS, self(), check_link),
    %% Joins and leaves of this node's cluster, told to the kernel (the bridge's own connection is not one).
    ok = net_kernel:monitor_nodes(true, [{node_type, all}]),
    %% The node-wide memory budget over everything the agent holds (lumin_guard), started first.
    {ok, Guard} = lumin_guard:start_link(lumin_budget:node_memory()),
    %% The owner of the node's one tracer and of every trace flag the probes set (lumin_trace).
    {ok, Trace} = lumin_trace:start_link(),
    {ok, #{bridge => Bridge, opts => Opts, kinds => #{}, guard => Guard, trace => Trace,
           last_beat => erlang:monotonic_time(millisecond)}}.

%% Every kind of probe, calls included, is a process of the probe runtime (lumin_probe).
handle_call({arm, Name, Kind, Spec}, _From, S = #{bridge := Bridge, kinds := Kinds}) ->
    case Kinds of
        #{Name := Pid} when is_pid(Pid) ->
            {reply, {error, <<"a probe named ", Name/binary, " is already armed; pick another name with --as">>}, S};
        _ ->
            case lumin_probe:arm(Kind, Name, Spec, Bridge) of
                {ok, Pid, Info} -> {reply, {ok, Info}, S#{kinds := Kinds#{Name => Pid}}};
                {error, _} = E -> {reply, E, S}
            end
    end;
handle_call({disarm, Which}, _From, S = #{kinds := Kinds}) ->
    [lumin_probe:disarm(Pid) || {N, Pid} <- maps:to_list(Kinds), is_pid(Pid), Which =:= all orelse N =:= Which],
    {reply, ok, S};
handle_call(list, _From, S = #{kinds := Kinds}) ->
    {reply, [St || P <- maps:values(Kinds),
                   St <- [case P of {ended, Sum} -> Sum; _ -> lumin_probe:status(P) end], St =/= undefined], S};
handle_call({snapshot, Kind, Options}, _From, S) ->
    {reply, lumin_snapshot:take(Kind, Options), S};
handle_call({process, Target, What}, _From, S) ->
    {reply, lumin_snapshot:process(Target, What), S};
handle_call({redact, On, Keys}, _From, S) ->
    {reply, lumin_redact:set_policy(On, Keys), S};
handle_call(stop, From, S) ->
    gen_server:reply(From, ok),
    {stop, normal, S}.

handle_cast(_, S) -> {noreply, S}.

handle_info({'DOWN', _, process, Bridge, _}, S = #{bridge := Bridge}) ->
    %% The kernel's bridge is gone (killed, halted, or the connection dropped): clean up on our own.
    {stop, normal, S};
handle_info({'$lumin', heartbeat, From}, S) ->
    From ! {'$lumin', beat_ack, node()},
    {noreply, S#{last_beat := erlang:monotonic_time(millisecond)}};
handle_info(check_link, S) ->
    %% Heartbeats that queued while this process was busy count: take them before judging.
    S1 = take_beats(S),
    case erlang:monotonic_time(millisecond) - maps:get(last_beat, S1) > ?SILENT_MS of
        true -> {stop, normal, S1};
        false -> erlang:send_after(?CHECK_MS, self(), check_link), {noreply, S1}
    end;
handle_info({NodeUpDown, Peer, Info}, S = #{bridge := Bridge}) when NodeUpDown =:= nodeup; NodeUpDown =:= nodedown ->
    case Peer =:= node(Bridge) orelse lists:prefix("lumin_bridge_", atom_to_list(Peer)) of
        true -> ok;
        false ->
            Bridge ! {lumin_event, cluster_change,
                      #{node => atom_to_binary(node(), utf8), peer => atom_to_binary(Peer, utf8),
                        change => case NodeUpDown of nodeup -> joined; nodedown -> left end,
                        type => proplists:get_value(node_type, Info, visible), at_ms => os:system_time(millisecond)}}
    end,
    {noreply, S};
handle_info({'$lumin', probe_ended, Pid, Summary}, S = #{kinds := Kinds}) ->
    %% An ended probe's process is gone; its last summary is kept for %probes.
    {noreply, S#{kinds := maps:map(fun(_, P) when P =:= Pid -> {ended, Summary}; (_, P) -> P end, Kinds)}};
handle_info(_, S) ->
    {noreply, S}.

terminate(_Reason, S) -> cleanup(S).

take_beats(S) ->
    receive
        {'$lumin', heartbeat, From} ->
            From ! {'$lumin', beat_ack, node()},
            take_beats(S#{last_beat := erlang:monotonic_time(millisecond)})
    after 0 -> S
    end.

%% The one cleanup every ending path goes through.
cleanup(S = #{kinds := Kinds, opts := Opts}) ->
    [catch lumin_probe:stop(Pid) || Pid <- maps:values(Kinds), is_pid(Pid)],
    %% Every probe has released its flags by now; the owner removes whatever is left (a probe killed midway).
    Trace = maps:get(trace, S, undefined),
    _ = is_pid(Trace) andalso (catch gen_server:stop(Trace, normal, 10000)),
    Guard = maps:get(guard, S, undefined),
    is_pid(Guard) andalso (catch unlink(Guard)) =:= true andalso exit(Guard, kill),
    Modules = maps:get(modules, Opts, []),
    %% A module cannot purge itself while it runs: mark the code old here, then let processes that run only
    %% OTP's code:purge/1 remove it (killing this process too, if it is still finishing; its work is done).
    [code:delete(M) || M <- Modules],
    case maps:get(owned, Opts, false) of
        true -> spawn(init, stop, []);
        false -> [spawn(code, purge, [M]) || M <- Modules]
    end,
    ok.
