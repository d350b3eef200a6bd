%% @doc The probe kinds other than call probes: one process per probe, which sets up what its kind needs,
%% turns what it sees into rows of the kind's table (kernel/tables/schemas.ts, columns in that order) and
%% ships them to `Report' as columnar batches, under the budgets of lumin_budget, exactly as lumin_calls does:
%% `{lumin_event, probe_batch, #{name, node, kind, batch, from}}' answered by `{lumin_ack, Name}', and
%% `{lumin_event, probe_status, Summary}' when it arms, on every tick while armed, when it ends and once it
%% has ended (after its last batch).
%%
%% The kinds, and what each cannot do:
%%
%%   * `messages' (spec: `process' = "<0.12.0>", a registered name, "app:NAME" or "new"): legacy message
%%     tracing (send and 'receive', monotonic timestamps) of one process, of a running application's processes
%%     (those whose group leader is its master, with set_on_spawn so what they spawn is traced too), or of
%%     every process spawned from now on.
%%     One row per message sent or received; OTP protocols are recognised: `call' ('$gen_call', its call_id
%%     is the call's reference, aliases included), `reply' (a `{Tag, Reply}' whose tag matches a call seen
%%     earlier by the same watched process, with the latency since that call), `cast', `EXIT', `DOWN',
%%     `system', else `info'. Limits: a
%%     received message does not say who sent it, so from_pid is known only when the message carries it
%%     (calls, EXIT, DOWN, system, replies to calls seen); it is null otherwise. A process has one tracer:
%%     a process already traced by anything (a call probe, :dbg, recon) is refused.
%%   * `procs' (spec: optional `process', a pid, name or "app:NAME"): the `procs' trace flag, giving spawn, exit, link, unlink, register
%%     and unregister rows (spawn rows name the spawned process's MFA, seen through proc_lib and gen). Without
%%     a process it traces every process; with one, that process and its descendants: those alive at arm
%%     (linked processes whose parent it is, recursively) and those spawned later (every new process is
%%     traced and the ones outside the family are untraced on their first event). Links made to a traced
%%     process by an untraced one appear only from the traced side.
%%   * `state' (spec: `process'): a sys debug function (sys:install/3) in a gen_server, gen_statem or other
%%     process that answers sys, and the state read once at arm (in the process itself, so the first row's
%%     state_before is exact). gen_server: one row per call, cast, info or continue, with the state before
%%     and after and the reply, all exact. gen_statem: one row per event consumed or postponed, with the
%%     state names before and after (exact) and the reply; the debug events carry no data, so data after
%%     each event is read with a sys get_state request sent as the event is seen: under load it can already
%%     include later events. A postponed event shows twice (postponed, then handled). Other processes that
%%     answer sys (gen_event, proc_lib processes calling sys:handle_debug/4) report only the message that came
%%     in: one row per message, with the state after it read the same way as gen_statem's data, and no reply
%%     or duration. A process that does not answer sys within 1 s is refused.
%%   * `telemetry' (spec: `prefixes', ["shop.orders.stop" | "[:shop, :orders, :stop]"]): telemetry:attach_many/4
%%     on the named events. Despite the name, a prefix must be a FULL event name: :telemetry dispatches on
%%     exact names, so `[:shop, :orders]' catches only events named exactly that. Refused when the node has no
%%     :telemetry loaded.
%%   * `logs' (spec: `level', "warning"…): a :logger handler (id `lumin_log_probe', so one logs probe per node)
%%     at that level. Events the node's primary level filters out never reach any handler.
%%   * `metrics' (spec: `interval_ms', default 1000, at least 100): a timer on a fixed grid (start + k *
%%     interval; ticks missed while busy are skipped) sampling memory, process and port counts, run queue, scheduler utilisation (scheduler_wall_time, enabled for the probe's life), and
%%     reductions and io per second.
%%
%% Every kind counts its rows against the budgets (limit, time_ms, rate, buffer; mailbox and memory of the
%% tracer for trace kinds, of the probe process for the others) — and a watchdog process per probe enforces
%% rate, mailbox and memory even when the probe is flooded (see "the watchdog" below) — and ends ONCE: it removes exactly what it
%% set (its trace flags, only where the tracer is its own; its sys debug function; its telemetry or logger
%% handler; the scheduler_wall_time flag it enabled), drains what was already under way, sends its last
%% batch and its `ended' status. A watched process exiting ends the probe with why_ended `target_down'.
%% Callbacks that run inside other processes (the sys function, telemetry and logger handlers) check a flag
%% the probe clears when it ends and whether the probe is alive, so they go quiet — the sys function removes
%% itself — even when the probe was killed. Nothing typed by a user becomes an atom: names are resolved with
%% binary_to_existing_atom/2 and list_to_pid/1. The agent's own processes are never traced or watched.
-module(lumin_probe_kinds).
-behaviour(gen_server).

-export([arm/4, disarm/1, status/1, stop/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).
%% Callbacks that run in other processes: the sys debug function, the telemetry and the logger handler.
-export([sys_event/3, handle_event/4, log/2, view/2]).
%% The watchdog's loop (a process of its own).
-export([watchdog/1]).

-define(KINDS, [messages, procs, state, telemetry, logs, metrics]).
-define(MSG_FLAGS, [send, 'receive', monotonic_timestamp]).
-define(PROC_FLAGS, [procs, monotonic_timestamp]).
-define(LOG_HANDLER, lumin_log_probe).
-define(LOG_LEVELS, [emergency, alert, critical, error, warning, notice, info, debug]).
%% How long an ending probe waits for what is under way (tracer chunks, handler messages) before its last batch.
-define(DRAIN_MS, 500).
-define(SYS_TIMEOUT, 1000).
%% The least heap of a trace kind's probe while armed, in words (1.6 MB on a 64-bit node).
-define(TRACING_HEAP, 200000).
%% Mailbox and memory are also checked every this many events, not only on ticks.
-define(CHECK_EVERY, 1024).
%% Caches (names, outstanding calls, families) are cleared past this size.
-define(MAX_CACHE, 100000).
-define(MAX_FAMILY, 10000).

%% ---- API -------------------------------------------------------------------------------------------

%% @doc Arm a probe of `Kind' named `Name' that reports to `Report'. The probe watches its caller (the agent)
%% and cleans up when it goes. Info: #{kind, target, warnings}.
-spec arm(atom(), binary(), map(), pid()) -> {ok, pid(), map()} | {error, binary()}.
arm(Kind, Name, Spec, Report) when is_map(Spec) ->
    case lists:member(Kind, ?KINDS) of
        false ->
            {error, fmt("there is no probe kind ~p; the kinds are calls, ~ts", [Kind, join([atom_to_list(K) || K <- ?KINDS])])};
        true ->
            case gen_server:start(?MODULE, {Kind, Name, Spec, Report, self()}, [{timeout, 30000}]) of
                {ok, Pid} -> {ok, Pid, gen_server:call(Pid, info, 30000)};
                {error, {shutdown, {lumin_error, Msg}}} -> {error, Msg};
                {error, Other} -> {error, fmt("the ~p probe could not be armed: ~0p", [Kind, Other])}
            end
    end;
arm(_, _, _, _) ->
    {error, <<"a probe spec must be a map">>}.

%% @doc End the probe (why_ended `disarmed'): everything it set is removed and its last batch and `ended'
%% status are sent before this returns. The process stays, answering status/1, until stop/1.
-spec disarm(pid()) -> ok.
disarm(Pid) ->
    try gen_server:call(Pid, disarm, 30000) catch exit:_ -> ok end.

-spec status(pid()) -> map() | undefined.
status(Pid) ->
    try gen_server:call(Pid, status, 5000) catch exit:_ -> undefined end.

%% @doc Remove everything the probe set (ending it first when it is still armed), then stop it. Synchronous.
-spec stop(pid()) -> ok.
stop(Pid) ->
    try gen_server:stop(Pid, normal, 30000) catch exit:_ -> ok end.

%% ---- gen_server ---------------------------------------------------------------------------------------

init({Kind, Name, Spec, Report, Owner}) ->
    process_flag(trap_exit, true),
    %% Events waiting in the mailbox are not copied by each garbage collection; a trace kind also starts with
    %% room for a chunk of trace messages and the rows made of it (fewer collections under a flood), and
    %% gives that room back when it has ended (release/1).
    process_flag(message_queue_data, off_heap),
    _ = [process_flag(min_heap_size, ?TRACING_HEAP) || Kind =:= messages orelse Kind =:= procs],
    Now = erlang:monotonic_time(millisecond),
    S0 = #{kind => Kind, name => Name, report => Report, owner => Owner, target => target_text(Kind, Spec),
           budget => undefined, state => armed, seen => 0, dropped => 0,
           dropped_unsent => 0, rows => lumin_columns:new(columns(Kind)), in_flight => 0, armed_at => Now,
           last_tick => Now, tick_seen => 0, rate => 0.0, why => undefined, detail => undefined,
           offset_ns => erlang:time_offset(nanosecond), names => #{}, warnings => [], ref => make_ref(),
           off => atomics:new(3, []), counter => counters:new(2, [write_concurrency]), watchdog => undefined},
    try
        put('$lumin_cut', lumin_budget:cut_bytes(Spec)),
        setup(Kind, Spec, S0#{budget := lumin_budget:resolve(budget_spec(Spec))})
    of
        S1 ->
            erlang:monitor(process, Owner),
            erlang:send_after(lumin_budget:tick_ms(), self(), {'$lumin', tick}),
            erlang:send_after(maps:get(time_ms, maps:get(budget, S1)), self(), {'$lumin', time_up}),
            report_status(S1),
            {ok, start_watchdog(S1)}
    catch
        throw:{error, Msg} -> {stop, {shutdown, {lumin_error, text_bin(Msg)}}};
        Class:Reason:Stack ->
            {stop, {shutdown, {lumin_error, fmt("the ~p probe could not be armed: ~p:~0P (in ~0P)",
                                                [Kind, Class, Reason, 20, lists:sublist(Stack, 2), 20])}}}
    end.

handle_call(info, _From, S = #{kind := K, target := T, warnings := W}) ->
    {reply, #{kind => K, target => T, warnings => W}, S};
handle_call(status, _From, S) ->
    {reply, summary(S), S};
handle_call(disarm, _From, S) ->
    done({reply, ok, drain_now(end_probe(disarmed, <<"disarmed by the user">>, S))}).

%% A probe that has ended leaves no process behind: it gives its last summary to its owner (the agent, which
%% answers for it from then on) and stops.
done({reply, R, S = #{state := ended, owner := Owner}}) ->
    Owner ! {'$lumin', probe_ended, self(), summary(S)},
    {stop, normal, R, S};
done({noreply, S = #{state := ended, owner := Owner}}) ->
    Owner ! {'$lumin', probe_ended, self(), summary(S)},
    {stop, normal, S};
done(R) -> R.

handle_cast(_, S) -> {noreply, S}.

handle_info({'DOWN', _, process, Owner, _}, S = #{owner := Owner}) ->
    {stop, normal, S};
handle_info(Msg, S) ->
    done({noreply, event(Msg, heed_watchdog(S))}).

terminate(_Reason, #{state := ended}) ->
    ok;
terminate(_Reason, S) ->
    _ = drain_now(end_probe(disarmed, <<"the probe was stopped">>, S)),
    ok.

%% ---- setting up, per kind -----------------------------------------------------------------------------

setup(messages, Spec, S) ->
    S1 = S#{calls => #{}, checked => #{}},
    case app_target(maps:get(process, Spec, undefined)) of
        {app, App, Pids} ->
            %% set_on_spawn: the processes the application's processes spawn from now on are traced too.
            start_tracing({app, App, Pids}, [set_on_spawn | ?MSG_FLAGS], S1);
        none ->
            Tracee = resolve_process(maps:get(process, Spec, undefined), true),
            refuse_ours(Tracee, S),
            Warn = [<<"every process spawned from now on is traced (send and receive): keep --limit low on a busy node">>
                    || Tracee =:= new],
            start_tracing(Tracee, ?MSG_FLAGS, S1#{warnings := Warn})
    end;
setup(procs, Spec, S0) ->
    %% The names registered now: a process that exits before its first row is read still has its name.
    S = S0#{names := maps:from_list([{P, N} || N <- registered(), P <- [whereis(N)], is_pid(P)])},
    case maps:get(process, Spec, undefined) of
        P when P =:= undefined; P =:= <<>>; P =:= <<"all">> ->
            start_tracing(all, ?PROC_FLAGS, S#{checked => #{}});
        P ->
            {Pid, Members} = case app_target(P) of
                                 %% An application: its processes now, and those they spawn.
                                 {app, _, [First | _] = Pids} -> {First, Pids};
                                 none ->
                                     Pid0 = resolve_process(P, false),
                                     refuse_ours(Pid0, S),
                                     {Pid0, family_of(Pid0)}
                             end,
            Family = maps:from_list([{M, true} || M <- Members]),
            start_tracing({family, Pid, Members}, ?PROC_FLAGS, S#{family => Family})
    end;
setup(state, Spec, S = #{ref := Ref, off := Off, counter := C}) ->
    Pid = resolve_process(maps:get(process, Spec, undefined), false),
    refuse_ours(Pid, S),
    Behaviour = sys_behaviour(Pid),
    FuncId = {?MODULE, Ref},
    %% What of the state is shipped, decided in the watched process itself: the part at --path, cut to the
    %% probe's cut size, so a 40 MB state is never copied out of it.
    Path = state_path(maps:get(path, Spec, undefined)),
    Cut = lumin_budget:cut_bytes(Spec),
    View = {Path, Cut},
    case catch sys:install(Pid, {FuncId, fun ?MODULE:sys_event/3, {self(), Ref, Off, C, View}}, ?SYS_TIMEOUT) of
        ok -> ok;
        Err -> throw({error, io_lib:format("could not install a sys debug function in ~ts: ~0p", [pid_text(Pid), Err])})
    end,
    %% The state is read inside the process, after the function is installed: events it reports before this
    %% message happened before the state we start from, and are left out. gen_event (and others) apply a
    %% replace_state fun to each handler, not to the whole state: they are asked with a get_state request
    %% whose answer comes in order with the events.
    Self = self(),
    Replace = case lists:member(Behaviour, [gen_server, gen_statem]) of
                  %% sys:replace_state/3 answers with the whole state: the copy is collected at once, so a 40 MB
                  %% state does not stay in this probe's heap.
                  %% The fun throws once it has sent the view: the state stays as it was, and the answer is that
                  %% small error, not the whole state.
                  true -> R0 = case catch sys:replace_state(Pid, fun(St) -> Self ! {'$lumin', state0, Ref, view(St, View)}, throw(lumin_state0) end, ?SYS_TIMEOUT) of
                                   {'EXIT', {{callback_failed, _, {throw, lumin_state0}}, _}} -> ok;
                                   {'EXIT', _} = E -> E;
                                   _ -> ok
                               end,
                          erlang:garbage_collect(),
                          R0;
                  false -> Pid ! {system, {Self, {'$lumin_state0', Ref}}, get_state}, ok
              end,
    case Replace of
        {'EXIT', _} ->
            case catch Self ! {'$lumin', state0, Ref, view(sys:get_state(Pid, ?SYS_TIMEOUT), View)} of
                {'EXIT', Why} ->
                    catch sys:remove(Pid, FuncId, ?SYS_TIMEOUT),
                    throw({error, io_lib:format("~ts did not give its state: ~0p", [pid_text(Pid), Why])});
                _ -> erlang:garbage_collect()
            end;
        _ -> ok
    end,
    Warn = [<<"gen_statem: the debug events carry state names, not data; data after each event is read right after "
              "it, so under load it may include later events">> || Behaviour =:= gen_statem] ++
           [fmt("~p: its debug events say which message came in, not what it returned; the state after each message "
                "is read right after it (so under load it may include later messages), and the time it took is not "
                "known", [Behaviour]) || Behaviour =/= gen_statem, Behaviour =/= gen_server],
    S#{tracee => Pid, pname => reg_name(Pid), mon => erlang:monitor(process, Pid), func_id => FuncId, view => View,
       behaviour => Behaviour, synced => false, cur => undefined, cur_name => undefined, pending => undefined,
       awaiting => queue:new(), seq => 0, warnings := Warn};
setup(telemetry, Spec, S = #{ref := Ref, off := Off, counter := C}) ->
    case code:is_loaded(telemetry) =/= false andalso erlang:function_exported(telemetry, attach_many, 4) of
        true -> ok;
        false -> throw({error, ["this node has no :telemetry library loaded (telemetry:attach_many/4 is not available on ",
                                atom_to_list(node()), "); a telemetry probe needs an application that emits :telemetry events"]})
    end,
    Events = case maps:get(prefixes, Spec, []) of
                 L when is_list(L), L =/= [] -> lists:usort([parse_event(P) || P <- L]);
                 B when is_binary(B) -> [parse_event(B)];
                 _ -> throw({error, "a telemetry probe needs at least one event name, e.g. [:my_app, :repo, :query]"})
             end,
    Id = {?MODULE, Ref},
    Config = #{probe => self(), ref => Ref, off => Off, id => Id, counter => C},
    case catch telemetry:attach_many(Id, Events, fun ?MODULE:handle_event/4, Config) of
        ok -> ok;
        Err -> throw({error, io_lib:format("telemetry did not attach the probe's handler: ~0p (is the :telemetry "
                                           "application started?)", [Err])})
    end,
    S#{handler => Id, events => Events, elixir => elixir_node(),
       warnings := [<<"telemetry dispatches on exact event names: each prefix must be a full event name">>]};
setup(logs, Spec, S = #{ref := Ref, off := Off, counter := C}) ->
    Level = parse_level(maps:get(level, Spec, <<"info">>)),
    case lists:member(?LOG_HANDLER, logger:get_handler_ids()) of
        true -> throw({error, ["a logs probe is already armed on ", atom_to_list(node()),
                               " (one at a time, logger handler lumin_log_probe); disarm it first"]});
        false -> ok
    end,
    Config = #{level => Level, filter_default => log, filters => [],
               config => #{probe => self(), ref => Ref, off => Off, counter => C}},
    case logger:add_handler(?LOG_HANDLER, ?MODULE, Config) of
        ok -> ok;
        {error, Why} -> throw({error, io_lib:format("logger did not add the probe's handler: ~0p", [Why])})
    end,
    S#{level => Level};
setup(metrics, Spec, S) ->
    Interval = case maps:get(interval_ms, Spec, 1000) of
                   N when is_number(N) -> max(100, round(N));
                   _ -> 1000
               end,
    _ = erlang:system_flag(scheduler_wall_time, true),
    Start = erlang:monotonic_time(millisecond),
    next_sample(S#{interval => Interval, start_ms => Start, tick => 0, last => counters()}).

%% ---- resolving what the user wrote ----------------------------------------------------------------

resolve_process(P, _) when is_pid(P) -> local_alive(P, pid_text(P));
resolve_process(Bin, AllowNew) when is_binary(Bin) ->
    case string:trim(Bin) of
        <<>> -> throw({error, "no process given: write a pid such as <0.123.0> or a registered name"});
        <<"new">> when AllowNew -> new;
        <<"new">> -> throw({error, "`new` is only for message probes: this kind watches one existing process"});
        <<"#PID", Rest/binary>> -> parse_pid(Rest);
        <<"<", _/binary>> = T -> parse_pid(T);
        T -> registered(T)
    end;
resolve_process(undefined, _) ->
    throw({error, "no process given: write a pid such as <0.123.0> or a registered name"});
resolve_process(Other, _) ->
    throw({error, io_lib:format("~0p does not name a process: write a pid such as <0.123.0> or a registered name", [Other])}).

%% "app:NAME": the processes of a running application (those whose group leader is its master), without
%% the agent's. `none' when the text names no application.
app_target(<<"app:", Name0/binary>>) ->
    Name = string:trim(case Name0 of <<":", R/binary>> -> R; _ -> Name0 end),
    App = case existing_atom(Name) of
              undefined -> throw({error, ["no application named ", Name, " on ", atom_to_list(node())]});
              A -> A
          end,
    case lists:keymember(App, 1, application:which_applications()) of
        false -> throw({error, ["the application ", Name, " is not running on ", atom_to_list(node()),
                                " (%apps lists the applications)"]});
        true -> ok
    end,
    case [P || P <- erlang:processes(), application:get_application(P) =:= {ok, App},
               not agent_process(P, #{})] of
        [] -> throw({error, ["the application ", Name, " has no processes on ", atom_to_list(node())]});
        Pids -> {app, App, Pids}
    end;
app_target(_) -> none.

parse_pid(T) ->
    case catch list_to_pid(binary_to_list(T)) of
        P when is_pid(P) -> local_alive(P, T);
        _ -> throw({error, ["`", T, "` is not a pid: write it as <0.123.0>"]})
    end.

local_alive(P, Text) ->
    case node(P) =:= node() of
        false -> throw({error, ["the pid ", Text, " belongs to another node; probe it on that node"]});
        true -> ok
    end,
    case is_process_alive(P) of
        true -> P;
        false -> throw({error, ["no process ", Text, " is alive on ", atom_to_list(node())]})
    end.

%% A registered name, as Elixir or Erlang writes it: MyApp.Worker, :my_worker, my_worker.
registered(T0) ->
    T = unquote(case T0 of <<":", R/binary>> -> R; _ -> T0 end),
    Candidates = case T of
                     <<C, _/binary>> when C >= $A, C =< $Z -> [T, <<"Elixir.", T/binary>>];
                     _ -> [T]
                 end,
    Found = [P || C <- Candidates, A <- [existing_atom(C)], A =/= undefined, P <- [whereis(A)], is_pid(P)],
    case Found of
        [P | _] -> P;
        [] -> throw({error, ["no process is registered as ", T0, " on ", atom_to_list(node()),
                             ": give a pid such as <0.123.0> or a registered name"]})
    end.

unquote(<<"\"", R/binary>>) when byte_size(R) > 0 -> binary:part(R, 0, byte_size(R) - 1);
unquote(B) -> B.

existing_atom(B) ->
    try binary_to_existing_atom(B, utf8) catch error:badarg -> undefined end.

%% The family of a process at arm time: it and its descendants (linked processes whose parent it is).
family_of(Pid) -> family([Pid], #{Pid => true}).

family([], Acc) -> maps:keys(Acc);
family(_, Acc) when map_size(Acc) >= ?MAX_FAMILY -> maps:keys(Acc);
family([P | Rest], Acc) ->
    Links = case erlang:process_info(P, links) of
                {links, L} -> [C || C <- L, is_pid(C), node(C) =:= node(), not maps:is_key(C, Acc)];
                undefined -> []
            end,
    Children = [C || C <- Links, erlang:process_info(C, parent) =:= {parent, P}],
    family(Children ++ Rest, lists:foldl(fun(C, A) -> A#{C => true} end, Acc, Children)).

%% Which OTP behaviour runs the process, asked without a reply that carries its state (sys:get_status/1
%% answers with the state: a 40 MB copy, and a message probe on the same process would see it): it must answer a
%% small sys request within 1 s, and its behaviour is read from where it waits; only a process that is busy in a
%% callback right now is asked for its status.
sys_behaviour(Pid) ->
    case catch sys:statistics(Pid, get, ?SYS_TIMEOUT) of
        {ok, _} ->
            case erlang:process_info(Pid, current_function) of
                {current_function, {M, _, _}} when M =:= gen_server; M =:= gen_statem; M =:= gen_event -> M;
                _ -> status_behaviour(Pid)
            end;
        {'EXIT', {timeout, _}} ->
            throw({error, io_lib:format("~ts did not answer a sys request within 1 s: a state probe needs a gen_server, "
                                        "gen_statem or other OTP process that handles system messages (and is not stuck)",
                                        [pid_text(Pid)])});
        {'EXIT', {noproc, _}} -> throw({error, io_lib:format("~ts exited", [pid_text(Pid)])});
        Other -> throw({error, io_lib:format("~ts did not answer sys as an OTP process does: ~0P", [pid_text(Pid), Other, 10])})
    end.

status_behaviour(Pid) ->
    case catch sys:get_status(Pid, ?SYS_TIMEOUT) of
        {status, _, {module, M}, _} -> M;
        Other -> throw({error, io_lib:format("~ts did not answer sys as an OTP process does: ~0P", [pid_text(Pid), Other, 10])})
    end.

%% "shop.orders.stop", "[:shop, :orders, :stop]", "[shop, orders, stop]" → [shop, orders, stop], if those atoms exist.
parse_event(P) when is_binary(P) ->
    T = string:trim(P),
    Parts = case T of
                <<"[", _/binary>> -> string:split(string:trim(T, both, "[]"), ",", all);
                _ -> string:split(T, ".", all)
            end,
    Names = [unquote(case string:trim(X) of <<":", R/binary>> -> R; R -> R end) || X <- Parts],
    case [N || N <- Names, N =/= <<>>] of
        [] -> throw({error, ["`", P, "` is not an event name: write it as [:my_app, :repo, :query] or my_app.repo.query"]});
        NonEmpty ->
            [case existing_atom(N) of
                 undefined -> throw({error, ["no telemetry event named ", P, " can exist on ", atom_to_list(node()), ": `", N,
                                             "` is not an atom there. Check the spelling; each prefix must be a full event name"]});
                 A -> A
             end || N <- NonEmpty]
    end;
parse_event(L) when is_list(L) ->
    case lists:all(fun is_atom/1, L) of
        true -> L;
        false -> parse_event(text_bin(L))
    end;
parse_event(Other) ->
    throw({error, io_lib:format("~0p is not an event name", [Other])}).

parse_level(L) when is_atom(L) -> parse_level(atom_to_binary(L, utf8));
parse_level(B) when is_binary(B) ->
    T = case string:lowercase(string:trim(B)) of
            <<":", R/binary>> -> R;
            R -> R
        end,
    Named = [{atom_to_binary(L, utf8), L} || L <- ?LOG_LEVELS] ++ [{<<"warn">>, warning}, {<<"all">>, all}],
    case lists:keyfind(T, 1, Named) of
        {_, Level} -> Level;
        false -> throw({error, ["`", B, "` is not a log level: use one of ", join([atom_to_list(L) || L <- ?LOG_LEVELS])]})
    end;
parse_level(Other) ->
    throw({error, io_lib:format("~0p is not a log level", [Other])}).

budget_spec(Spec) ->
    case maps:get(budgets, Spec, undefined) of
        B when is_map(B) -> maps:merge(Spec, B);
        _ -> Spec
    end.

target_text(Kind, Spec) ->
    case maps:get(target, Spec, undefined) of
        T when is_binary(T) -> T;
        T when is_list(T) -> unicode:characters_to_binary(T);
        _ -> default_target(Kind, Spec)
    end.

default_target(messages, Spec) -> text(maps:get(process, Spec, <<>>));
default_target(state, Spec) -> text(maps:get(process, Spec, <<>>));
default_target(procs, Spec) -> text(maps:get(process, Spec, <<"all processes">>));
default_target(telemetry, Spec) -> text(maps:get(prefixes, Spec, <<>>));
default_target(logs, Spec) -> text(maps:get(level, Spec, <<"info">>));
default_target(metrics, _) -> <<"node metrics">>.

text(B) when is_binary(B) -> B;
text(P) when is_pid(P) -> pid_text(P);
text(L) when is_list(L) -> try text_bin(lists:join(", ", L)) catch _:_ -> fmt("~0p", [L]) end;
text(T) -> fmt("~0p", [T]).

%% ---- refusing -----------------------------------------------------------------------------------------

refuse_ours(P, S) when is_pid(P) ->
    case agent_process(P, S) of
        true -> throw({error, [pid_text(P), " belongs to the ElixirLumin agent; probing it would feed the probe its own events"]});
        false -> ok
    end;
refuse_ours(_, _) -> ok.

%% The agent's own processes, which are never traced: their events would feed the probes.
agent_process(P, S) ->
    P =:= self() orelse P =:= maps:get(tracer, S, undefined) orelse lumin_lib:agent_process(P).

%% ---- tracing (messages, procs) -----------------------------------------------------------------------

%% Trace flags through lumin_trace, which owns the node's one tracer and shares it with every other probe:
%% a message, process and call probe on the same processes work together, each getting its own events.
start_tracing(Tracee, Flags, S = #{kind := Kind, counter := C}) ->
    Tags = case Kind of
               messages -> [send, send_to_non_existing_process, 'receive'];
               procs -> [spawn, spawned, exit, link, unlink, getting_linked, getting_unlinked, register, unregister]
           end,
    {Targets, Route} = case Tracee of
                           new -> {[new], {all, Tags}};
                           all -> {[all], {all, Tags}};
                           {family, _, Members} -> {Members ++ [new], {all, Tags}};
                           {app, _, Pids} -> {Pids, {all, Tags}};
                           Pid when is_pid(Pid) -> {[Pid], {pids, Tags, [Pid]}}
                       end,
    T = case lumin_trace:acquire(self(), {Targets, Flags}, Route, C) of
            {ok, Tr} -> Tr;
            {error, Msg} -> throw({error, Msg})
        end,
    S1 = S#{tracer => T, tracee => Tracee, flags => Flags},
    case Tracee of
        P1 when is_pid(P1) -> S1#{mon => erlang:monitor(process, P1)};
        _ -> S1
    end.

%% This probe's flags off one process (an agent process, or one outside a --procs family); timestamps stay,
%% as other probes may trace the same process.
untrace(P, #{tracer := T, flags := Flags}) ->
    case erlang:trace_info(P, tracer) of
        {tracer, T} -> catch erlang:trace(P, false, Flags -- [monotonic_timestamp]), ok;
        _ -> ok
    end.

%% Remove our flags (only what no other probe needs), make sure every trace message generated so far reached
%% the tracer, and let it hand on what it holds for this probe: `tracer_stopped' follows.
stop_tracing(S) ->
    lumin_trace:release(self(), flags_only),
    Ref = erlang:trace_delivered(all),
    receive {trace_delivered, all, Ref} -> ok after 1000 -> ok end,
    lumin_trace:release(self()),
    S.

%% ---- events -------------------------------------------------------------------------------------------

event({'$lumin', tick}, S = #{state := St}) ->
    case St of
        ended -> S;
        _ ->
            erlang:send_after(lumin_budget:tick_ms(), self(), {'$lumin', tick}),
            tick(S)
    end;
event({'$lumin', time_up}, S = #{budget := #{time_ms := MaxT}}) ->
    end_probe(time, io_lib:format("time budget of ~.1f s spent", [MaxT / 1000]), S);
event({lumin_ack, Name}, S = #{name := Name, in_flight := F}) ->
    S#{in_flight := max(0, F - 1)};
%% After the watchdog stopped a flood at its source, what was already queued is dropped (and counted), fast.
event({'$lumin', chunk, Msgs}, S = #{flooded := true, state := ending}) -> drop(length(Msgs), S);
%% Ending is bounded: what is still queued ?DRAIN_MS after the source was stopped is dropped, counted, and the
%% probe ends now (a drain that kept turning chunks into rows never finished while a flood went on).
event({'$lumin', chunk, Msgs}, S = #{state := ending, drain_until := Until}) when is_integer(Until) ->
    case erlang:monotonic_time(millisecond) >= Until of
        true -> finalize(drop_queued(drop(length(Msgs), S)));
        false -> event_chunk(Msgs, S)
    end;
event({'$lumin', chunk, Msgs}, S) -> event_chunk(Msgs, S);
event({'$lumin', Tag, Ref, _, _}, S = #{flooded := true, state := ending, ref := Ref}) when Tag =:= sys -> drop(1, S);
event({'$lumin', Tag, Ref, _}, S = #{flooded := true, state := ending, ref := Ref}) when Tag =:= log -> drop(1, S);
event({'$lumin', telemetry, Ref, _, _, _, _, _}, S = #{flooded := true, state := ending, ref := Ref}) -> drop(1, S);
%% The tracer was killed with a flood's backlog in it (lumin_trace): what it held is dropped, counted here.
event({'$lumin', backlog_dropped, N}, S = #{state := ending}) -> drop(N, S);
event({'$lumin', tracer_stopped, _}, S = #{state := ending}) -> finalize(S);
event({'$lumin', drained}, S = #{state := ending}) ->
    %% A state probe still waiting for gen_statem data finishes when the last answer comes.
    case maps:get(awaiting, S, undefined) of
        undefined -> finalize(S);
        Q -> case queue:is_empty(Q) of
                 true -> finalize(S);
                 false -> S#{drained => true}
             end
    end;
event({'$lumin', drain_timeout}, S = #{state := ending}) -> finalize(S);
event({{'$lumin_state0', Ref}, Reply}, S = #{ref := Ref}) ->
    %% A get_state request is answered with the state itself, or {error, {callback_failed, ...}}.
    case Reply of
        {error, {callback_failed, _, _}} -> end_probe(target_down, io_lib:format("~ts did not give its state: ~0P", [pid_text(maps:get(tracee, S)), Reply, 10]), S);
        St -> event({'$lumin', state0, Ref, St}, S)
    end;
event({'$lumin', state0, Ref, St}, S = #{ref := Ref, behaviour := B}) ->
    case {B, St} of
        {gen_statem, {Name, Data}} -> S#{synced := true, cur_name := Name, cur := Data};
        _ -> S#{synced := true, cur := St}
    end;
event({'$lumin', sys, Ref, TS, Ev}, S = #{ref := Ref, synced := true, state := St, behaviour := B}) when St =/= ended ->
    case B of
        gen_statem -> sm_event(Ev, TS, S);
        gen_server -> srv_event(Ev, TS, S);
        _ -> other_event(Ev, TS, S)
    end;
event({{'$lumin_data', Ref}, Reply}, S = #{ref := Ref, awaiting := Q}) ->
    case queue:out(Q) of
        {{value, E}, Q1} ->
            S1 = awaited_row(E, Reply, S#{awaiting := Q1}),
            case maps:get(drained, S1, false) andalso queue:is_empty(Q1) of
                true -> finalize(S1);
                false -> S1
            end;
        {empty, _} -> S
    end;
event({'$lumin', telemetry, Ref, TS, Pid, Ev, Meas, Meta}, S = #{ref := Ref, state := St}) when St =/= ended ->
    emit([node(), us(TS, S), Pid, event_text(Ev, S), term(Meas), term(Meta)], S);
event({'$lumin', log, Ref, Ev}, S = #{ref := Ref, state := St}) when St =/= ended ->
    emit(log_row(Ev), S);
event({'$lumin', sample}, S = #{state := armed}) ->
    {Row, S1} = sample(S),
    emit(Row, next_sample(S1));
event({'DOWN', Mon, process, Pid, Reason}, S = #{mon := Mon, state := St}) when St =/= ended ->
    S1 = target_gone(S),
    end_probe(target_down, io_lib:format("the watched process ~ts exited: ~0P", [pid_text(Pid), Reason, 20]), S1);
event(_, S) ->
    S.

event_chunk(Msgs, S = #{kind := messages, state := St}) when St =/= ended ->
    %% The chunk's rows first (newest first, as the tracer hands them on), then counted and added at once.
    {S1, Rows} = lists:foldr(fun msg_row/2, {S, []}, Msgs),
    emit_many(lists:reverse(Rows), S1);
event_chunk(Msgs, S = #{state := St}) when St =/= ended ->
    lists:foldr(fun on_trace/2, S, Msgs);
event_chunk(_, S) -> S.

%% The chunks already in this process's mailbox, counted as dropped.
drop_queued(S) ->
    receive {'$lumin', chunk, Msgs} -> drop_queued(drop(length(Msgs), S))
    after 0 -> S
    end.

on_trace(Msg, S = #{kind := messages}) ->
    case msg_event(Msg, S) of
        {row, Row, S1} -> emit(Row, S1);
        S1 -> S1
    end;
on_trace(Msg, S = #{kind := procs}) -> proc_event(Msg, S).

%% ---- messages ------------------------------------------------------------------------------------------

msg_event({trace_ts, Pid, send, Msg, To, TS}, S) -> message(send, Pid, To, Msg, TS, S);
msg_event({trace_ts, Pid, send_to_non_existing_process, Msg, To, TS}, S) -> message(send, Pid, To, Msg, TS, S);
%% A `receive ... after' that timed out: the VM reports it as receiving `timeout'. Its own row kind (no sender,
%% no protocol), so that a server polling with timeouts does not look like one flooded with messages.
msg_event({trace_ts, Pid, 'receive', timeout, TS}, S0) ->
    case skip_ours(Pid, S0) of
        {true, S} -> S;
        {false, S} ->
            {Name, S1} = name_of(Pid, S),
            {row, {node(), us(TS, S1), timeout, undefined, undefined, Pid, Name, timeout, undefined, undefined,
                   term(timeout), 1}, S1}
    end;
msg_event({trace_ts, Pid, 'receive', Msg, TS}, S) -> message('receive', Pid, undefined, Msg, TS, S);
msg_event(_, S) -> S.

msg_row(Msg, {S, Rows}) ->
    case msg_event(Msg, S) of
        {row, Row, S1} -> {S1, [Row | Rows]};
        S1 -> {S1, Rows}
    end.

message(Dir, Pid, To, Msg, TS, S0) ->
    case skip_ours(Pid, S0) of
        {true, S} -> S;
        {false, S} ->
            {Proto, CallId, Latency, Peer, S1} = protocol(Dir, Pid, Msg, To, TS, S),
            {From, {ToPid, ToName0}} =
                case Dir of
                    send when Peer =/= undefined -> {Pid, {Peer, undefined}};
                    send -> {Pid, receiver(To)};
                    'receive' -> {Peer, {Pid, undefined}}
                end,
            %% A message to or from the agent (another probe's sys hook reporting, its sys requests) is the
            %% tooling's, not the application's.
            case ours(From, S1) orelse ours(ToPid, S1) orelse our_reply(Dir, Msg) of
                true -> our_request(Dir, Msg), S1;
                false -> message_row(Dir, From, ToPid, ToName0, Proto, CallId, Latency, Msg, TS, S1)
            end
    end.

message_row(Dir, From, ToPid, ToName0, Proto, CallId, Latency, Msg, TS, S1) ->
    begin
            {FromName, S2} = name_of(From, S1),
            {ToName, S3} = case ToName0 of
                               undefined -> name_of(ToPid, S2);
                               _ -> {ToName0, S2}
                           end,
            Row = {node(), us(TS, S3), Dir, From, FromName, ToPid, ToName, Proto, CallId, Latency, term(Msg),
                   min(erts_debug:flat_size(Msg), 16#7fffffff)},
            {row, Row, S3}
    end.

%% A request the agent made of the watched process (a sys request, a call): its reply is the agent's too, and
%% is recognised by its tag (OTP 25 replies go to an alias, not to the agent's pid).
our_request('receive', {Sys, {_, Tag}, _}) when Sys =:= system; Sys =:= '$gen_call' ->
    case tag_key(Tag) of
        none -> ok;
        Key -> put('$ours_tags', put_bounded(Key, true, case get('$ours_tags') of undefined -> #{}; M -> M end))
    end;
our_request(_, _) -> ok.

our_reply(send, {Tag, _}) ->
    case get('$ours_tags') of
        #{} = M when map_size(M) > 0 ->
            Key = tag_key(Tag),
            case maps:is_key(Key, M) of
                true -> put('$ours_tags', maps:remove(Key, M)), true;
                false -> false
            end;
        _ -> false
    end;
our_reply(_, _) -> false.

%% Whether a local pid is one of the agent's processes (cached in the process dictionary, at most ?MAX_CACHE pids).
ours(P, _S) when is_pid(P), node(P) =:= node() ->
    Cache = case get('$ours') of
                undefined -> #{};
                C -> C
            end,
    case Cache of
        #{P := O} -> O;
        _ ->
            O = P =:= self() orelse lumin_lib:agent_process(P),
            put('$ours', put_bounded(P, O, Cache)),
            O
    end;
ours(_, _) -> false.

%% Where a send went, {ToPid, ToName}: a name sent to is resolved to its pid where it is registered here.
receiver(Name) when is_atom(Name) ->
    case whereis(Name) of
        undefined -> {Name, Name};
        P -> {P, Name}
    end;
receiver({Name, Node}) when is_atom(Name), is_atom(Node) -> {fmt("~ts@~ts", [Name, Node]), Name};
receiver(To) -> {To, undefined}.

%% Calls waiting for their reply are keyed by the call's reference and the watched process that saw the call:
%% when both sides are watched (app:NAME, new), each side pairs its own call and reply.
protocol(Dir, Pid, {'$gen_call', {From, Tag}, _}, To, TS, S = #{calls := Calls}) ->
    case tag_key(Tag) of
        none -> {call, undefined, undefined, peer_of_call(Dir, From, To), S};
        Key ->
            Peer = peer_of_call(Dir, From, To),
            Calls1 = case map_size(Calls) >= ?MAX_CACHE of true -> #{}; false -> Calls end,
            {call, call_id(Key), undefined, case Dir of 'receive' -> From; send -> undefined end,
             S#{calls := Calls1#{{Key, Pid} => {Dir, TS, Peer}}}}
    end;
protocol(_, _, {'$gen_cast', _}, _, _, S) -> {cast, undefined, undefined, undefined, S};
protocol(_, _, {'EXIT', From, _}, _, _, S) -> {'EXIT', undefined, undefined, pid_or_undefined(From), S};
protocol(_, _, {'DOWN', _, _, Obj, _}, _, _, S) -> {'DOWN', undefined, undefined, pid_or_undefined(Obj), S};
protocol(_, _, {system, {From, _}, _}, _, _, S) -> {system, undefined, undefined, pid_or_undefined(From), S};
protocol(Dir, Pid, {Tag, _}, _, TS, S = #{calls := Calls}) when is_reference(Tag); is_list(Tag) ->
    Key = tag_key(Tag),
    case Calls of
        #{{Key, Pid} := {CallDir, T0, Peer}} when CallDir =/= Dir ->
            {reply, call_id(Key), (TS - T0) / 1000, Peer, S#{calls := maps:remove({Key, Pid}, Calls)}};
        _ -> {info, undefined, undefined, undefined, S}
    end;
protocol(_, _, _, _, _, S) -> {info, undefined, undefined, undefined, S}.

%% The other side of a call: the caller for a call received, the callee for a call sent.
peer_of_call('receive', From, _) -> From;
peer_of_call(send, _, To) -> element(1, receiver(To)).

%% OTP 25 call tags are a plain reference or [alias | Ref] (and [[alias | Ref] | _] for some multi-calls).
tag_key([alias | R]) when is_reference(R) -> R;
tag_key([[alias | R] | _]) when is_reference(R) -> R;
tag_key(R) when is_reference(R) -> R;
tag_key(_) -> none.

call_id(R) when is_reference(R) -> list_to_binary(erlang:ref_to_list(R));
call_id(_) -> undefined.

pid_or_undefined(P) when is_pid(P); is_port(P) -> P;
pid_or_undefined(_) -> undefined.

%% With `new' (or `all'), processes of the agent are untraced the first time they show up.
skip_ours(Pid, S = #{tracee := Tracee}) when Tracee =:= new; Tracee =:= all ->
    Checked = maps:get(checked, S),
    case Checked of
        #{Pid := Skip} -> {Skip, S};
        _ ->
            Skip = agent_process(Pid, S),
            Skip andalso untrace(Pid, S),
            {Skip, S#{checked := put_bounded(Pid, Skip, Checked)}}
    end;
skip_ours(_, S) -> {false, S}.

%% ---- procs ---------------------------------------------------------------------------------------------

proc_event({trace_ts, Child, spawned, Parent, _MFA, _TS}, S = #{tracee := all, checked := C}) ->
    Skip = maps:get(Parent, C, false) orelse agent_process(Parent, S) orelse agent_process(Child, S),
    Skip andalso untrace(Child, S),
    S#{checked := put_bounded(Child, Skip, C)};
proc_event({trace_ts, Child, spawned, Parent, _MFA, _TS}, S = #{family := F}) ->
    case maps:is_key(Parent, F) orelse maps:is_key(Child, F) of
        true -> S#{family := F#{Child => true}};
        false -> untrace(Child, S), S
    end;
proc_event({trace_ts, _, Ev, _, _}, S) when Ev =:= getting_linked; Ev =:= getting_unlinked ->
    %% The other side's link or unlink, which is reported by that side when it is traced.
    S;
proc_event({trace_ts, P, Ev, Info, TS}, S) ->
    case in_scope(P, S) of
        true -> proc_row(Ev, P, Info, undefined, TS, S);
        false -> S
    end;
proc_event({trace_ts, P, spawn, Child, MFA, TS}, S) ->
    case in_scope(P, S) of
        true ->
            S1 = case S of
                     #{family := F} -> S#{family := F#{Child => true}};
                     _ -> S
                 end,
            proc_row(spawn, P, Child, MFA, TS, S1);
        false -> S
    end;
proc_event(_, S) -> S.

in_scope(P, #{family := F}) -> maps:is_key(P, F);
in_scope(P, #{checked := C}) -> not maps:get(P, C, false).

proc_row(Ev, P, Info, MFA, TS, S0) when Ev =:= spawn; Ev =:= exit; Ev =:= link; Ev =:= unlink;
                                        Ev =:= register; Ev =:= unregister ->
    {Name, S} = case Ev of
                    register -> {Info, S0#{names := put_bounded(P, Info, maps:get(names, S0))}};
                    _ -> name_of(P, S0)
                end,
    {Other, Reason} = case Ev of
                          exit -> {undefined, term(Info)};
                          _ -> {Info, undefined}
                      end,
    Row = [node(), us(TS, S), Ev, P, Name, Other, spawn_mfa(MFA), Reason],
    S1 = emit(Row, S),
    case Ev of
        unregister -> S1#{names := maps:remove(P, maps:get(names, S1))};
        _ -> S1
    end;
proc_row(_, _, _, _, _, S) -> S.

%% What a process was spawned to run, seen through proc_lib and gen: gen_server children read as Mod:init/1.
spawn_mfa(undefined) -> undefined;
spawn_mfa({proc_lib, init_p, [_, _, gen, init_it, [_GenMod, _Starter, _Parent, Mod, _Args, _Opts]]}) when is_atom(Mod) ->
    fmt_mfa({Mod, init, 1});
spawn_mfa({proc_lib, init_p, [_, _, gen, init_it, [_GenMod, _Starter, _Parent, _Name, Mod, _Args, _Opts]]}) when is_atom(Mod) ->
    fmt_mfa({Mod, init, 1});
spawn_mfa({proc_lib, init_p, [_, _, M, F, A]}) when is_atom(M), is_atom(F), is_list(A) -> fmt_mfa({M, F, length(A)});
spawn_mfa({proc_lib, init_p, [_, _, Fun]}) when is_function(Fun) -> fun_text(Fun);
spawn_mfa({erlang, apply, [Fun, Args]}) when is_function(Fun), is_list(Args) -> fun_text(Fun);
spawn_mfa({M, F, A}) when is_atom(M), is_atom(F), is_list(A) -> fmt_mfa({M, F, length(A)});
spawn_mfa(Other) -> fmt("~0P", [Other, 8]).

fun_text(Fun) ->
    {module, M} = erlang:fun_info(Fun, module),
    {name, N} = erlang:fun_info(Fun, name),
    {arity, A} = erlang:fun_info(Fun, arity),
    fmt_mfa({M, N, A}).

%% ---- state: gen_server (and other sys processes) ------------------------------------------------------

srv_event({in, Msg}, TS, S) -> srv_open(classify(Msg), TS, S);
srv_event({in, Msg, _From}, TS, S) -> srv_open({call, Msg}, TS, S);
srv_event({out, Reply, _To, NewState}, TS, S) -> srv_close(TS, {value, Reply}, {value, NewState}, S);
srv_event({noreply, NewState}, TS, S) -> srv_close(TS, none, {value, NewState}, S);
srv_event(_, _, S) -> S.

classify({'$gen_call', _From, Req}) -> {call, Req};
classify({'$gen_cast', Msg}) -> {cast, Msg};
classify(Msg) -> {info, Msg}.

srv_open({Kind, Msg}, TS, S = #{pending := P}) ->
    S1 = case P of
             undefined -> S;
             _ -> srv_close(TS, none, none, S)
         end,
    S1#{pending := #{time => TS, kind => Kind, msg => {value, Msg}}}.

%% A result without a message before it is a handle_continue.
srv_close(TS, Reply, NewState, S = #{pending := P, cur := Before, seq := Seq, tracee := Pid, pname := Name}) ->
    #{time := T0, kind := Kind, msg := Msg} = case P of
                                                 undefined -> #{time => TS, kind => continue, msg => none};
                                                 _ -> P
                                             end,
    After = case NewState of {value, V} -> V; none -> Before end,
    Row = [node(), Pid, Name, Seq, us(T0, S), (TS - T0) / 1000, Kind, opt_term(Msg), term(Before),
           opt_term(NewState), undefined, undefined, opt_term(Reply)],
    emit(Row, S#{pending := undefined, cur := After, seq := Seq + 1}).

%% ---- state: other processes that answer sys (gen_event, proc_lib processes using sys:handle_debug) -------
%% Their debug events say only which message came in ({in, Msg} or {in, Msg, From}). The state after it is
%% asked of the process as the event is seen: its answer comes after it has handled that message.

other_event(In, TS, S) when element(1, In) =:= in, tuple_size(In) =:= 2; element(1, In) =:= in, tuple_size(In) =:= 3 ->
    {Kind, Msg} = case In of
                      {in, M, _From} -> {call, M};
                      {in, M} -> classify(M)
                  end,
    case take(S) of
        {true, S1 = #{seq := Seq, awaiting := Q, tracee := Pid, ref := Ref}} ->
            ask_data(Pid, Ref, S),
            E = #{other => true, seq => Seq, time => TS, kind => Kind, msg => Msg},
            check_limit(S1#{seq := Seq + 1, awaiting := queue:in(E, Q)});
        {false, S1} -> S1
    end;
other_event(_, _, S) -> S.

%% Ask the watched process for its state (data) after the event just seen. A gen_statem is asked with a
%% replace_state request whose fun sends the view (its --path, cut) and throws, so its data stays as it was and
%% the answer to the request is that small error, never the whole data (a get_state request would copy it out
%% whole, on every event). The view comes as `{{'$lumin_data', Ref}, View}', in order with its other replies.
%% (gen_event and other behaviours apply a replace_state fun to each handler, not to the whole state: they are
%% asked with get_state, whose answer is their handlers' states.)
ask_data(Pid, Ref, #{view := View, behaviour := gen_statem}) ->
    Self = self(),
    Fun = fun({Name, Data}) -> Self ! {{'$lumin_data', Ref}, {Name, view(Data, View)}}, throw(lumin_view);
             (St) -> Self ! {{'$lumin_data', Ref}, view(St, View)}, throw(lumin_view)
          end,
    Pid ! {system, {Self, {'$lumin_view_done', Ref}}, {replace_state, Fun}};
ask_data(Pid, Ref, _) ->
    Pid ! {system, {self(), {'$lumin_data', Ref}}, get_state}.

%% `Reply' is a get_state answer: the state itself (gen_statem: {StateName, Data}), or an error; none when the
%% process went before answering.
awaited_row(E, {error, {callback_failed, _, _}}, S) -> awaited_row(E, none, S);
awaited_row(E = #{other := true}, none, S) -> other_row(E, none, S);
awaited_row(E = #{other := true}, St, S) -> other_row(E, {value, St}, S);
awaited_row(E, {_StateName, Data}, S) -> sm_row(E, {value, Data}, S);
awaited_row(E, _, S) -> sm_row(E, none, S).

other_row(#{seq := Seq, time := T0, kind := Kind, msg := Msg}, Data, S = #{cur := Before, tracee := Pid, pname := Name}) ->
    Row = [node(), Pid, Name, Seq, us(T0, S), undefined, Kind, term(Msg), term(Before), opt_term(Data),
           undefined, undefined, undefined],
    Cur = case Data of {value, D} -> D; none -> Before end,
    add_row(Row, S#{cur := Cur}).

%% ---- state: gen_statem ---------------------------------------------------------------------------------

sm_event({in, Event, StateName}, TS, S) ->
    S#{pending := #{time => TS, event => Event, reply => none, name_before => StateName}};
sm_event({out, Reply, From}, _TS, S = #{pending := P = #{event := {{call, From}, _}}}) ->
    S#{pending := P#{reply := {value, Reply}}};
sm_event({Verdict, Event, StateName, Next}, TS, S = #{pending := P0}) when Verdict =:= consume; Verdict =:= postpone ->
    P = case P0 of
            #{event := Event} -> P0;
            %% A postponed event handled later, or an inserted one: no `in' came before it.
            _ -> #{time => TS, event => Event, reply => none, name_before => StateName, no_in => true}
        end,
    S1 = S#{pending := undefined, cur_name := Next},
    case take(S1) of
        {true, S2 = #{seq := Seq, awaiting := Q, tracee := Pid}} ->
            %% The data after this event: asked of the process now, answered in order with its other replies.
            ask_data(Pid, maps:get(ref, S), S),
            E = P#{seq => Seq, end_time => TS, name_after => Next},
            check_limit(S2#{seq := Seq + 1, awaiting := queue:in(E, Q)});
        {false, S2} -> S2
    end;
sm_event(_, _, S) -> S.

sm_row(E = #{seq := Seq, time := T0, end_time := T1, event := {Type, Content}, reply := Reply,
             name_before := NB, name_after := NA}, Data, S = #{cur := Before, tracee := Pid, pname := Name}) ->
    Duration = case E of
                   #{no_in := true} -> undefined;
                   _ -> (T1 - T0) / 1000
               end,
    Row = [node(), Pid, Name, Seq, us(T0, S), Duration, event_type(Type), term(Content), term(Before),
           opt_term(Data), term(NB), term(NA), opt_term(Reply)],
    Cur = case Data of {value, D} -> D; none -> Before end,
    add_row(Row, S#{cur := Cur}).

event_type({call, _}) -> call;
event_type({timeout, _}) -> timeout;
event_type(T) when is_atom(T) -> T;
event_type(_) -> other.

%% The watched process is gone: what it had started has no result, what waits for data gets none.
target_gone(S = #{kind := state, behaviour := B, awaiting := Q}) when B =/= gen_server ->
    lists:foldl(fun(E, Acc) -> awaited_row(E, none, Acc) end, S#{awaiting := queue:new(), pending := undefined},
                queue:to_list(Q));
target_gone(S = #{kind := state, pending := P}) when P =/= undefined ->
    #{time := T0} = P,
    srv_close(T0, none, none, S);
target_gone(S) -> S.

%% ---- logs ------------------------------------------------------------------------------------------------

log_row(Ev = #{level := Level, meta := Meta}) ->
    Time = case Meta of
               #{time := T} when is_integer(T) -> T;
               _ -> os:system_time(microsecond)
           end,
    File = case maps:get(file, Meta, undefined) of
               F when is_list(F); is_binary(F) -> unicode:characters_to_binary(F);
               _ -> undefined
           end,
    Line = case maps:get(line, Meta, undefined) of
               L when is_integer(L) -> L;
               _ -> undefined
           end,
    MFA = case maps:get(mfa, Meta, undefined) of
              {M, Fn, A} when is_atom(M), is_atom(Fn), is_integer(A) -> fmt_mfa({M, Fn, A});
              _ -> undefined
          end,
    Pid = case maps:get(pid, Meta, undefined) of
              P when is_pid(P) -> P;
              _ -> undefined
          end,
    [node(), Time, Level, Pid, MFA, File, Line, log_text(Ev),
     term(maps:without([time, pid, mfa, file, line, report_cb], Meta))].

log_text(Ev) ->
    Max = lumin_budget:max_term_bytes(),
    Text = try logger_formatter:format(Ev, #{template => [msg], single_line => false, chars_limit => Max}) of
               Chars -> case unicode:characters_to_binary(Chars) of
                            B when is_binary(B) -> B;
                            _ -> fmt("~0p", [maps:get(msg, Ev)])
                        end
           catch _:_ -> fmt("~0P", [maps:get(msg, Ev, undefined), 30])
           end,
    case byte_size(Text) > Max of
        true -> <<(binary:part(Text, 0, Max))/binary, "…"/utf8>>;
        false -> Text
    end.

%% ---- metrics ---------------------------------------------------------------------------------------------

counters() ->
    {Reds, _} = erlang:statistics(reductions),
    {{input, In}, {output, Out}} = erlang:statistics(io),
    #{time => erlang:monotonic_time(nanosecond), reductions => Reds, in => In, out => Out,
      swt => erlang:statistics(scheduler_wall_time)}.

sample(S = #{last := Last}) ->
    Now = counters(),
    Secs = max(1, maps:get(time, Now) - maps:get(time, Last)) / 1.0e9,
    Mem = erlang:memory(),
    M = fun(K) -> proplists:get_value(K, Mem, 0) end,
    Row = [node(), us(maps:get(time, Now), S), M(total), M(processes), M(binary), M(ets), M(atom), M(code),
           erlang:system_info(process_count), erlang:system_info(port_count),
           erlang:statistics(total_run_queue_lengths), utilisation(maps:get(swt, Last), maps:get(swt, Now)),
           (maps:get(reductions, Now) - maps:get(reductions, Last)) / Secs,
           (maps:get(in, Now) - maps:get(in, Last)) / Secs, (maps:get(out, Now) - maps:get(out, Last)) / Secs],
    {Row, S#{last := Now}}.

%% Samples fall on a fixed grid, start + k * interval (monotonic ms, absolute timers), so the time a sample
%% takes, or a busy moment of the probe, does not push every later sample back. Ticks already past are
%% skipped rather than sent one after another.
next_sample(S = #{interval := I, start_ms := Start, tick := K}) ->
    Due = (erlang:monotonic_time(millisecond) - Start) div I + 1,
    K1 = max(K + 1, Due),
    S#{tick := K1, timer => erlang:send_after(Start + K1 * I, self(), {'$lumin', sample}, [{abs, true}])}.

%% Active over total wall time of the normal schedulers since the previous sample.
utilisation(Before, After) when is_list(Before), is_list(After) ->
    N = erlang:system_info(schedulers),
    Pairs = [{A1 - A0, T1 - T0} || {I, A1, T1} <- After, I =< N, {J, A0, T0} <- Before, J =:= I],
    case lists:sum([T || {_, T} <- Pairs]) of
        0 -> 0.0;
        Total -> lists:sum([A || {A, _} <- Pairs]) / Total
    end;
utilisation(_, _) -> 0.0.

%% ---- rows, budgets, batches -----------------------------------------------------------------------------

%% Count one event: it becomes a row while the probe has not ended and the count budget is not spent.
take(S = #{state := St, seen := Seen, budget := #{limit := L}, tick_seen := TS}) when St =/= ended, Seen < L ->
    {true, S#{seen := Seen + 1, tick_seen := TS + 1}};
take(S) -> {false, S}.

%% Rows in order, as emit/2 would take them one by one, with one update of the state per run of rows: a run
%% stops at the count budget, the buffer budget and a full batch.
emit_many([], S) -> S;
emit_many(Rows, S = #{state := St, seen := Seen, budget := #{limit := L, buffer := Buffer}, tick_seen := TS, rows := B})
  when St =/= ended, Seen < L ->
    N = lumin_columns:count(B),
    case min(L - Seen, min(Buffer, max(N + 1, lumin_budget:batch_rows())) - N) of
        K when K > 0 ->
            {Run, Rest} = take_run(K, Rows, []),
            Taken = length(Run),
            B1 = lists:foldl(fun lumin_columns:add/2, B, Run),
            S1 = S#{seen := Seen + Taken, tick_seen := TS + Taken, rows := B1},
            S2 = case lumin_columns:count(B1) >= lumin_budget:batch_rows() of
                     true -> flush(S1, false);
                     false -> S1
                 end,
            S3 = case S2 of
                     #{state := armed} when Seen + Taken >= L -> check_limit(S2);
                     #{state := armed} when (Seen + Taken) div ?CHECK_EVERY =/= Seen div ?CHECK_EVERY -> watch(S2);
                     _ -> S2
                 end,
            emit_many(Rest, S3);
        _ ->
            %% The buffer is full: emit/2 drops the row, counted, and ends the probe.
            emit_many(tl(Rows), emit(hd(Rows), S))
    end;
emit_many(_, S) -> S.

take_run(0, Rest, Acc) -> {lists:reverse(Acc), Rest};
take_run(_, [], Acc) -> {lists:reverse(Acc), []};
take_run(K, [R | Rs], Acc) -> take_run(K - 1, Rs, [R | Acc]).

%% take/1 and add_row/2 in one update of the state (the common path, once per event).
emit(Row, S = #{state := St, seen := Seen, budget := #{limit := L, buffer := Buffer}, tick_seen := TS, rows := Rows})
  when St =/= ended, Seen < L ->
    case lumin_columns:count(Rows) >= Buffer of
        true -> check_limit(add_row(Row, S#{seen := Seen + 1, tick_seen := TS + 1}));
        false ->
            Rows1 = lumin_columns:add(Row, Rows),
            S1 = S#{seen := Seen + 1, tick_seen := TS + 1, rows := Rows1},
            check_limit(case lumin_columns:count(Rows1) >= lumin_budget:batch_rows() of
                            true -> flush(S1, false);
                            false -> S1
                        end)
    end;
emit(_, S) -> S.

add_row(Row, S = #{rows := Rows, budget := #{buffer := Buffer}}) ->
    case lumin_columns:count(Rows) >= Buffer of
        true ->
            S1 = S#{dropped := maps:get(dropped, S) + 1, dropped_unsent := maps:get(dropped_unsent, S) + 1},
            %% Once ending, each further row is only counted: formatting the reason per row made an ending
            %% probe too slow to ever finish under a flood.
            case S1 of
                #{state := armed} ->
                    end_probe(buffer, io_lib:format("~b rows waited on the node for the kernel (buffer budget)", [Buffer]), S1);
                _ -> S1
            end;
        false ->
            Rows1 = lumin_columns:add(Row, Rows),
            S1 = S#{rows := Rows1},
            case lumin_columns:count(Rows1) >= lumin_budget:batch_rows() of
                true -> flush(S1, false);
                false -> S1
            end
    end.

check_limit(S = #{state := armed, seen := Seen, budget := #{limit := L}, kind := K}) when Seen >= L ->
    end_probe(limit, io_lib:format("count budget of ~b ~ts reached", [L, noun(K)]), S);
check_limit(S = #{state := armed, seen := Seen}) when Seen rem ?CHECK_EVERY =:= 0 ->
    watch(S);
check_limit(S) -> S.

noun(messages) -> "messages";
noun(procs) -> "process events";
noun(state) -> "handled messages";
noun(telemetry) -> "events";
noun(logs) -> "log events";
noun(metrics) -> "samples".

tick(S = #{state := armed, budget := #{rate := MaxRate, time_ms := MaxT}, armed_at := At, last_tick := Last,
           tick_seen := Seen, kind := K}) ->
    Now = erlang:monotonic_time(millisecond),
    Rate = Seen * 1000 / max(1, Now - Last),
    S1 = flush(S#{rate := Rate, tick_seen := 0, last_tick := Now}, false),
    if
        Rate > MaxRate ->
            %% As when the watchdog sees it first: what was queued when the rate budget ran out is dropped,
            %% counted, whichever of the two noticed.
            end_probe(rate, io_lib:format("rate budget of ~b ~ts/s exceeded (~b/s)", [round(MaxRate), noun(K), round(Rate)]),
                      S1#{flooded => true});
        Now - At >= MaxT ->
            end_probe(time, io_lib:format("time budget of ~.1f s spent", [MaxT / 1000]), S1);
        true ->
            case watch(S1) of
                S2 = #{state := armed} -> report_status(S2), S2;
                S2 -> S2
            end
    end;
tick(S = #{state := ending}) -> flush(S, false);
tick(S) -> S.

%% Mailbox and memory: of the tracer, which takes the flood, for trace kinds; of the probe itself otherwise.
%% (The tracer is shared by every probe: its backlog is judged by the watchdog, which knows whether this probe
%% is getting events, and its memory by lumin_guard.)
watch(S = #{state := armed, budget := #{mailbox := MaxQ, memory := MaxM}}) ->
    {Who, What} = {self(), "the probe"},
    case erlang:process_info(Who, [message_queue_len, memory]) of
        [{message_queue_len, Q}, _] when Q > MaxQ ->
            end_probe(mailbox, io_lib:format("~ts's mailbox held ~b messages (budget ~b)", [What, Q, MaxQ]), S);
        [_, {memory, M}] when M > MaxM ->
            end_probe(memory, io_lib:format("~ts used ~b MB (budget ~b MB)", [What, M div 1048576, MaxM div 1048576]), S);
        _ -> S
    end;
watch(S) -> S.

%% Send the rows gathered so far, unless too many batches are unacknowledged (they wait, up to the buffer
%% budget). `Force' sends regardless: a probe's last batch always goes.
flush(S = #{rows := Rows, in_flight := F, dropped_unsent := D, report := Report, name := Name, kind := Kind}, Force) ->
    N = lumin_columns:count(Rows),
    case (N > 0 orelse (Force andalso D > 0)) andalso (Force orelse F < lumin_budget:max_batches_in_flight()) of
        true ->
            Batch = lumin_columns:encode(Kind, D, Rows),
            Report ! {lumin_event, probe_batch, #{name => Name, node => node(), kind => Kind, batch => Batch, from => self()}},
            S#{rows := lumin_columns:new(columns(Kind)), in_flight := F + 1, dropped_unsent := 0};
        false -> S
    end.

%% ---- ending ----------------------------------------------------------------------------------------------

%% Stop counting and remove everything this probe set, now; what is under way drains until `finalize'.
end_probe(Why, Detail, S = #{state := armed, off := Off, kind := K}) ->
    atomics:put(Off, 1, 1),
    stop_watchdog(S),
    S1 = (undo(S))#{state := ending, why := Why, detail := text_bin(Detail), watchdog := undefined,
                    drain_until => erlang:monotonic_time(millisecond) + ?DRAIN_MS},
    report_status(S1),
    %% Trace kinds finish when the tracer hands on its last chunk; the others once the messages already
    %% sent to this process (queued before this one) are handled.
    case K of
        messages -> ok;
        procs -> ok;
        _ -> self() ! {'$lumin', drained}
    end,
    erlang:send_after(?DRAIN_MS, self(), {'$lumin', drain_timeout}),
    S1;
end_probe(_, _, S) -> S.

undo(S = #{kind := K}) when K =:= messages; K =:= procs ->
    stop_tracing(S);
undo(S = #{kind := state, tracee := Pid, func_id := Id}) ->
    catch sys:remove(Pid, Id, ?SYS_TIMEOUT),
    S;
undo(S = #{kind := telemetry, handler := Id}) ->
    catch telemetry:detach(Id),
    S;
undo(S = #{kind := logs, ref := Ref}) ->
    case logger:get_handler_config(?LOG_HANDLER) of
        {ok, #{config := #{ref := Ref}}} -> _ = logger:remove_handler(?LOG_HANDLER);
        _ -> ok
    end,
    S;
undo(S = #{kind := metrics, timer := T}) ->
    _ = erlang:cancel_timer(T),
    %% scheduler_wall_time counts the processes that enabled it: this turns off only this probe's part.
    _ = erlang:system_flag(scheduler_wall_time, false),
    S.

%% The last batch, then `ended'.
finalize(S0) ->
    S = case S0 of
            #{kind := state} -> target_gone(S0);
            _ -> S0
        end,
    S1 = (flush(S, true))#{state := ended},
    report_status(S1),
    release(S1).

release(S = #{kind := messages}) -> small_heap(), S#{calls := #{}, checked := #{}, names := #{}};
release(S = #{kind := procs}) -> small_heap(), maps:without([family, checked], S#{names := #{}});
release(S = #{kind := state}) -> S#{cur := undefined, names := #{}};
release(S) -> S.

small_heap() ->
    {min_heap_size, Default} = erlang:system_info(min_heap_size),
    process_flag(min_heap_size, Default),
    erlang:garbage_collect().

%% Synchronous end (disarm, stop): handle this probe's own messages until it has ended.
drain_now(S) -> drain_now(S, erlang:monotonic_time(millisecond) + ?DRAIN_MS).

drain_now(S = #{state := ended}, _) -> S;
drain_now(S, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    Mon = maps:get(mon, S, none),
    receive
        M when is_tuple(M), tuple_size(M) >= 2, element(1, M) =:= '$lumin' -> drain_now(event(M, S), Deadline);
        {{'$lumin_data', _}, _} = M -> drain_now(event(M, S), Deadline);
        {{'$lumin_view_done', _}, _} -> drain_now(S, Deadline);
        {lumin_ack, _} = M -> drain_now(event(M, S), Deadline);
        {'DOWN', Mon, process, _, _} = M -> drain_now(event(M, S), Deadline)
    after Left ->
        finalize(S)
    end.

drop(N, S = #{dropped := D, dropped_unsent := U}) -> S#{dropped := D + N, dropped_unsent := U + N}.

%% ---- the watchdog ---------------------------------------------------------------------------------------
%% The probe cannot enforce its rate, mailbox or memory budget on its own under a flood: its ticks wait in
%% its mailbox behind the very messages it is drowning in. The watchdog is a process of its own whose mailbox
%% holds nothing else. Every ?WD_TICK ms it reads how many events the source produced (a counters cell that
%% the tracer bumps once per chunk, and the sys, telemetry and logger callbacks once per event) and the
%% mailbox and memory of the probe and its tracer. Past a budget it stops the flood at its source at once —
%% it sets the flag the callbacks check and removes the probe's trace flags (only where the tracer is the
%% probe's) — and records why in the `off' atomics; the probe ends with that reason at its next message and
%% drops, counting them, the events already queued.

-define(WD_TICK, 100).
-define(WD_WINDOW, 10).

start_watchdog(S = #{kind := metrics}) -> S;
start_watchdog(S = #{counter := C, off := Off, budget := Budget, kind := K}) ->
    Source = case S of
                 #{tracer := T, tracee := Tracee, flags := Flags} -> {T, Tracee, Flags};
                 _ -> none
             end,
    A = #{probe => self(), counter => C, off => Off, budget => Budget, source => Source, noun => noun(K),
          since => maps:get(armed_at, S), kind => K},
    W = proc_lib:spawn(?MODULE, watchdog, [A]),
    %% The node-wide memory budget: this probe's process and its tracer count, and it ends this probe alone.
    Stop = fun(_Detail) -> wd_stop(4, 0, A) end,
    lumin_guard:enlist(self(), maps:get(name, S), Stop),
    S#{watchdog := W}.

stop_watchdog(#{watchdog := W}) when is_pid(W) -> exit(W, kill);
stop_watchdog(_) -> ok.

%% @private The watchdog's process.
watchdog(A = #{probe := Probe, counter := C}) ->
    erlang:monitor(process, Probe),
    %% High priority: under a flood the processes at normal priority (the flooded ones, the tracer, the probe)
    %% take turns for many milliseconds each; the watchdog's few microseconds a tick must not wait behind them,
    %% or a budget (mailbox, time) is seen seconds late while the node's memory grows.
    process_flag(priority, high),
    wd_loop(A#{tracee_q0 => tracee_queue(A), samples => [{erlang:monotonic_time(millisecond), counters:get(C, 1)}],
               hook => [{erlang:monotonic_time(), counters:get(C, 2)}]}).

wd_loop(A = #{samples := Samples, counter := C, budget := #{rate := MaxRate, time_ms := MaxT}, since := Since, hook := Hook}) ->
    receive
        {'DOWN', _, process, _, _} -> ok
    after ?WD_TICK ->
        Now = erlang:monotonic_time(millisecond),
        Count = counters:get(C, 1),
        %% The tracer counts per chunk, so the rate is judged over about a second; a flood (four times the
        %% budget over the last 300 ms) is judged at once.
        {T0, C0} = lists:last(Samples),
        Long = case Now - T0 >= 500 of
                   true -> (Count - C0) * 1000 / (Now - T0);
                   false -> 0
               end,
        Short = case Samples of
                    [_, _, {T3, C3} | _] -> (Count - C3) * 1000 / max(1, Now - T3);
                    _ -> 0
                end,
        {Q, M} = load(A),
        #{budget := #{mailbox := MaxQ, memory := MaxM}} = A,
        %% A state probe's cost: the time its hook took in the watched process, as a share of the wall time,
        %% over the last second (judged once half a second has passed).
        NowN = erlang:monotonic_time(),
        HookNow = counters:get(C, 2),
        {H0, HC0} = lists:last(Hook),
        Share = case erlang:convert_time_unit(NowN - H0, native, millisecond) >= 500 of
                    true -> (HookNow - HC0) / max(1, NowN - H0);
                    false -> 0
                end,
        MaxShare = lumin_budget:state_share(),
        Grew = tracee_queue(A) - maps:get(tracee_q0, A),
        if
            Grew > MaxQ -> wd_stop(7, Grew, A);
            Long > MaxRate -> wd_stop(1, Long, A);
            Short > 4 * MaxRate -> wd_stop(1, Short, A);
            Q > MaxQ -> wd_stop(2, Q, A);
            M > MaxM -> wd_stop(3, M, A);
            Share > MaxShare -> wd_stop(5, round(Share * 1000), A);
            Now - Since >= MaxT -> wd_stop(6, MaxT, A);
            true -> wd_loop(A#{samples := lists:sublist([{Now, Count} | Samples], ?WD_WINDOW),
                               hook := lists:sublist([{NowN, HookNow} | Hook], ?WD_WINDOW)})
        end
    end.

%% Mailbox length and memory of the probe, and — when events for this probe came in since the last look (it is
%% one cause of the load, not an idle neighbour) — the backlog of the tracer it shares with every probe.
load(#{probe := P, source := Source, counter := C, samples := Samples}) ->
    %% Over the whole window, not one tick: a tracer deep in a flood may hand on no chunk for a tick or two.
    {_, Last} = lists:last(Samples),
    Busy = counters:get(C, 1) > Last,
    %% The tracer's mailbox length only (O(1)); its memory is lumin_guard's to judge.
    TQ = case Source of
             {T, _, _} when Busy ->
                 case erlang:process_info(T, message_queue_len) of
                     {message_queue_len, N} -> N;
                     undefined -> 0
                 end;
             _ -> 0
         end,
    {Q0, M0} = load_of([P]),
    {Q0 + TQ, M0}.

%% The mailbox of the one process a message or process probe watches (0 otherwise). Tracing makes each of its
%% sends and receives cost a copy to the tracer: under a flood it falls behind its senders and its mailbox —
%% the node's memory, not the agent's — grows without bound, while the agent's own queues stay small.
tracee_queue(#{source := {_, Pid, _}}) when is_pid(Pid) ->
    case erlang:process_info(Pid, message_queue_len) of
        {message_queue_len, N} -> N;
        undefined -> 0
    end;
tracee_queue(_) -> 0.

load_of(Ps) ->
    lists:foldl(fun(X, {Q, M}) ->
                        case erlang:process_info(X, [message_queue_len, memory]) of
                            [{message_queue_len, Q1}, {memory, M1}] -> {Q + Q1, M + M1};
                            undefined -> {Q, M}
                        end
                end, {0, 0}, Ps).

wd_stop(Code, Figure, #{off := Off, probe := Probe, source := Source}) ->
    atomics:put(Off, 3, round(Figure)),
    atomics:put(Off, 2, Code),
    atomics:put(Off, 1, 1),
    case Source of
        {_, _, _} -> lumin_trace:release(Probe, flags_only);
        none -> ok
    end,
    Probe ! {'$lumin', watchdog},
    ok.

%% The probe, at each message: did the watchdog stop the source?
heed_watchdog(S = #{state := armed, off := Off, budget := B, kind := K}) ->
    case atomics:get(Off, 2) of
        0 -> S;
        Code ->
            Fig = atomics:get(Off, 3),
            {Why, Detail} =
                case Code of
                    1 -> {rate, io_lib:format("rate budget of ~b ~ts/s exceeded (~b/s); stopped at the source",
                                              [round(maps:get(rate, B)), noun(K), Fig])};
                    2 -> {mailbox, io_lib:format("~b messages waited on the node for the probe (budget ~b)",
                                                 [Fig, maps:get(mailbox, B)])};
                    3 -> {memory, io_lib:format("the probe used ~b MB (budget ~b MB)",
                                                [Fig div 1048576, maps:get(memory, B) div 1048576])};
                    4 -> {memory, <<"the node-wide memory budget was exceeded and this probe held the most">>};
                    7 -> {overload, io_lib:format("the watched process's mailbox grew by ~b messages while traced (budget ~b): "
                                                  "tracing slowed it below the rate its senders send at", [Fig, maps:get(mailbox, B)])};
                    5 -> {cost, io_lib:format("the state hook took ~.1f% of the watched process's time (budget ~b%): "
                                              "the probe would slow the process it watches", [Fig / 10, round(lumin_budget:state_share() * 100)])};
                    _ -> {time, io_lib:format("time budget of ~.1f s spent", [maps:get(time_ms, B) / 1000])}
                end,
            end_probe(Why, Detail, S#{flooded => true})
    end;
heed_watchdog(S) -> S.

%% ---- reporting ----------------------------------------------------------------------------------------

report_status(S = #{report := Report}) ->
    Report ! {lumin_event, probe_status, summary(S)}.

summary(#{name := Name, kind := K, target := Target, state := St, seen := Seen, dropped := D, rate := R, why := Why,
          detail := Det}) ->
    #{name => Name, node => atom_to_binary(node(), utf8), kind => K, target => Target, state => St,
      seen => Seen, dropped => D, rate => R, why_ended => Why, detail => Det}.

%% ---- callbacks that run in other processes --------------------------------------------------------------

%% @doc The sys debug function of a state probe, run by the watched process for each of its debug events.
%% It removes itself (`done') once the probe has ended or is gone.
sys_event(FS = {Probe, Ref, Off, C, View}, Event, _Extra) ->
    case atomics:get(Off, 1) =:= 0 andalso is_process_alive(Probe) of
        true ->
            T0 = erlang:monotonic_time(),
            %% One count per message the process takes in (for the watchdog's rate).
            element(1, Event) =:= in andalso counters:add(C, 1, 1),
            Probe ! {'$lumin', sys, Ref, erlang:monotonic_time(nanosecond), small_event(Event, View)},
            %% The time this hook took in the watched process, which the watchdog holds to a share of its time.
            counters:add(C, 2, erlang:monotonic_time() - T0),
            FS;
        false -> done
    end;
sys_event(_, _, _) -> done.

%% A debug event with its terms cut and its states reduced to their view, in the watched process.
small_event({in, Msg}, {_, Cut}) -> {in, lumin_lib:cut(Msg, Cut)};
small_event({in, Msg, From}, {_, Cut}) -> {in, lumin_lib:cut(Msg, Cut), From};
small_event({out, Reply, To, NewState}, V = {_, Cut}) -> {out, lumin_lib:cut(Reply, Cut), To, view(NewState, V)};
small_event({noreply, NewState}, V) -> {noreply, view(NewState, V)};
small_event({out, Reply, To}, {_, Cut}) -> {out, lumin_lib:cut(Reply, Cut), To};
small_event(Ev, {_, Cut}) when is_tuple(Ev) ->
    list_to_tuple([case is_atom(E) of true -> E; false -> lumin_lib:cut(E, Cut) end || E <- tuple_to_list(Ev)]);
small_event(Ev, {_, Cut}) -> lumin_lib:cut(Ev, Cut).

%% @doc The part of a state a probe shows: the value at its path (or `{lumin_no_path, Keys}' when the state has
%% nothing there), cut to its cut size.
view(State, {Path, Cut}) -> lumin_lib:cut(at_path(State, Path), Cut).

at_path(V, []) -> V;
at_path(M, [K | Ks]) when is_map(M) ->
    case [V || Key <- K, is_map_key(Key, M), V <- [map_get(Key, M)]] of
        [V | _] -> at_path(V, Ks);
        [] -> {lumin_no_path, [K | Ks]}
    end;
at_path(L, [K | Ks]) when is_list(L) ->
    case [V || Key <- K, is_atom(Key), {Key1, V} <- [lists:keyfind(Key, 1, L)], Key1 =:= Key] of
        [V | _] -> at_path(V, Ks);
        [] -> {lumin_no_path, [K | Ks]}
    end;
at_path(T, [K | Ks]) when is_tuple(T) ->
    case [I || I <- K, is_integer(I), I >= 1, I =< tuple_size(T)] of
        [I | _] -> at_path(element(I, T), Ks);
        [] -> {lumin_no_path, [K | Ks]}
    end;
at_path(_, Ks) -> {lumin_no_path, Ks}.

%% A --path as a list of keys, each key the candidates it may be: an existing atom (never a new one), the
%% text, and a number (a map key or a tuple position from 1).
state_path(undefined) -> [];
state_path(nil) -> [];
state_path(Keys) when is_list(Keys) ->
    [lists:append([[A || A <- [existing_atom(B)], A =/= undefined],
                   [B],
                   [N || {N, <<>>} <- [string:to_integer(B)], is_integer(N)]]) || K <- Keys, B <- [text(K)]];
state_path(B) when is_binary(B) -> state_path(binary:split(B, <<".">>, [global])).

%% @doc The :telemetry handler of a telemetry probe, run by the process that emits the event.
handle_event(Event, Measurements, Metadata, #{probe := Probe, ref := Ref, off := Off, id := Id, counter := C}) ->
    case atomics:get(Off, 1) =:= 0 of
        true ->
            counters:add(C, 1, 1),
            case is_process_alive(Probe) of
                true -> Probe ! {'$lumin', telemetry, Ref, erlang:monotonic_time(nanosecond), self(), Event, Measurements, Metadata};
                false -> spawn(telemetry, detach, [Id])
            end;
        false -> ok
    end,
    ok.

%% @doc The :logger handler callback of a logs probe, run by the process that logs.
log(Event, #{config := #{probe := Probe, ref := Ref, off := Off, counter := C}}) ->
    case atomics:get(Off, 1) =:= 0 of
        true ->
            counters:add(C, 1, 1),
            case is_process_alive(Probe) of
                true -> Probe ! {'$lumin', log, Ref, Event};
                false -> spawn(fun() -> remove_stale_handler(Ref) end)
            end;
        false -> ok
    end,
    ok;
log(_, _) -> ok.

remove_stale_handler(Ref) ->
    case logger:get_handler_config(?LOG_HANDLER) of
        {ok, #{config := #{ref := Ref}}} -> logger:remove_handler(?LOG_HANDLER);
        _ -> ok
    end.

%% ---- columns (kernel/tables/schemas.ts) ------------------------------------------------------------
%% Nullable numbers (latency_us, duration_us, line) are dictionary columns, whose `undefined' is null; byte
%% counts are f64, which holds any of them exactly, where int32 would overflow past 2 GB.

columns(messages) ->
    [{node, {const, node()}}, {time_us, f64}, {event, dict}, {from_pid, dict}, {from_name, dict}, {to_pid, dict},
     {to_name, dict}, {protocol, dict}, {call_id, dict}, {latency_us, dict}, {message, terms}, {size_words, i32}];
columns(procs) ->
    [{node, {const, node()}}, {time_us, f64}, {event, dict}, {pid, dict}, {name, dict}, {other, dict}, {mfa, dict},
     {reason, terms}];
columns(state) ->
    [{node, {const, node()}}, {pid, dict}, {name, dict}, {seq, i32}, {time_us, f64}, {duration_us, dict}, {kind, dict},
     {message, terms}, {state_before, terms}, {state_after, terms}, {state_name_before, terms},
     {state_name_after, terms}, {reply, terms}];
columns(telemetry) ->
    [{node, {const, node()}}, {time_us, f64}, {pid, dict}, {event, dict}, {measurements, terms}, {metadata, terms}];
columns(logs) ->
    [{node, {const, node()}}, {time_us, f64}, {level, dict}, {pid, dict}, {mfa, dict}, {file, dict}, {line, dict},
     {message, dict}, {metadata, terms}];
columns(metrics) ->
    [{node, {const, node()}}, {time_us, f64}, {memory_total, f64}, {memory_processes, f64}, {memory_binary, f64},
     {memory_ets, f64}, {memory_atom, f64}, {memory_code, f64}, {process_count, i32}, {port_count, i32},
     {run_queue, i32}, {scheduler_utilization, f64}, {reductions_per_s, f64}, {io_in_bytes_per_s, f64},
     {io_out_bytes_per_s, f64}].

%% A term cell that is present, even when the term is the atom `undefined' (which lumin_columns reads as null).
term(V) -> {lumin_raw, term_to_binary(lumin_columns:cut_term(V))}.

opt_term({value, V}) -> term(V);
opt_term(none) -> undefined.

%% ---- helpers ---------------------------------------------------------------------------------------------

us(MonotonicNs, #{offset_ns := Off}) -> (MonotonicNs + Off) / 1000.

%% A process's label (lumin_lib:label/1: registered name, proc_lib label, process_name, initial call), cached.
name_of(P, S = #{names := Names}) when is_pid(P), node(P) =:= node() ->
    case Names of
        #{P := N} -> {N, S};
        _ ->
            N = lumin_lib:label(P),
            {N, S#{names := put_bounded(P, N, Names)}}
    end;
name_of(_, S) -> {undefined, S}.

reg_name(P) -> lumin_lib:label(P).

put_bounded(K, V, M) when map_size(M) >= ?MAX_CACHE -> #{K => V};
put_bounded(K, V, M) -> M#{K => V}.

elixir_node() -> lists:keymember(elixir, 1, application:loaded_applications()).

%% An event name as the node's language writes it: [:my_app, :repo, :query] or [my_app,repo,query].
event_text(Ev, #{elixir := true}) when is_list(Ev) ->
    text_bin(["[", lists:join(", ", [elixir_atom(A) || A <- Ev]), "]"]);
event_text(Ev, _) -> fmt("~0p", [Ev]).

elixir_atom(A) when is_atom(A) ->
    B = atom_to_binary(A, utf8),
    case re:run(B, "^[a-z_][a-zA-Z0-9_@]*[?!]?$", [unicode]) of
        {match, _} -> [":", B];
        nomatch -> [":\"", B, "\""]
    end;
elixir_atom(T) -> io_lib:format("~0p", [T]).

fmt_mfa(MFA) -> lumin_lib:fmt_mfa(MFA).

pid_text(P) when is_pid(P) -> list_to_binary(pid_to_list(P));
pid_text(new) -> <<"new processes">>;
pid_text(all) -> <<"all processes">>;
pid_text({app, App, _}) -> fmt("the processes of ~p", [App]);
pid_text(T) -> fmt("~0p", [T]).

join(Items) -> lists:join(", ", Items).

fmt(F, A) -> text_bin(io_lib:format(F, A)).

%% Text (chardata: binaries are UTF-8, lists may hold any code point, e.g. from ~ts) as a UTF-8 binary.
text_bin(Chars) ->
    case unicode:characters_to_binary(Chars) of
        B when is_binary(B) -> B;
        _ -> iolist_to_binary(io_lib:format("~0p", [Chars]))
    end.
