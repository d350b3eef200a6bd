%% @doc The one owner of tracing on the node: the agent's single tracer (lumin_tracer) and every trace flag the
%% agent sets, so that probes of any kinds work together on the same processes. Legacy tracing gives a
%% process ONE tracer: a call probe (call flags on every process), a message probe (send and receive on a
%% process) and a process probe (procs) on the same processes must therefore share it. Each probe process is a
%% holder: it asks for flags on targets (a pid, a list of pids, `new' or `all') and for a route — which of the
%% tracer's messages come to it (lumin_tracer routes them: call messages to the call probes, send/receive
%% and process events to the probes watching those processes, or watching all). Flags are counted per target
%% and flag: releasing a holder removes only what no other holder still needs, and only where the tracer is
%% ours. Another tool's tracer (:dbg, recon) is never touched: a target it traces is refused, naming it.
%%
%% Its mailbox holds only these requests (the trace messages go to the tracer), so a flood never delays a
%% release. When the last holder goes, the tracer stops.
%%
%% A holder also tells it the trace patterns it set on functions (patterns/3): a probe removes them itself when
%% it ends, but one killed outright cannot, so when a holder goes down still holding, its patterns that no other
%% holder set too are removed here — after the helper processes that could set them again (a summary's sampler)
%% are gone.
-module(lumin_trace).
-behaviour(gen_server).

-export([start_link/0, acquire/4, release/1, release/2, patterns/3, tracer/0, call_probe_of/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(TIMEOUT, 30000).
%% A tracer that stops with more trace messages than this waiting is killed rather than drained (maybe_stop/2).
-define(BACKLOG_KILL, 10000).

%% @doc Start the owner, registered as lumin_trace (the agent starts it; tests may too).
start_link() -> gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% @doc Flags for the calling probe process (`Holder'): `Targets' ([pid() | new | all]), `Flags' (erlang:trace/3
%% flags, without the tracer), and `Route': `{calls, Name, MFAs, NoResult, Cut}' (the call messages of those
%% functions: call, return_from, exception_from, and return_to for a probe without results),
%% `{pids, Tags, Pids}' or `{all, Tags}' (Tags: the trace message tags it wants). Returns {ok, Tracer} or
%% {error, Text} with nothing set. `Counter' (a counters ref, index 1) counts what the tracer hands it.
-spec acquire(pid(), {[pid() | new | all], [atom()]}, term(), counters:counters_ref() | undefined) -> {ok, pid()} | {error, iodata()}.
acquire(Holder, {Targets, Flags}, Route, Counter) ->
    gen_server:call(?MODULE, {acquire, Holder, Targets, Flags, Route, Counter}, ?TIMEOUT).

%% @doc The trace patterns `Holder' has set, as {MFA, local | call_count | call_time}, and the processes of its
%% own that may set them again (`Helpers'): removed if it goes down without releasing. Replaces what it said
%% before; a holder that releases normally has removed its patterns itself.
-spec patterns(pid(), [{mfa(), local | call_count | call_time}], [pid()]) -> ok.
patterns(Holder, Patterns, Helpers) ->
    gen_server:call(?MODULE, {patterns, Holder, Patterns, Helpers}, ?TIMEOUT).

%% @doc Remove every flag `Holder' holds that no other holder needs, and its route; the tracer then hands it what
%% it still held for it and `{'$lumin', tracer_stopped, Tracer}'. Flags only (`flags_only'): the route stays,
%% so the holder still gets what was already traced.
-spec release(pid()) -> ok.
release(Holder) -> release(Holder, all).
release(Holder, What) ->
    case whereis(?MODULE) of
        undefined -> ok;
        _ -> try gen_server:call(?MODULE, {release, Holder, What}, ?TIMEOUT) catch exit:_ -> ok end
    end.

%% @doc The name of the call probe whose route takes `MFA', or none.
-spec call_probe_of(mfa()) -> binary() | none.
call_probe_of(MFA) ->
    case whereis(?MODULE) of
        undefined -> none;
        _ -> gen_server:call(?MODULE, {call_probe_of, MFA}, ?TIMEOUT)
    end.

%% @doc The tracer, or undefined when nothing is traced.
tracer() ->
    case whereis(?MODULE) of
        undefined -> undefined;
        _ -> gen_server:call(?MODULE, tracer, ?TIMEOUT)
    end.

%% ---- the owner ----------------------------------------------------------------------------------------
%% holds: Holder => {Targets, Flags, Monitor}; counts: {Target, Flag} => N.

init([]) ->
    process_flag(trap_exit, true),
    %% High priority: a watchdog or the node-wide guard removes a flooded probe's flags through this process,
    %% and that must happen at once, not after the flooded processes' turns. Its requests are few and short.
    process_flag(priority, high),
    {ok, #{tracer => undefined, holds => #{}, counts => #{}, routes => #{}, patterns => #{}}}.

handle_call({acquire, Holder, Targets, Flags, Route, Counter}, _From, S) ->
    try
        [refuse_foreign(T, maps:get(tracer, S)) || T <- Targets],
        S1 = ensure_tracer(S),
        T = maps:get(tracer, S1),
        lumin_tracer:route(T, Holder, Route, Counter),
        S2 = (add(Holder, Targets, Flags, S1))#{routes := (maps:get(routes, S1))#{Holder => Route}},
        try
            [set(Target, Flags, T) || Target <- Targets]
        catch error:badarg ->
                {reply, _, S3} = handle_call({release, Holder, all}, undefined, S2),
                throw({error, S3, "the process exited before it could be traced"})
        end,
        %% The agent's own processes are never traced: their events would feed the probes.
        [untrace_ours(Target, Flags, T) || Target <- Targets, Target =:= all orelse Target =:= new],
        {reply, {ok, T}, S2}
    catch
        throw:{error, S4, Msg} -> {reply, {error, Msg}, maybe_stop(S4)};
        throw:{error, Msg} -> {reply, {error, Msg}, maybe_stop(S)}
    end;
handle_call({release, Holder, What}, _From, S = #{holds := Hs, tracer := T}) ->
    case Hs of
        #{Holder := {Targets, Flags, Mon}} ->
            S1 = #{counts := Counts} = remove(Holder, Targets, Flags, S),
            [unset(Target, Flags, Counts, T) || Target <- Targets],
            case What of
                all ->
                    erlang:demonitor(Mon, [flush]),
                    lumin_tracer:unroute(T, Holder),
                    {reply, ok, maybe_stop(S1#{holds := maps:remove(Holder, Hs), routes := maps:remove(Holder, maps:get(routes, S1)),
                                               patterns := maps:remove(Holder, maps:get(patterns, S1))}, Holder)};
                flags_only ->
                    {reply, ok, S1#{holds := Hs#{Holder := {[], [], Mon}}}}
            end;
        _ -> {reply, ok, S}
    end;
handle_call({patterns, Holder, Patterns, Helpers}, _From, S = #{holds := Hs, patterns := Ps}) when is_map_key(Holder, Hs) ->
    {reply, ok, S#{patterns := Ps#{Holder => {Patterns, Helpers}}}};
handle_call({patterns, _Holder, _, _}, _From, S) ->
    {reply, ok, S};
handle_call(tracer, _From, S = #{tracer := T}) ->
    {reply, T, S};
handle_call({call_probe_of, MFA}, _From, S = #{routes := Routes}) ->
    {reply, case [Name || {calls, Name, MFAs, _, _} <- maps:values(Routes), lists:member(MFA, MFAs)] of
                [Name | _] -> Name;
                [] -> none
            end, S}.

handle_cast(_, S) -> {noreply, S}.

handle_info({'DOWN', _, process, Holder, _}, S = #{holds := Hs}) when is_map_key(Holder, Hs) ->
    %% Gone without releasing (killed): what it set is removed here.
    unpattern(Holder, S),
    {reply, ok, S1} = handle_call({release, Holder, all}, undefined, S),
    {noreply, S1};
handle_info(_, S) -> {noreply, S}.

terminate(_, S = #{holds := Hs}) ->
    lists:foldl(fun(H, Acc) -> {reply, ok, A1} = handle_call({release, H, all}, undefined, Acc), A1 end, S, maps:keys(Hs)),
    ok.

%% The patterns a holder that went down had set, but not those another holder set too, once its helpers are
%% gone (a helper linked to it dies with it; one that does not within a second is killed).
unpattern(Holder, #{patterns := Ps}) when is_map_key(Holder, Ps) ->
    {Patterns, Helpers} = maps:get(Holder, Ps),
    [begin
         Ref = erlang:monitor(process, H),
         receive {'DOWN', Ref, process, H, _} -> ok
         after 1000 -> exit(H, kill), receive {'DOWN', Ref, process, H, _} -> ok end
         end
     end || H <- Helpers],
    Others = lists:append([P || {H, {P, _}} <- maps:to_list(Ps), H =/= Holder]),
    [catch erlang:trace_pattern(MFA, false, [Flag]) || {MFA, Flag} <- Patterns, not lists:member({MFA, Flag}, Others)],
    ok;
unpattern(_, _) -> ok.

ensure_tracer(S = #{tracer := T}) when is_pid(T) -> S;
ensure_tracer(S) ->
    T = lumin_tracer:start(self(), counters:new(1, [write_concurrency])),
    link(T),
    %% What waits in the tracer's mailbox counts against the node-wide memory budget; the probe that ends for
    %% it is the one whose own processes hold the most (the tracer serves them all).
    lumin_guard:enlist(T, tracer, shared),
    S#{tracer := T}.

maybe_stop(S) -> maybe_stop(S, none).

%% When the last holder goes and a flood's backlog waits in the tracer, nobody needs it: the tracer is killed,
%% which frees the backlog at once (draining it would take seconds of a busy node's time and hold its memory
%% meanwhile), and the holder that went last is told how many trace messages that dropped, to count them.
maybe_stop(S = #{holds := Hs, tracer := T}, Last) when map_size(Hs) =:= 0, is_pid(T) ->
    unlink(T),
    case erlang:process_info(T, message_queue_len) of
        {message_queue_len, Q} when Q > ?BACKLOG_KILL ->
            exit(T, kill),
            is_pid(Last) andalso (Last ! {'$lumin', backlog_dropped, Q}),
            is_pid(Last) andalso (Last ! {'$lumin', tracer_stopped, T});
        _ -> lumin_tracer:stop(T)
    end,
    S#{tracer := undefined, counts := #{}};
maybe_stop(S, _) -> S.

add(Holder, Targets, Flags, S = #{holds := Hs, counts := C}) ->
    {Targets0, Flags0, Mon} = case Hs of
                                  #{Holder := {T0, F0, M}} -> {T0, F0, M};
                                  _ -> {[], [], erlang:monitor(process, Holder)}
                              end,
    C1 = lists:foldl(fun(K, Acc) -> maps:update_with(K, fun(N) -> N + 1 end, 1, Acc) end, C,
                     [{T, F} || T <- Targets, F <- Flags]),
    %% A holder that acquires twice holds the union.
    S#{holds := Hs#{Holder => {lists:usort(Targets0 ++ Targets), lists:usort(Flags0 ++ Flags), Mon}}, counts := C1}.

remove(_Holder, Targets, Flags, S = #{counts := C}) ->
    C1 = lists:foldl(fun(K, Acc) ->
                             case Acc of
                                 #{K := 1} -> maps:remove(K, Acc);
                                 #{K := N} -> Acc#{K := N - 1};
                                 _ -> Acc
                             end
                     end, C, [{T, F} || T <- Targets, F <- Flags]),
    S#{counts := C1}.

set(all, Flags, T) -> erlang:trace(all, true, [{tracer, T} | Flags]);
set(new, Flags, T) -> erlang:trace(new, true, [{tracer, T} | Flags]);
set(P, Flags, T) when is_pid(P) -> erlang:trace(P, true, [{tracer, T} | Flags]).

%% Flags nobody needs any more on this target, removed where the tracer is ours. A flag still held on `all'
%% stays everywhere; one still held on a pid stays on that pid.
unset(Target, Flags, Counts, T) ->
    Gone = [F || F <- Flags, not needed(Target, F, Counts)],
    Ours = {tracer, T},
    case {Target, Gone} of
        {_, []} -> ok;
        {all, _} ->
            [begin
                 Keep = [F || F <- Gone, maps:is_key({P, F}, Counts)],
                 catch erlang:trace(P, false, Gone -- Keep)
             end || P <- erlang:processes(), erlang:trace_info(P, tracer) =:= Ours],
            untrace_new(Gone -- [F || F <- Gone, maps:is_key({new, F}, Counts)], Ours);
        {new, _} -> untrace_new(Gone, Ours);
        {P, _} ->
            case erlang:trace_info(P, tracer) of
                Ours -> catch erlang:trace(P, false, Gone);
                _ -> ok
            end
    end,
    ok.

untrace_new([], _) -> ok;
untrace_new(Flags, Ours) ->
    case erlang:trace_info(new, tracer) of
        Ours -> erlang:trace(new, false, Flags);
        _ -> ok
    end.

needed(all, F, C) -> maps:is_key({all, F}, C);
needed(new, F, C) -> maps:is_key({new, F}, C) orelse maps:is_key({all, F}, C);
needed(P, F, C) -> maps:is_key({P, F}, C) orelse maps:is_key({all, F}, C).

untrace_ours(_, Flags, T) ->
    Ours = {tracer, T},
    [catch erlang:trace(P, false, Flags) || P <- [T, self() | [W || N <- [lumin_agent, lumin_guard], W <- [whereis(N)], is_pid(W)]],
                                            erlang:trace_info(P, tracer) =:= Ours],
    ok.

%% A target traced by another tool is refused, naming the tool's tracer; one traced by this agent is shared.
refuse_foreign(all, Ours) ->
    refuse_foreign(new, Ours),
    [refuse_foreign(P, Ours) || P <- erlang:processes()],
    ok;
refuse_foreign(new, Ours) ->
    case erlang:trace_info(new, tracer) of
        {tracer, []} -> ok;
        {tracer, Ours} -> ok;
        {tracer, Tr} -> foreign(Tr, "new processes are")
    end;
refuse_foreign(P, Ours) when is_pid(P) ->
    case erlang:trace_info(P, tracer) of
        {tracer, []} -> ok;
        {tracer, Ours} -> ok;
        {tracer, Tr} -> foreign(Tr, io_lib:format("~p~ts is", [P, name_suffix(P)]));
        undefined -> ok
    end.

foreign(Tr, What) ->
    throw({error, io_lib:format("~ts already traced by ~0p, which is not ElixirLumin's (:dbg, recon or another tool); a "
                                "process has one tracer and ElixirLumin does not change tracing it did not set up. Stop "
                                "the other tracer (e.g. :dbg.stop()) first.", [What, Tr])}).

name_suffix(P) ->
    case erlang:process_info(P, registered_name) of
        {registered_name, N} -> io_lib:format(" (~ts)", [N]);
        _ -> ""
    end.
