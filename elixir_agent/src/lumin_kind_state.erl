%% @doc State probes (a kind of lumin_probe): a sys debug function (sys:install/3) in a gen_server, gen_statem
%% or other process that answers sys (spec `process'), and the state read once at arm (in the process itself,
%% so the first row's state_before is exact).
%%
%%   * gen_server: one row per call, cast, info or continue, with the state before and after and the reply,
%%     all exact.
%%   * gen_statem: one row per event consumed or postponed, with the state names before and after (exact) and
%%     the reply; the debug events carry no data, so data after each event is asked of the process as the
%%     event is seen: under load it can already include later events. A postponed event shows twice
%%     (postponed, then handled).
%%   * Other processes that answer sys (gen_event, proc_lib processes calling sys:handle_debug/4) report only
%%     the message that came in: one row per message, with the state after it read right after it (ask_view/3),
%%     and no reply or duration.
%%
%% Each row says what changed (`state_diff', lumin_state_diff): from the hook's diff, or from the two views the
%% probe has when both are whole.
%%
%% What of a state is shipped is decided in the watched process itself: the part at `--path' (a key path into
%% maps, keyword lists and tuples), cut to the probe's cut size, so a 40 MB state is never copied out of it; a
%% gen_server's view bigger than the cut size is shipped as what changed against the view before (shipped/3);
%% a gen_event's handler states are read without the whole copy sys answers with (ask_view/3);
%% the hook's own time there is counted, and the watchdog ends the probe (`cost') when it takes more than
%% lumin_budget:state_share/0 of the process's time. A process that does not answer sys within 1 s is refused.
-module(lumin_kind_state).
-behaviour(lumin_probe_kind).

-export([setup/2, columns/0, noun/0, target/1, undo/1, event/2, info/2, finish/1, waiting/1, release/1]).
%% Run in the watched process: the sys debug function, and the view of a state.
-export([sys_event/3, view/2, shipped/3]).

-define(SYS_TIMEOUT, 1000).
%% How often the probe takes in what the hook wrote (a gen_server's or gen_statem's events), in ms.
-define(POLL_MS, 10).
%% A diff's size is measured up to this many words (past it, it is bigger than any cut view anyway).
-define(MAX_DIFF_WORDS, 1 bsl 20).
%% The state the probe no longer knows whole: after a diff of a big state, only its changes are known.
-define(UNKNOWN, '$lumin_unknown_state').
-define(TOO_MANY, <<"too many changes for a diff: the state after is shipped cut">>).

setup(Spec, P = #{ref := Ref, off := Off, counter := C}) ->
    Pid = lumin_target:process(maps:get(process, Spec, undefined), false),
    lumin_target:refuse_ours(Pid),
    Behaviour = sys_behaviour(Pid),
    FuncId = {?MODULE, Ref},
    Path = state_path(maps:get(path, Spec, undefined)),
    Cut = lumin_budget:cut_bytes(Spec),
    View = {Path, Cut},
    %% A gen_server or gen_statem hook writes its events to a table the probe owns and reads every ?POLL_MS,
    %% rather than sending them: a send from the watched process is traced by any message probe on it, which
    %% would make every event cost a trace message, and the hook's own time with it. Other behaviours send them
    %% (their first state comes as a reply, in order with the events only in the mailbox).
    Sink = case lists:member(Behaviour, [gen_server, gen_statem]) of
               true -> {ets, ets:new(?MODULE, [public, ordered_set, {write_concurrency, true}])};
               false -> send
           end,
    %% The hook's last element is the view of the state it last saw (none yet): a reference into the process's own
    %% heap, not a copy, that the next message's diff is taken against.
    case catch sys:install(Pid, {FuncId, fun ?MODULE:sys_event/3, {self(), Ref, Off, C, View, Sink, none}}, ?SYS_TIMEOUT) of
        ok -> ok;
        Err -> throw({error, io_lib:format("could not install a sys debug function in ~ts: ~0p", [lumin_target:pid_text(Pid), Err])})
    end,
    %% The state is read inside the process, after the function is installed: events it reports before this
    %% message happened before the state we start from, and are left out. gen_event (and others) are asked as
    %% they are after each event (ask_view/3), their answer in order with the events.
    Self = self(),
    Dead = case lists:member(Behaviour, [gen_server, gen_statem]) of
               true -> none;
               false -> dead_pid()
           end,
    Replace = case lists:member(Behaviour, [gen_server, gen_statem]) of
                  %% sys:replace_state/3 answers with the whole state: the fun throws once it has sent the view,
                  %% so the state stays as it was and the answer is that small error, not the whole state.
                  %% The view goes into the hook's table, in order with the events (those before it are left out).
                  true -> {ets, Tab} = Sink,
                          R0 = case catch sys:replace_state(Pid, fun(St) -> ets:insert(Tab, {erlang:unique_integer([monotonic]), state0, view(St, View)}),
                                                                            throw(lumin_state0) end, ?SYS_TIMEOUT) of
                                   {'EXIT', {{callback_failed, _, {throw, lumin_state0}}, _}} -> ok;
                                   {'EXIT', _} = E -> E;
                                   _ -> ok
                               end,
                          erlang:garbage_collect(),
                          R0;
                  false -> ask_view(Pid, '$lumin_state0', #{ref => Ref, view => View, behaviour => Behaviour, dead => Dead, counter => C}), ok
              end,
    case Replace of
        {'EXIT', _} ->
            case catch Self ! {'$lumin', state0, Ref, view(sys:get_state(Pid, ?SYS_TIMEOUT), View)} of
                {'EXIT', Why} ->
                    catch sys:remove(Pid, FuncId, ?SYS_TIMEOUT),
                    throw({error, io_lib:format("~ts did not give its state: ~0p", [lumin_target:pid_text(Pid), Why])});
                _ -> erlang:garbage_collect()
            end;
        _ -> ok
    end,
    Warn = [<<"gen_statem: the debug events carry state names, not data; data after each event is read right after "
              "it, so under load it may include later events">> || Behaviour =:= gen_statem] ++
           [lumin_lib:fmt("~p: its debug events say which message came in, not what it returned; the state after each message "
                          "is read right after it (so under load it may include later messages), and the time it took is not "
                          "known", [Behaviour]) || Behaviour =/= gen_statem, Behaviour =/= gen_server],
    case Sink of
        {ets, _} -> erlang:send_after(?POLL_MS, self(), {'$lumin', state_poll});
        send -> ok
    end,
    P#{tracee => Pid, pname => lumin_lib:label(Pid), mon => erlang:monitor(process, Pid), func_id => FuncId, view => View, sink => Sink,
       %% The node-wide memory guard counts the table with the probe's process.
       tables => [T || {ets, T} <- [Sink]],
       syntax => syntax(), root => path_root(maps:get(path, Spec, undefined)),
       behaviour => Behaviour, dead => Dead, parts => [], synced => false, cur => undefined, cur_name => undefined, pending => undefined,
       awaiting => queue:new(), seq => 0, warnings := Warn}.

columns() ->
    [{node, {const, node()}}, {pid, dict}, {name, dict}, {seq, i32}, {time_us, f64}, {duration_us, dict}, {kind, dict},
     {message, terms}, {state_before, terms}, {state_after, terms}, {state_name_before, terms},
     {state_name_after, terms}, {reply, terms}, {state_diff, dict}].

noun() -> "handled messages".

target(Spec) -> lumin_target:text(maps:get(process, Spec, <<>>)).

undo(P = #{tracee := Pid, func_id := Id}) ->
    catch sys:remove(Pid, Id, ?SYS_TIMEOUT),
    %% The hook is gone: all it wrote is in its table now, and becomes rows (a gen_statem's asks for its data).
    read_all(P).

release(P = #{sink := Sink}) ->
    case Sink of
        {ets, Tab} -> catch ets:delete(Tab);
        send -> ok
    end,
    P#{cur := undefined}.

waiting(#{awaiting := Q}) -> not queue:is_empty(Q).

%% A debug event reported by the hook.
event({sys, TS, Ev}, P = #{synced := true, behaviour := B}) ->
    case B of
        gen_statem -> sm_event(Ev, TS, P);
        gen_server -> srv_event(Ev, TS, P);
        _ -> other_event(Ev, TS, P)
    end;
event(_, P) -> P.

info({'$lumin', state_poll}, P = #{state := St}) when St =/= ended ->
    P1 = take_in(P),
    case P1 of
        #{state := ended} -> P1;
        _ -> erlang:send_after(?POLL_MS, self(), {'$lumin', state_poll}), P1
    end;
%% A view sent by ask_view/3's fun (one per gen_event handler), before the answer that closes its request
%% (tagged '$lumin' like the runtime's own messages, so that a probe ending takes it in while it drains).
info({'$lumin', state_part, Ref, V}, P = #{ref := Ref, parts := Ps}) ->
    P#{parts := [V | Ps]};
info({{'$lumin_state0', Ref}, _}, P0 = #{ref := Ref}) ->
    case collected(P0) of
        {none, P} ->
            lumin_probe:end_probe(target_down, io_lib:format("~ts did not give its state (it did not run a sys replace_state fun)",
                                                             [lumin_target:pid_text(maps:get(tracee, P))]), P);
        {{value, St}, P} -> info({'$lumin', state0, Ref, St}, P)
    end;
info({'$lumin', state0, Ref, St}, P = #{ref := Ref, behaviour := B}) ->
    case {B, St} of
        {gen_statem, {Name, Data}} -> P#{synced := true, cur_name := Name, cur := Data};
        _ -> P#{synced := true, cur := St}
    end;
info({{'$lumin_data', Ref}, Reply}, P0 = #{ref := Ref}) ->
    %% The events before this answer are in the table by now: their requests came first.
    P = #{awaiting := Q} = take_in(P0),
    case queue:out(Q) of
        {{value, E}, Q1} ->
            P1 = case E of
                     #{other := true} -> {Data, Px} = collected(P#{awaiting := Q1}), other_row(E, Data, Px);
                     _ -> awaited_row(E, Reply, P#{awaiting := Q1})
                 end,
            case maps:get(drained, P1, false) andalso queue:is_empty(Q1) of
                true -> lumin_probe:finalize(P1);
                false -> P1
            end;
        {empty, _} -> P
    end;
info(_, P) -> P.

%% What the hook wrote to the table so far, in order: events (rows), and the first state, which the events
%% before it are left out for. Past the mailbox budget of events waiting there, the probe ends (`mailbox');
%% after a flood ended it, what waits there is dropped, counted.
take_in(P = #{sink := {ets, Tab}, budget := #{mailbox := MaxQ, memory := MaxM}}) ->
    Bytes = ets:info(Tab, memory) * erlang:system_info(wordsize),
    P1 = case ets:info(Tab, size) of
             N when is_integer(N), N > MaxQ ->
                 lumin_probe:end_probe(mailbox, io_lib:format("~b events waited on the node for the probe (budget ~b)", [N, MaxQ]),
                                       P#{flooded => true});
             _ when Bytes > MaxM ->
                 lumin_probe:end_probe(memory, io_lib:format("the events waiting for the probe took ~b MB (budget ~b MB)",
                                                             [Bytes div 1048576, MaxM div 1048576]), P#{flooded => true});
             _ -> P
         end,
    read_all(P1);
take_in(P) -> P.

read_all(P1 = #{sink := {ets, Tab}}) ->
    case ets:tab2list(Tab) of
        [] -> P1;
        Objs ->
            {Last, _, _} = lists:last(Objs),
            ets:select_delete(Tab, [{{'$1', '_', '_'}, [{'=<', '$1', Last}], [true]}]),
            case P1 of
                #{flooded := true, state := ending} -> lumin_probe:drop(length([x || {_, TS, _} <- Objs, TS =/= state0]), P1);
                _ -> lists:foldl(fun written/2, P1, Objs)
            end
    end;
read_all(P) -> P.

written({_, state0, St}, P) -> info({'$lumin', state0, maps:get(ref, P), St}, P);
written({_, TS, Ev}, P) -> event({sys, TS, Ev}, P).

%% ---- in the watched process ----------------------------------------------------------------------------

%% @doc The sys debug function, run by the watched process for each of its debug events. It removes itself
%% (`done') once the probe has ended or is gone.
sys_event(FS = {Probe, Ref, Off, C, View, Sink, Prev}, Event, _Extra) ->
    %% Whether the probe is still there: a table sink's own existence says it (the table goes with the probe);
    %% is_process_alive/1 of a probe with messages waiting in its queue waits, in the watched process, until the
    %% probe has taken them in — each event would wait for a busy probe to be scheduled.
    case atomics:get(Off, 1) =:= 0 andalso (Sink =/= send orelse is_process_alive(Probe)) of
        true ->
            T0 = erlang:monotonic_time(),
            %% One count per message the process takes in (for the watchdog's rate).
            element(1, Event) =:= in andalso counters:add(C, 1, 1),
            TS = erlang:monotonic_time(nanosecond),
            {Small, Prev1} = small_event(Event, View, Prev),
            Kept = case Sink of
                       {ets, Tab} ->
                           %% (gone with its probe: the hook goes too)
                           try ets:insert(Tab, {erlang:unique_integer([monotonic]), TS, Small})
                           catch error:badarg -> false
                           end;
                       send -> Probe ! {'$lumin_event', Ref, {sys, TS, Small}}
                   end,
            %% The time this hook took in the watched process, which the watchdog holds to a share of its time.
            counters:add(C, 2, erlang:monotonic_time() - T0),
            case Kept of
                false -> done;
                _ when Prev1 =:= keep -> FS;
                _ -> setelement(7, FS, Prev1)
            end;
        false -> done
    end;
sys_event(_, _, _) -> done.

%% A debug event with its terms cut and its new state reduced to what is shipped of it (shipped/3), in the
%% watched process; and the view the next diff is taken against (`keep': the one the hook has).
small_event({out, Reply, To, NewState}, V = {_, Cut}, Prev) ->
    {Ship, Prev1} = shipped(NewState, V, Prev),
    {{out, lumin_lib:cut(Reply, Cut), To, Ship}, Prev1};
small_event({noreply, NewState}, V, Prev) ->
    {Ship, Prev1} = shipped(NewState, V, Prev),
    {{noreply, Ship}, Prev1};
small_event(Ev, V, _) -> {small_event(Ev, V), keep}.

small_event({in, Msg}, {_, Cut}) -> {in, lumin_lib:cut(Msg, Cut)};
small_event({in, Msg, From}, {_, Cut}) -> {in, lumin_lib:cut(Msg, Cut), From};
small_event({out, Reply, To}, {_, Cut}) -> {out, lumin_lib:cut(Reply, Cut), To};
small_event(Ev, {_, Cut}) when is_tuple(Ev) ->
    list_to_tuple([case is_atom(E) of true -> E; false -> lumin_lib:cut(E, Cut) end || E <- tuple_to_list(Ev)]);
small_event(Ev, {_, Cut}) -> lumin_lib:cut(Ev, Cut).

%% @doc What of a gen_server's new state leaves the watched process, and the view the next one is compared with:
%%   * `{whole, View}': the view when it fits the cut size (exact, as %whatif needs it), and the first one the
%%     hook sees (cut);
%%   * `{diff, Changes}': what changed against the view after the previous message (lumin_state_diff), when the
%%     view is bigger than the cut size: the values that changed, each cut, not the state;
%%   * `{too_many, Cut}': the view cut, when more than lumin_state_diff's most changes changed, or when the diff
%%     would take more bytes than the view itself.
%% Cost: O(cut size) for a view that fits or is cut; a diff walks only what changed (shared parts compare in one
%% step) and at most lumin_state_diff's step budget.
shipped(State, View = {_, Cut}, Prev) ->
    V = at_path(State, element(1, View)),
    Ship = case Prev of
               {prev, PV} ->
                   case lumin_lib:fits(V, Cut) of
                       true -> {whole, V};
                       false ->
                           case lumin_state_diff:changes(PV, V, Cut) of
                               too_many -> {too_many, lumin_lib:cut(V, Cut)};
                               {ok, Cs} ->
                                   %% The diff, unless the view is smaller than it (then the view, cut).
                                   DiffWords = lumin_lib:words(Cs, ?MAX_DIFF_WORDS),
                                   case lumin_lib:fits(V, DiffWords * 8) of
                                       true -> {too_many, lumin_lib:cut(V, Cut)};
                                       false -> {diff, Cs}
                                   end
                           end
                   end;
               none -> {whole, lumin_lib:cut(V, Cut)}
           end,
    {Ship, {prev, V}}.

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
    [lists:append([[A || A <- [lumin_target:existing_atom(B)], A =/= undefined],
                   [B],
                   [N || {N, <<>>} <- [string:to_integer(B)], is_integer(N)]]) || K <- Keys, B <- [lumin_target:text(K)]];
state_path(B) when is_binary(B) -> state_path(binary:split(B, <<".">>, [global])).

%% ---- which behaviour ----------------------------------------------------------------------------------

%% Which OTP behaviour runs the process, asked without a reply that carries its state (sys:get_status/1
%% answers with the state: a 40 MB copy, and a message probe on the same process would see it): it must answer a
%% small sys request within 1 s, and its behaviour is read from where it waits (gen_server, gen_statem, gen_event,
%% or any module with the sys loop's system_continue/3); only a process that is busy in a callback right now is
%% asked for its status.
sys_behaviour(Pid) ->
    case catch sys:statistics(Pid, get, ?SYS_TIMEOUT) of
        {ok, _} ->
            case erlang:process_info(Pid, current_function) of
                {current_function, {M, _, _}} when M =:= gen_server; M =:= gen_statem; M =:= gen_event -> M;
                %% Waiting in another sys-compliant loop (gen_server2, a proc_lib process of its own): that module
                %% is its behaviour, known without get_status's copy of its state.
                {current_function, {M, _, _}} when is_atom(M) ->
                    case erlang:function_exported(M, system_continue, 3) of
                        true -> M;
                        false -> status_behaviour(Pid)
                    end;
                _ -> status_behaviour(Pid)
            end;
        {'EXIT', {timeout, _}} ->
            throw({error, io_lib:format("~ts did not answer a sys request within 1 s: a state probe needs a gen_server, "
                                        "gen_statem or other OTP process that handles system messages (and is not stuck)",
                                        [lumin_target:pid_text(Pid)])});
        {'EXIT', {noproc, _}} -> throw({error, io_lib:format("~ts exited", [lumin_target:pid_text(Pid)])});
        Other -> throw({error, io_lib:format("~ts did not answer sys as an OTP process does: ~0P", [lumin_target:pid_text(Pid), Other, 10])})
    end.

status_behaviour(Pid) ->
    case catch sys:get_status(Pid, ?SYS_TIMEOUT) of
        {status, _, {module, M}, _} -> M;
        Other -> throw({error, io_lib:format("~ts did not answer sys as an OTP process does: ~0P", [lumin_target:pid_text(Pid), Other, 10])})
    end.

%% ---- gen_server -------------------------------------------------------------------------------------------

srv_event({in, Msg}, TS, P) -> srv_open(classify(Msg), TS, P);
srv_event({in, Msg, _From}, TS, P) -> srv_open({call, Msg}, TS, P);
srv_event({out, Reply, _To, NewState}, TS, P) -> srv_close(TS, {value, Reply}, {value, NewState}, P);
srv_event({noreply, NewState}, TS, P) -> srv_close(TS, none, {value, NewState}, P);
srv_event(_, _, P) -> P.

classify({'$gen_call', _From, Req}) -> {call, Req};
classify({'$gen_cast', Msg}) -> {cast, Msg};
classify(Msg) -> {info, Msg}.

srv_open({Kind, Msg}, TS, P = #{pending := Pending}) ->
    P1 = case Pending of
             undefined -> P;
             _ -> srv_close(TS, none, none, P)
         end,
    P1#{pending := #{time => TS, kind => Kind, msg => {value, Msg}}}.

%% A result without a message before it is a handle_continue.
srv_close(TS, Reply, NewState, P = #{pending := Pending, cur := Before, seq := Seq, tracee := Pid, pname := Name}) ->
    #{time := T0, kind := Kind, msg := Msg} = case Pending of
                                                 undefined -> #{time => TS, kind => continue, msg => none};
                                                 _ -> Pending
                                             end,
    %% What the hook shipped of the state after (shipped/3): the state after and what changed are known from it,
    %% or only what changed (a diff of a big state: the probe no longer knows the state after, only its changes).
    {After, StateAfter, Diff} =
        case NewState of
            none -> {Before, undefined, undefined};
            {value, {whole, V}} -> {V, term(V), diff_text(Before, V, P)};
            {value, {diff, Cs}} -> {?UNKNOWN, undefined, changes_text(Cs, P)};
            {value, {too_many, V}} -> {V, term(V), ?TOO_MANY}
        end,
    Row = [node(), Pid, Name, Seq, lumin_probe:us(T0, P), (TS - T0) / 1000, Kind, opt_term(Msg), known(Before),
           StateAfter, undefined, undefined, opt_term(Reply), Diff],
    lumin_probe:emit(Row, P#{pending := undefined, cur := After, seq := Seq + 1}).

%% What changed between two views the probe has, as text: only when both are whole (a cut view shows its
%% start, not what changed in it).
diff_text(Before, After, P = #{view := {_, Cut}, syntax := Sx, root := Root}) ->
    case is_cut(Before) orelse is_cut(After) orelse Before =:= ?UNKNOWN of
        true -> undefined;
        false ->
            case lumin_state_diff:changes(Before, After, Cut) of
                %% Two cut parts that look the same may still differ past their start.
                {ok, []} -> case has_cut(Before) orelse has_cut(After) of
                                true -> <<"(no change in what was shipped: part of the state was cut)">>;
                                false -> lumin_state_diff:text([], Sx, Root)
                            end;
                {ok, Cs} -> changes_text(Cs, P);
                too_many -> ?TOO_MANY
            end
    end.

%% Changes as the row's text, redacted first (the text is no term: lumin_columns cannot redact it).
changes_text(Cs, #{syntax := Sx, root := Root}) ->
    Keys = case Root of <<>> -> []; _ -> binary:split(Root, <<".">>, [global]) end,
    %% (lumin_redact:text/1: the marker reads [redacted], and secrets remembered elsewhere are taken out of the text)
    lumin_redact:text(lumin_state_diff:text(lumin_state_diff:redact(Cs, Keys), Sx, Root)).

%% Whether a view holds a cut part (views are at most the cut size: walking one is cheap).
has_cut({lumin_cut, B, _}) when is_integer(B) -> true;
has_cut(T) when is_tuple(T) -> has_cut(tuple_to_list(T));
has_cut([H | T]) -> has_cut(H) orelse has_cut(T);
has_cut(M) when is_map(M) -> has_cut(maps:to_list(M));
has_cut(_) -> false.

is_cut({lumin_cut, B, _}) when is_integer(B) -> true;
is_cut(_) -> false.

known(?UNKNOWN) -> undefined;
known(V) -> term(V).

%% The language rows' text is written in: Elixir's when it runs here.
syntax() ->
    case erlang:function_exported('Elixir.Kernel', inspect, 2) of
        true -> elixir;
        false -> erlang
    end.

%% The --path as text, put before the paths of changes under it.
path_root(undefined) -> <<>>;
path_root(nil) -> <<>>;
path_root(B) when is_binary(B) -> B;
path_root(Keys) when is_list(Keys) -> iolist_to_binary(lists:join(".", [lumin_target:text(K) || K <- Keys])).

%% ---- other processes that answer sys (gen_event, proc_lib processes using sys:handle_debug) -------------
%% Their debug events say only which message came in ({in, Msg} or {in, Msg, From}). The state after it is
%% asked of the process as the event is seen: its answer comes after it has handled that message.

other_event(In, TS, P) when element(1, In) =:= in, tuple_size(In) =:= 2; element(1, In) =:= in, tuple_size(In) =:= 3 ->
    {Kind, Msg} = case In of
                      {in, M, _From} -> {call, M};
                      {in, M} -> classify(M)
                  end,
    case lumin_probe:take(P) of
        {true, P1 = #{seq := Seq, awaiting := Q, tracee := Pid, ref := Ref}} ->
            ask_data(Pid, Ref, P),
            E = #{other => true, seq => Seq, time => TS, kind => Kind, msg => Msg},
            lumin_probe:check_limit(P1#{seq := Seq + 1, awaiting := queue:in(E, Q)});
        {false, P1} -> P1
    end;
other_event(_, _, P) -> P.

%% Ask the watched process for its state (data) after the event just seen. A gen_statem is asked with a
%% replace_state request whose fun sends the view (its --path, cut) and throws, so its data stays as it was and
%% the answer to the request is that small error, never the whole data (a get_state request would copy it out
%% whole, on every event). The view comes as `{{'$lumin_data', Ref}, View}', in order with its other replies.
%% (Other behaviours: ask_view/3.)
ask_data(Pid, Ref, #{view := View, behaviour := gen_statem}) ->
    Self = self(),
    Fun = fun({Name, Data}) -> Self ! {{'$lumin_data', Ref}, {Name, view(Data, View)}}, throw(lumin_view);
             (St) -> Self ! {{'$lumin_data', Ref}, view(St, View)}, throw(lumin_view)
          end,
    Pid ! {system, {Self, {'$lumin_view_done', Ref}}, {replace_state, Fun}};
ask_data(Pid, _Ref, P) ->
    ask_view(Pid, '$lumin_data', P).

%% Ask a gen_event (or another process that answers sys) for the view of its state without a whole copy of it.
%% Through sys there is no request that does not answer with the whole state: get_state is the state, and a
%% gen_event's replace_state applies the fun to each handler's {Module, Id, State} — a fun that throws is
%% caught per handler — and answers with every handler's state, whole (as get_status does). So the fun sends
%% the view of what it is given (each handler's state at --path, cut) to the probe and gives it back unchanged,
%% and the answer goes to a process that has already exited: the VM drops a message to a dead local process
%% without copying it. A small sys request after it (statistics) answers to the probe, in order after the
%% views: `{{Tag, Ref}, _}' closes the request (collected/1). The fun's time counts in the hook's cost.
ask_view(Pid, Tag, #{ref := Ref, view := View, behaviour := B, dead := Dead, counter := C}) ->
    Self = self(),
    Fun = fun(H) ->
                  T0 = erlang:monotonic_time(),
                  Self ! {'$lumin', state_part, Ref, part(B, H, View)},
                  counters:add(C, 2, erlang:monotonic_time() - T0),
                  H
          end,
    Pid ! {system, {Dead, Ref}, {replace_state, Fun}},
    Pid ! {system, {Self, {Tag, Ref}}, {debug, {statistics, get}}}.

part(gen_event, {M, Id, S}, View) -> {M, Id, view(S, View)};
part(_, St, View) -> view(St, View).

%% The views ask_view/3's fun sent: a gen_event's handlers in order (its state as get_state shows it, each
%% handler's state reduced to its view), another process's one view; none when the fun did not run.
collected(P = #{parts := Ps, behaviour := gen_event}) -> {{value, lists:reverse(Ps)}, P#{parts := []}};
collected(P = #{parts := [V]}) -> {{value, V}, P#{parts := []}};
collected(P) -> {none, P#{parts := []}}.

%% A pid no process has: answers sent to it are dropped by the VM, uncopied.
dead_pid() ->
    {Pid, Mon} = spawn_monitor(fun() -> ok end),
    receive {'DOWN', Mon, process, Pid, _} -> Pid end.

%% `Reply' is a get_state answer: the state itself (gen_statem: {StateName, Data}), or an error; none when the
%% process went before answering.
awaited_row(E, {error, {callback_failed, _, _}}, P) -> awaited_row(E, none, P);
awaited_row(E = #{other := true}, none, P) -> other_row(E, none, P);
awaited_row(E = #{other := true}, St, P) -> other_row(E, {value, St}, P);
awaited_row(E, {_StateName, Data}, P) -> sm_row(E, {value, Data}, P);
awaited_row(E, _, P) -> sm_row(E, none, P).

other_row(#{seq := Seq, time := T0, kind := Kind, msg := Msg}, Data, P = #{cur := Before, tracee := Pid, pname := Name}) ->
    Row = [node(), Pid, Name, Seq, lumin_probe:us(T0, P), undefined, Kind, term(Msg), known(Before), opt_term(Data),
           undefined, undefined, undefined, data_diff(Before, Data, P)],
    Cur = case Data of {value, D} -> D; none -> Before end,
    lumin_probe:add_row(Row, P#{cur := Cur}).

%% ---- gen_statem -----------------------------------------------------------------------------------------

sm_event({in, Event, StateName}, TS, P) ->
    P#{pending := #{time => TS, event => Event, reply => none, name_before => StateName}};
sm_event({out, Reply, From}, _TS, P = #{pending := Pd = #{event := {{call, From}, _}}}) ->
    P#{pending := Pd#{reply := {value, Reply}}};
sm_event({Verdict, Event, StateName, Next}, TS, P = #{pending := Pd0}) when Verdict =:= consume; Verdict =:= postpone ->
    Pd = case Pd0 of
             #{event := Event} -> Pd0;
             %% A postponed event handled later, or an inserted one: no `in' came before it.
             _ -> #{time => TS, event => Event, reply => none, name_before => StateName, no_in => true}
         end,
    P1 = P#{pending := undefined, cur_name := Next},
    case lumin_probe:take(P1) of
        {true, P2 = #{seq := Seq, awaiting := Q, tracee := Pid}} ->
            %% The data after this event: asked of the process now, answered in order with its other replies.
            ask_data(Pid, maps:get(ref, P), P),
            E = Pd#{seq => Seq, end_time => TS, name_after => Next},
            lumin_probe:check_limit(P2#{seq := Seq + 1, awaiting := queue:in(E, Q)});
        {false, P2} -> P2
    end;
sm_event(_, _, P) -> P.

sm_row(E = #{seq := Seq, time := T0, end_time := T1, event := {Type, Content}, reply := Reply,
             name_before := NB, name_after := NA}, Data, P = #{cur := Before, tracee := Pid, pname := Name}) ->
    Duration = case E of
                   #{no_in := true} -> undefined;
                   _ -> (T1 - T0) / 1000
               end,
    Row = [node(), Pid, Name, Seq, lumin_probe:us(T0, P), Duration, event_type(Type), term(Content), known(Before),
           opt_term(Data), term(NB), term(NA), opt_term(Reply), data_diff(Before, Data, P)],
    Cur = case Data of {value, D} -> D; none -> Before end,
    lumin_probe:add_row(Row, P#{cur := Cur}).

data_diff(Before, {value, D}, P) -> diff_text(Before, D, P);
data_diff(_, none, _) -> undefined.

event_type({call, _}) -> call;
event_type({timeout, _}) -> timeout;
event_type(T) when is_atom(T) -> T;
event_type(_) -> other.

%% The watched process is gone, or the probe is ending: what it had started has no result, what waits for data
%% gets none.
finish(P0 = #{sink := {ets, _}}) ->
    finish_rows(take_in(P0));
finish(P) -> finish_rows(P).

finish_rows(P = #{behaviour := B, awaiting := Q}) when B =/= gen_server ->
    lists:foldl(fun(E, Acc) -> awaited_row(E, none, Acc) end, P#{awaiting := queue:new(), pending := undefined},
                queue:to_list(Q));
finish_rows(P = #{pending := Pending}) when Pending =/= undefined ->
    #{time := T0} = Pending,
    srv_close(T0, none, none, P);
finish_rows(P) -> P.

%% A term cell that is present, even when the term is the atom `undefined'.
term(V) -> lumin_columns:present(V).

opt_term({value, V}) -> term(V);
opt_term(none) -> undefined.
