%% @doc The what-if runner. It runs on the shadow node only — a node the bridge starts with OTP's `peer'
%% over standard_io, so it has no distribution at all — and is never loaded on a target (it is not in
%% lumin_lib:agent_modules/0).
%%
%% What it guarantees, and why:
%%   * Nothing reaches the target. The shadow is not a distributed node: it has no name, no epmd entry, no
%%     cookie and no connection; a message sent to a pid of the target (one rebuilt from a recorded term) is
%%     dropped by the VM of a node that is not alive, and a call to a node name fails with `noconnection'.
%%     The bridge talks to it only through the peer's stdin/stdout.
%%   * Sends are listed, not delivered. Each replay runs in a process of its own, traced with the `send'
%%     flag by the runner (its tracer), so every message it tries to send is a row of its `sent' column.
%%     Every name registered on the target (and not on the shadow) is registered here by a sink: a process
%%     that takes what it is sent and never answers, so `send(Shop.Inventory, msg)' works as it did in
%%     production and goes nowhere.
%%   * A call out ends the replay at once. A `$gen_call' (GenServer.call, :gen_statem.call, :gen.call) to a
%%     sink or to a process of another node can only time out here: its answer would come from the target,
%%     which a replay must not ask. Rather than wait the caller's own timeout (5 s by default, for every such
%%     row), the replay is stopped as soon as the call is sent and its row says `would_call' NAME: the result
%%     depends on a reply the shadow cannot know.
%%   * A replay that loops or blocks is killed at its timeout (`timeout_ms', default 5 s) and its row says so.
%%     The runner lives on; the bridge starts a new shadow if the node itself goes.
%%   * What a replay prints goes to a null I/O server (the peer's stdout is the bridge's control channel).
%%
%% Replays run one after another, so the replayed durations are not disturbed by each other, and the whole
%% batch comes back as one columnar batch (lumin_columns, kernel/tables/schemas.ts `whatif'), not a round
%% trip per row.
-module(lumin_shadow).
-export([setup/1, load/1, forget/1, compile/2, replay/1, run_tests/3, format/2]).

-include("lumin_contract.hrl").

-define(SINKS, lumin_shadow_sinks).
-define(IO, lumin_shadow_io).
%% Differences listed per row in `diff', at most.
-define(DIFF_ENTRIES, 6).
%% A printed term in a diff, at most (characters).
-define(DIFF_TERM, 160).
%% A row whose terms hold a value the node redacted (lumin_redact's marker): the secret never left the node,
%% so the call cannot be re-run as it was; a function given with the flag can put a value in its place.
-define(REDACTED_ROW(Flag), <<"a value was redacted on the node ([redacted]): the secret never left it, so this row cannot be re-run as recorded; give one in its place with ", Flag/binary>>).

%% ---- set-up -----------------------------------------------------------------------------------------------

%% @doc Start what replays need on this node (once) and register a sink under each of `Names' that is free
%% here. Elixir's own applications are the shadow's (started when Elixir is on its code path); nothing of the
%% target's applications is ever started.
-spec setup([atom()]) -> #{elixir := boolean(), sinks := non_neg_integer()}.
setup(Names) ->
    Elixir = code:which('Elixir.Code') =/= non_existing,
    case whereis(?IO) of
        undefined ->
            %% Nothing a replay logs may reach the peer's stdout (the bridge's channel to this node).
            logger:set_primary_config(level, none),
            _ = [logger:remove_handler(Id) || Id <- logger:get_handler_ids()],
            case Elixir of
                true ->
                    application:set_env(logger, backends, [], [{persistent, true}]),
                    application:set_env(logger, console, [], [{persistent, true}]),
                    {ok, _} = application:ensure_all_started(elixir),
                    _ = application:ensure_all_started(logger);
                false -> ok
            end,
            start_holder();
        _ -> ok
    end,
    ?SINKS ! {add, Names, self()},
    receive {?SINKS, N} -> #{elixir => Elixir, sinks => N} after 10000 -> #{elixir => Elixir, sinks => 0} end.

%% One process owns the sinks' table and the null I/O server; it lives as long as the node.
start_holder() ->
    Parent = self(),
    spawn(fun() ->
                  register(?SINKS, self()),
                  ets:new(?SINKS, [named_table, public, set, {read_concurrency, true}]),
                  %% Terms in the result are redacted as on a node (lumin_columns does it); its table is ours.
                  lumin_redact:start(),
                  Io = spawn_link(fun null_io/0),
                  register(?IO, Io),
                  Parent ! {?SINKS, ready},
                  holder_loop()
          end),
    receive {?SINKS, ready} -> ok after 5000 -> ok end.

holder_loop() ->
    receive
        {add, Names, From} ->
            New = [add_sink(N) || N <- Names, is_atom(N), whereis(N) =:= undefined],
            From ! {?SINKS, length([ok || ok <- New])},
            holder_loop();
        _ -> holder_loop()
    end.

add_sink(Name) ->
    Pid = spawn(fun sink/0),
    try register(Name, Pid) of
        true ->
            ets:insert(?SINKS, [{Name, Pid}, {Pid, Name}]),
            ok
    catch error:badarg -> exit(Pid, kill), taken
    end.

%% A sink takes every message and answers none (the runner lists them from its trace).
sink() ->
    receive _ -> sink() end.

%% Output of a replay goes nowhere; input is at its end.
null_io() ->
    receive
        {io_request, From, ReplyAs, Req} ->
            From ! {io_reply, ReplyAs, io_answer(Req)},
            null_io();
        _ -> null_io()
    end.

io_answer({get_chars, _, _}) -> eof;
io_answer({get_chars, _, _, _}) -> eof;
io_answer({get_line, _}) -> eof;
io_answer({get_line, _, _}) -> eof;
io_answer({get_until, _, _, _, _}) -> eof;
io_answer({get_until, _, _, _, _, _}) -> eof;
io_answer({get_geometry, _}) -> {error, enotsup};
io_answer(_) -> ok.

%% @doc Load object code fetched from the target: [{Module, File, Binary}]. Returns the modules that would
%% not load, with why (a binary made by a newer OTP than this node's, typically).
-spec load([{module(), string(), binary()}]) -> [{module(), term()}].
load(Modules) ->
    lists:flatmap(fun({M, File, Bin}) ->
                          _ = code:purge(M),
                          case code:load_binary(M, File, Bin) of
                              {module, M} -> [];
                              {error, Why} -> [{M, Why}]
                          end
                  end, Modules).

%% @doc Remove modules (a replacement compiled here that the target does not have).
-spec forget([module()]) -> ok.
forget(Modules) ->
    _ = [begin code:purge(M), code:delete(M), code:purge(M) end || M <- Modules],
    ok.

%% @doc Compile replacement code here (never on the target) and load it: an Elixir source with its
%% defmodules, or an Erlang module. {ok, Modules} or {error, Text}.
-spec compile(elixir | erlang, binary()) -> {ok, [module()]} | {error, binary()}.
compile(elixir, Source) ->
    quiet(fun() ->
                  try 'Elixir.Code':compile_string(Source, <<"whatif">>) of
                      Mods -> {ok, [M || {M, _} <- Mods]}
                  catch
                      Class:Reason:Stack -> {error, error_text(elixir, Class, Reason, Stack)}
                  end
          end);
compile(erlang, Source) ->
    case erlang_forms(unicode:characters_to_list(Source)) of
        {ok, Forms} ->
            case compile:forms(Forms, [binary, return_errors, {source, "whatif.erl"}]) of
                {ok, M, Bin} ->
                    _ = code:purge(M),
                    case code:load_binary(M, "whatif.erl", Bin) of
                        {module, M} -> {ok, [M]};
                        {error, Why} -> {error, iolist_to_binary(io_lib:format("~p would not load: ~p", [M, Why]))}
                    end;
                {error, Errors, _} -> {error, erlang_errors(Errors)}
            end;
        {error, Text} -> {error, Text}
    end.

erlang_forms(Text) -> erlang_forms(Text, 1, []).
erlang_forms(Text, Line, Acc) ->
    case erl_scan:tokens([], Text, Line) of
        {done, {ok, Tokens, End}, Rest} ->
            case erl_parse:parse_form(Tokens) of
                {ok, Form} -> erlang_forms(Rest, End, [Form | Acc]);
                {error, {L, Mod, Desc}} -> {error, iolist_to_binary(io_lib:format("line ~p: ~ts", [L, Mod:format_error(Desc)]))}
            end;
        {done, {eof, _}, _} -> {ok, lists:reverse(Acc)};
        {done, {error, {L, Mod, Desc}, _}, _} -> {error, iolist_to_binary(io_lib:format("line ~p: ~ts", [L, Mod:format_error(Desc)]))};
        {more, _} when Acc =/= [] -> {ok, lists:reverse(Acc)};
        {more, _} -> {error, <<"the code is not complete: each Erlang form ends with a full stop">>}
    end.

erlang_errors(Errors) ->
    iolist_to_binary([io_lib:format("line ~p: ~ts~n", [line(L), Mod:format_error(D)]) || {_, Es} <- Errors, {L, Mod, D} <- Es]).

line({L, _}) -> L;
line(L) -> L.

%% Run with output going nowhere (warnings a compile prints).
quiet(Fun) ->
    Old = group_leader(),
    group_leader(whereis(?IO), self()),
    try Fun() after group_leader(Old, self()) end.

%% ---- replays ------------------------------------------------------------------------------------------------

%% @doc Replay a batch. Job: #{kind := calls | state, rows := [...], timeout_ms, syntax := elixir | erlang,
%% args_fun, state_fun (source text or undefined), node (the recording's node, as text), and for state:
%% module, behaviour}. Returns {ok, Batch} (columns of the `whatif' table) or {error, Text}.
-spec replay(map()) -> {ok, binary()} | {error, binary()}.
replay(Job = #{rows := Rows}) when is_binary(Rows) ->
    %% Rows come compressed (the peer's standard I/O channel costs per byte), and so does the batch back.
    case replay(Job#{rows := binary_to_term(Rows)}) of
        {ok, Batch} -> {ok, {compressed, term_to_binary(Batch, [compressed])}};
        Error -> Error
    end;
replay(Job = #{syntax := Syntax}) ->
    try
        ArgsFun = user_fun(Syntax, maps:get(args_fun, Job, undefined), "--args"),
        StateFun = user_fun(Syntax, maps:get(state_fun, Job, undefined), "--state"),
        Ctx = Job#{args_fun => ArgsFun, state_fun => StateFun, io => whereis(?IO),
                   timeout_ms => maps:get(timeout_ms, Job, 5000)},
        %% A runner of its own: its mailbox holds only this batch's messages and trace messages.
        Self = self(),
        Ref = make_ref(),
        {Pid, Mon} = spawn_monitor(fun() -> Self ! {Ref, run_rows(Ctx)} end),
        receive
            {Ref, Rows} -> erlang:demonitor(Mon, [flush]), {ok, batch(Rows, Ctx)};
            {'DOWN', Mon, process, Pid, Why} -> {error, iolist_to_binary(io_lib:format("the replay runner failed: ~P", [Why, 20]))}
        end
    catch throw:{error, Text} -> {error, unicode:characters_to_binary(Text)}
    end.

%% A --args / --state function from its source text, evaluated here.
user_fun(_, undefined, _) -> undefined;
user_fun(Syntax, Source, Flag) ->
    Value = try eval(Syntax, Source)
            catch C:R:St -> throw({error, [Flag, " does not evaluate on the shadow node: ", error_text(Syntax, C, R, St)]})
            end,
    case Value of
        F when is_function(F, 1) -> F;
        Other -> throw({error, [Flag, " must be a function of one argument (",
                                case Syntax of elixir -> "fn args -> … end"; erlang -> "fun(Args) -> … end" end,
                                "); it is ", format(Syntax, Other)]})
    end.

eval(elixir, Source) ->
    {V, _} = quiet(fun() -> 'Elixir.Code':eval_string(Source) end),
    V;
eval(erlang, Source) ->
    Text = string:trim(unicode:characters_to_list(Source)),
    Dot = case lists:last(Text) of $. -> Text; _ -> Text ++ "." end,
    {ok, Tokens, _} = erl_scan:string(Dot),
    {ok, Exprs} = erl_parse:parse_exprs(Tokens),
    {value, V, _} = erl_eval:exprs(Exprs, erl_eval:new_bindings()),
    V.

run_rows(Ctx = #{kind := calls, rows := Rows}) -> [call_row(R, Ctx) || R <- Rows];
run_rows(Ctx = #{kind := state, rows := Rows}) -> [state_row(R, Ctx) || R <- Rows].

%% A row of the result, before it becomes columns.
-record(r, {row, seq, start_us, function, args, outcome, same, recorded, replayed, recorded_us, replayed_us,
            state, recorded_state, replayed_state, diff, sent = [], would_call, error}).

%% ---- call rows: {Row, StartUs, Module, Function, ArgsBin, Outcome, ResultBin, ExClass, ExReasonBin, DurUs} -----

call_row({Row, StartUs, M, F, ArgsBin, Outcome, ResultBin, ExClass, ReasonBin, DurUs}, Ctx) ->
    Base = #r{row = Row, start_us = StartUs, recorded_us = DurUs, args = raw(ArgsBin)},
    Recorded = recorded_call(Outcome, ResultBin, ExClass, ReasonBin),
    Base1 = Base#r{recorded = recorded_term(Recorded)},
    case ArgsBin =:= undefined orelse rebuild(ArgsBin) of
        true ->
            Base1#r{function = fmt_mfa(M, F, undefined), outcome = not_replayed,
                    error = <<"this call was recorded without its arguments: arm the probe with --args to replay its calls">>};
        {error, Why} ->
            Base1#r{function = fmt_mfa(M, F, undefined), outcome = not_replayed, error = Why};
        {ok, Args0} when not is_list(Args0) ->
            Base1#r{function = fmt_mfa(M, F, undefined), outcome = not_replayed,
                    error = <<"the recorded arguments are not a list">>};
        {ok, Args0} ->
            case apply_user(maps:get(args_fun, Ctx), Args0, Ctx, "--args") of
                {error, Why} ->
                    Base1#r{function = fmt_mfa(M, F, length(Args0)), outcome = not_replayed, error = Why};
                {ok, Args} when not is_list(Args) ->
                    Base1#r{function = fmt_mfa(M, F, length(Args0)), outcome = not_replayed,
                            error = iolist_to_binary(["--args must return an argument list; it returned ",
                                                      format(maps:get(syntax, Ctx), Args)])};
                {ok, Args} ->
                    case redacted(Args) of
                        true ->
                            Base1#r{function = fmt_mfa(M, F, length(Args)), outcome = not_replayed, error = ?REDACTED_ROW(<<"--args">>)};
                        false -> call_replay(Base1, M, F, Args, Args0, ArgsBin, Recorded, Ctx)
                    end
            end
    end.

call_replay(Base1, M, F, Args, Args0, ArgsBin, Recorded, Ctx) ->
                    R0 = Base1#r{function = fmt_mfa(M, F, length(Args)),
                                 args = case Args =:= Args0 of true -> raw(ArgsBin); false -> Args end},
                    Run = run(fun() -> apply(M, F, Args) end, Ctx),
                    finish_call(R0, Recorded, Run, Ctx).

recorded_call(_, undefined, undefined, undefined) -> unknown;
recorded_call(<<"return">>, Bin, _, _) ->
    case rebuild(Bin) of {ok, V} -> {return, V}; _ -> unknown end;
recorded_call(<<"exception">>, _, Class, Bin) when is_binary(Class) ->
    case rebuild(Bin) of
        {ok, V} -> {exception, binary_to_atom(Class, utf8), V};
        _ -> unknown
    end;
recorded_call(_, _, _, _) -> unknown.

recorded_term(unknown) -> undefined;
recorded_term({return, V}) -> V;
recorded_term({exception, C, R}) -> {C, R}.

finish_call(R, Recorded, {Outcome, Value, Us, Sent, Extra}, Ctx = #{syntax := Syntax}) ->
    R1 = R#r{sent = Sent, replayed_us = Us},
    case Outcome of
        return ->
            Same = same(Recorded, {return, Value}),
            R1#r{outcome = return, replayed = Value, same = Same,
                 diff = diff_text(Same, Syntax, [{<<"result">>, Recorded, {return, Value}}])};
        exception ->
            {Class, Reason, Stack} = Value,
            Same = same(Recorded, {exception, Class, Reason}),
            R1#r{outcome = exception, replayed = {Class, Reason}, same = Same,
                 error = error_text(Syntax, Class, lumin_redact:term(Reason), Stack),
                 diff = diff_text(Same, Syntax, [{<<"result">>, Recorded, {exception, Class, Reason}}])};
        would_call ->
            R1#r{outcome = would_call, would_call = Extra, same = undefined,
                 error = iolist_to_binary(["would call ", Extra, ": the call was not delivered (its answer would come from the node), so the replay stopped there"])};
        timeout ->
            R1#r{outcome = timeout, same = undefined,
                 error = iolist_to_binary(io_lib:format("still running after ~b ms: stopped (--timeout sets the limit)", [maps:get(timeout_ms, Ctx)]))}
    end.

%% ---- state rows: {Row, Seq, TimeUs, Kind, MsgBin, BeforeBin, AfterBin, ReplyBin, DurUs, NameBeforeBin, NameAfterBin} --

state_row({Row, Seq, TimeUs, Kind, MsgBin, BeforeBin, AfterBin, ReplyBin, DurUs, NameBin, NameAfterBin},
          Ctx = #{module := Mod, behaviour := Behaviour, syntax := Syntax}) ->
    Base = #r{row = Row, seq = Seq, start_us = TimeUs, recorded_us = DurUs, args = raw(MsgBin),
              recorded = raw(ReplyBin), recorded_state = raw(AfterBin)},
    %% A state bigger than the probe's cut size is recorded as what each message changed, not the state itself.
    Rebuilt = [rebuild(MsgBin), case BeforeBin of
                                    undefined -> {error, <<"only what changed in the state was recorded (the state was bigger than the probe's cut size), so it cannot be rebuilt; arm the probe again with a larger --cut">>};
                                    _ -> rebuild(BeforeBin)
                                end],
    case {Rebuilt, callback(Behaviour, Kind, Mod, NameBin)} of
        {_, {error, Why}} -> Base#r{function = fmt_mfa(Mod, Behaviour, undefined), outcome = not_replayed, error = Why};
        {[{error, Why} | _], {ok, Fn, _}} -> Base#r{function = Fn, outcome = not_replayed, error = Why};
        {[_, {error, Why}], {ok, Fn, _}} -> Base#r{function = Fn, outcome = not_replayed, error = Why};
        {[{ok, Msg}, {ok, State0}], {ok, Fn, Call}} ->
            case apply_user(maps:get(state_fun, Ctx), State0, Ctx, "--state") of
                {error, Why} -> Base#r{function = Fn, outcome = not_replayed, error = Why};
                {ok, State} ->
                    case redacted(Msg) orelse redacted(State) of
                        true -> Base#r{function = Fn, outcome = not_replayed, error = ?REDACTED_ROW(<<"--state">>)};
                        false -> state_replay(Base, Fn, Call, Msg, State, State0, BeforeBin, {ReplyBin, AfterBin, NameAfterBin}, Syntax, Ctx)
                    end
            end
    end.

state_replay(Base, Fn, Call, Msg, State, State0, BeforeBin, {ReplyBin, AfterBin, NameAfterBin}, Syntax, Ctx) ->
                    R0 = Base#r{function = Fn, state = case State =:= State0 of true -> raw(BeforeBin); false -> State end},
                    Run = run(fun() -> Call(Msg, State) end, Ctx),
                    finish_state(R0, {rebuild(ReplyBin), rebuild(AfterBin), rebuild(NameAfterBin)}, Run, Syntax, Ctx).

%% The callback a state row re-runs, as a fun of (Message, State) giving {Reply, NewState, NewStateName}
%% (`none' where there is none).
callback(gen_server, Kind, Mod, _) ->
    case Kind of
        <<"call">> -> {ok, fmt_mfa(Mod, handle_call, 3),
                       fun(Msg, St) ->
                               Tag = make_ref(),
                               server_result(Mod:handle_call(Msg, {self(), Tag}, St), Tag)
                       end};
        <<"cast">> -> {ok, fmt_mfa(Mod, handle_cast, 2), fun(Msg, St) -> server_result(Mod:handle_cast(Msg, St), none) end};
        <<"info">> -> {ok, fmt_mfa(Mod, handle_info, 2), fun(Msg, St) -> server_result(Mod:handle_info(Msg, St), none) end};
        Other -> {error, iolist_to_binary(["a ", Other, " row has no message to replay (only call, cast and info rows can be)"])}
    end;
callback(gen_statem, Kind, Mod, NameBin) ->
    case rebuild(NameBin) of
        {ok, StateName} ->
            Type = case Kind of
                       <<"call">> -> call;
                       K -> binary_to_atom(K, utf8)
                   end,
            Mode = case Mod:callback_mode() of
                       M when is_atom(M) -> M;
                       L when is_list(L) -> hd([M || M <- L, M =:= state_functions orelse M =:= handle_event_function])
                   end,
            Fn = case Mode of
                     state_functions -> fmt_mfa(Mod, StateName, 3);
                     handle_event_function -> fmt_mfa(Mod, handle_event, 4)
                 end,
            {ok, Fn,
             fun(Event, Data) ->
                     Tag = make_ref(),
                     From = {self(), Tag},
                     T = case Type of call -> {call, From}; _ -> Type end,
                     Result = case Mode of
                                  state_functions -> Mod:StateName(T, Event, Data);
                                  handle_event_function -> Mod:handle_event(T, Event, StateName, Data)
                              end,
                     statem_result(Result, StateName, Data, From)
             end};
        _ -> {error, <<"the recorded state name cannot be rebuilt">>}
    end.

server_result(Result, Tag) ->
    Replied = fun() -> receive {Tag, R} -> {value, R} after 0 -> none end end,
    case Result of
        {reply, R, S} -> {{value, R}, {value, S}, none};
        {reply, R, S, _} -> {{value, R}, {value, S}, none};
        {noreply, S} -> {Replied(), {value, S}, none};
        {noreply, S, _} -> {Replied(), {value, S}, none};
        {stop, _, R, S} -> {{value, R}, {value, S}, none};
        {stop, _, S} -> {Replied(), {value, S}, none};
        Other -> erlang:error({bad_return_value, Other})
    end.

statem_result(Result, Name, Data, From) ->
    {NewName, NewData, Actions} =
        case Result of
            {next_state, N, D} -> {N, D, []};
            {next_state, N, D, A} -> {N, D, A};
            {keep_state, D} -> {Name, D, []};
            {keep_state, D, A} -> {Name, D, A};
            keep_state_and_data -> {Name, Data, []};
            {keep_state_and_data, A} -> {Name, Data, A};
            {repeat_state, D} -> {Name, D, []};
            {repeat_state, D, A} -> {Name, D, A};
            repeat_state_and_data -> {Name, Data, []};
            {repeat_state_and_data, A} -> {Name, Data, A};
            {stop, _} -> {Name, Data, []};
            {stop, _, D} -> {Name, D, []};
            {stop_and_reply, _, A} -> {Name, Data, A};
            {stop_and_reply, _, A, D} -> {Name, D, A};
            Other -> erlang:error({bad_return_from_state_function, Other})
        end,
    Replies = [R || {reply, F, R} <- lists:flatten([Actions]), F =:= From],
    Reply = case Replies of
                [R | _] -> {value, R};
                [] -> {_, Tag} = From, receive {Tag, R} -> {value, R} after 0 -> none end
            end,
    {Reply, {value, NewData}, {value, NewName}}.

finish_state(R, {RecReply, RecAfter, RecName}, {Outcome, Value, Us, Sent, Extra}, Syntax, Ctx) ->
    R1 = R#r{sent = Sent, replayed_us = Us},
    case Outcome of
        return ->
            {Reply, {value, NewState}, NewName} = Value,
            Rep = case Reply of {value, V} -> V; none -> undefined end,
            Parts = [{<<"reply">>, recorded_opt(RecReply), {return, Rep}},
                     {<<"state">>, recorded_opt(RecAfter), {return, NewState}}]
                    ++ case NewName of
                           {value, N} -> [{<<"state name">>, recorded_opt(RecName), {return, N}}];
                           none -> []
                       end,
            Same = all_same([same(Rec, New) || {_, Rec, New} <- Parts]),
            R1#r{outcome = return, replayed = Rep, replayed_state = NewState, same = Same,
                 diff = diff_text(Same, Syntax, Parts)};
        _ -> finish_call(R1, unknown, {Outcome, Value, Us, Sent, Extra}, Ctx)
    end.

recorded_opt({ok, undefined}) -> {return, undefined};
recorded_opt({ok, V}) -> {return, V};
recorded_opt(_) -> unknown.

all_same(L) ->
    case lists:member(false, L) of
        true -> false;
        false -> case lists:member(undefined, L) of true -> undefined; false -> true end
    end.

%% ---- running one replay ------------------------------------------------------------------------------

%% Run Fun in a process of its own, traced for sends by this runner, with output to the null I/O server.
%% {return, Value, Us, Sent, _} | {exception, {Class, Reason, Stack}, Us, Sent, _} |
%% {would_call, _, Us, Sent, Name} | {timeout, _, Us, Sent, _}.
run(Fun, #{timeout_ms := Timeout, io := Io}) ->
    Runner = self(),
    Ref = make_ref(),
    Worker = spawn(fun() ->
                           receive {go, Ref} -> ok end,
                           put('$lumin_runner', Runner),
                           T0 = erlang:monotonic_time(),
                           Result = try {return, Fun()}
                                    catch Class:Reason:Stack -> {exception, {Class, Reason, Stack}}
                                    end,
                           T1 = erlang:monotonic_time(),
                           Runner ! {Ref, Result, T1 - T0}
                   end),
    group_leader(Io, Worker),
    erlang:trace(Worker, true, [send, {tracer, Runner}]),
    Started = erlang:monotonic_time(),
    Worker ! {go, Ref},
    wait(Worker, Ref, Started, erlang:monotonic_time(millisecond) + Timeout, #{runner => Runner, io => Io}, []).

wait(Worker, Ref, Started, Deadline, Skip, Sent) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Ref, {Outcome, Value}, Native} ->
            %% Its trace messages are already here: the VM sends them in the traced process's own context,
            %% so they come before its later message to this runner (signals between two processes keep
            %% their order). No trace_delivered round trip (it costs ~100 µs, twenty times the replay).
            {Outcome, Value, us(Native), lists:reverse(queued(Worker, Skip, Sent)), undefined};
        {trace, Worker, Event, Msg, To} when Event =:= send; Event =:= send_to_non_existing_process ->
            case skip(To, Skip) of
                true -> wait(Worker, Ref, Started, Deadline, Skip, Sent);
                false ->
                    Sent1 = [{To, Msg} | Sent],
                    case calls_out(Msg, To) of
                        false -> wait(Worker, Ref, Started, Deadline, Skip, Sent1);
                        {true, Name} ->
                            stop_worker(Worker, Ref),
                            {would_call, undefined, us(erlang:monotonic_time() - Started),
                             lists:reverse(drain(Worker, Skip, Sent1)), Name}
                    end
            end
    after Left ->
            stop_worker(Worker, Ref),
            {timeout, undefined, us(erlang:monotonic_time() - Started), lists:reverse(drain(Worker, Skip, Sent)), undefined}
    end.

stop_worker(Worker, Ref) ->
    exit(Worker, kill),
    receive {Ref, _, _} -> ok after 0 -> ok end.

%% The trace messages already in the mailbox.
queued(Worker, Skip, Sent) ->
    receive
        {trace, Worker, Event, Msg, To} when Event =:= send; Event =:= send_to_non_existing_process ->
            case skip(To, Skip) of
                true -> queued(Worker, Skip, Sent);
                false -> queued(Worker, Skip, [{To, Msg} | Sent])
            end;
        {trace, Worker, _, _, _} -> queued(Worker, Skip, Sent)
    after 0 -> Sent
    end.

%% Every send a killed worker made, in order (trace_delivered: all its trace messages are here).
drain(Worker, Skip, Sent) ->
    TRef = erlang:trace_delivered(Worker),
    drain_until(Worker, TRef, Skip, Sent).

drain_until(Worker, TRef, Skip, Sent) ->
    receive
        {trace_delivered, Worker, TRef} -> Sent;
        {trace, Worker, Event, Msg, To} when Event =:= send; Event =:= send_to_non_existing_process ->
            case skip(To, Skip) of
                true -> drain_until(Worker, TRef, Skip, Sent);
                false -> drain_until(Worker, TRef, Skip, [{To, Msg} | Sent])
            end;
        {trace, Worker, _, _, _} -> drain_until(Worker, TRef, Skip, Sent)
    after 5000 -> Sent
    end.

%% The runner itself (the result) and the null I/O server (what it printed) are not the replay's messages.
skip(To, #{runner := R, io := Io}) -> To =:= R orelse To =:= Io.

%% A call whose answer could only come from the target: to a sink, or to another node's process.
calls_out({'$gen_call', _, _}, To) ->
    case sink_name(To) of
        undefined ->
            case To of
                P when is_pid(P), node(P) =/= node() -> {true, format(erlang, P)};
                {N, Node} when is_atom(N), is_atom(Node) -> {true, format(erlang, To)};
                _ -> false
            end;
        Name -> {true, name_text(Name)}
    end;
calls_out(_, _) -> false.

sink_name(To) when is_atom(To); is_pid(To) ->
    case ets:lookup(?SINKS, To) of
        [{_, Name}] when is_atom(Name) -> Name;
        [{Name, _}] when is_atom(Name) -> Name;
        _ -> undefined
    end;
sink_name(_) -> undefined.

name_text(Name) ->
    case atom_to_binary(Name, utf8) of
        <<"Elixir.", Rest/binary>> -> Rest;
        B -> B
    end.

us(Native) -> erlang:convert_time_unit(Native, native, nanosecond) / 1000.

%% A user function applied to a recorded term, in the runner (it is the user's own code, given a timeout of
%% its own would be overkill: it runs once per row before the replay).
apply_user(undefined, V, _, _) -> {ok, V};
apply_user(F, V, #{syntax := Syntax}, Flag) ->
    try {ok, F(V)}
    catch C:R:St -> {error, iolist_to_binary([Flag, " failed on this row: ", error_text(Syntax, C, R, St)])}
    end.

%% ---- terms -----------------------------------------------------------------------------------------------

%% A recorded term from its external format; a term the node cut (too big to ship) cannot be rebuilt.
rebuild(undefined) -> {ok, undefined};
rebuild(Bin) when is_binary(Bin) ->
    try binary_to_term(Bin) of
        {lumin_cut, Bytes, _} when is_integer(Bytes) ->
            {error, iolist_to_binary(io_lib:format("the recorded term was cut on the node (~b bytes, over the probe's cut size), so it cannot be rebuilt; arm the probe again with a larger --cut", [Bytes]))};
        T -> {ok, T}
    catch error:badarg -> {error, <<"the recorded term is not valid external format">>}
    end.

%% Does a term hold the redaction marker?
redacted(lumin_redacted) -> true;
redacted([H | T]) -> redacted(H) orelse redacted(T);
redacted(T) when is_tuple(T) -> redacted(tuple_to_list(T));
redacted(T) when is_map(T) -> redacted(maps:to_list(T));
redacted(_) -> false.

raw(undefined) -> undefined;
raw(Bin) when is_binary(Bin) -> {lumin_raw, Bin}.

%% A recorded term that holds redacted values is compared with the replay's redacted the same way: the
%% secret never left the node, so the replay's own secret would otherwise always read as a difference.
same(unknown, _) -> undefined;
same(Same, Same) -> true;
same(Recorded, Replayed) ->
    redacted(Recorded) andalso Recorded =:= hide(Replayed).

%% ---- the readable diff ---------------------------------------------------------------------------------------

diff_text(true, _, _) -> undefined;
diff_text(undefined, _, _) -> undefined;
diff_text(false, Syntax, Parts) ->
    %% Printed from redacted terms: text leaves the shadow as terms do, without secrets.
    Lines = lists:flatmap(fun({Label, Rec, New}) -> part_diff(Label, hide(Rec), hide(New), Syntax) end, Parts),
    Shown = lists:sublist(Lines, ?DIFF_ENTRIES),
    More = case length(Lines) - length(Shown) of
               0 -> [];
               N -> [io_lib:format("… and ~b more", [N])]
           end,
    %% (The text holds characters past 255 — arrows, the node's strings — so it is made as Unicode, not bytes.)
    unicode:characters_to_binary(lists:join("; ", Shown ++ More)).

hide({return, V}) -> {return, lumin_redact:term(V)};
hide({exception, C, R}) -> {exception, C, lumin_redact:term(R)};
hide(Other) -> Other.

part_diff(_, unknown, _, _) -> [];
part_diff(_, Same, Same, _) -> [];
part_diff(Label, {return, A}, {return, B}, Syntax) -> term_diff(Label, A, B, Syntax, []);
part_diff(Label, {return, A}, {exception, C, R}, Syntax) ->
    [[Label, ": raised ", short(Syntax, {C, R}), " instead of returning ", short(Syntax, A)]];
part_diff(Label, {exception, C, R}, {return, B}, Syntax) ->
    [[Label, ": returned ", short(Syntax, B), " instead of raising ", short(Syntax, {C, R})]];
part_diff(Label, {exception, C1, R1}, {exception, C2, R2}, Syntax) ->
    [[Label, ": raised ", short(Syntax, {C2, R2}), " instead of ", short(Syntax, {C1, R1})]].

%% Where two terms differ, as `where: old → new' lines: into maps by key, tuples and lists of one length by
%% position; anything else is one change.
term_diff(_, Same, Same, _, Acc) -> Acc;
term_diff(Where, A, B, Syntax, Acc) when is_map(A), is_map(B) ->
    Keys = lists:usort(maps:keys(A) ++ maps:keys(B)),
    lists:foldl(fun(K, Ac) ->
                        W = [Where, key(Syntax, K)],
                        case {A, B} of
                            {#{K := V1}, #{K := V2}} -> term_diff(W, V1, V2, Syntax, Ac);
                            {#{K := V1}, _} -> Ac ++ [[W, ": ", short(Syntax, V1), " removed"]];
                            {_, #{K := V2}} -> Ac ++ [[W, ": ", short(Syntax, V2), " added"]]
                        end
                end, Acc, Keys);
term_diff(Where, A, B, Syntax, Acc) when is_tuple(A), is_tuple(B), tuple_size(A) =:= tuple_size(B), tuple_size(A) > 0 ->
    positions(Where, tuple_to_list(A), tuple_to_list(B), 0, Syntax, Acc);
term_diff(Where, A, B, Syntax, Acc) when is_list(A), is_list(B), length(A) =:= length(B), A =/= [] ->
    case io_lib:printable_unicode_list(A) andalso io_lib:printable_unicode_list(B) of
        true -> Acc ++ [[Where, ": ", short(Syntax, A), " → ", short(Syntax, B)]];
        false -> positions(Where, A, B, 0, Syntax, Acc)
    end;
term_diff(Where, A, B, Syntax, Acc) ->
    Acc ++ [[Where, ": ", short(Syntax, A), " → ", short(Syntax, B)]].

positions(_, [], [], _, _, Acc) -> Acc;
positions(Where, [X | Xs], [Y | Ys], I, Syntax, Acc) ->
    positions(Where, Xs, Ys, I + 1, Syntax, term_diff([Where, "[", integer_to_list(I), "]"], X, Y, Syntax, Acc)).

key(Syntax, K) -> ["[", short(Syntax, K), "]"].

short(Syntax, T) ->
    Text = format(Syntax, T),
    case string:length(Text) > ?DIFF_TERM of
        true -> [string:slice(Text, 0, ?DIFF_TERM - 1), "…"];
        false -> Text
    end.

%% @doc A term as text in the node's language (Elixir's inspect when Elixir is here).
-spec format(elixir | erlang, term()) -> binary().
format(elixir, T) ->
    case code:which('Elixir.Kernel') of
        non_existing -> format(erlang, T);
        _ -> 'Elixir.Kernel':inspect(T, [{limit, 50}, {printable_limit, 200}])
    end;
format(erlang, T) -> unicode:characters_to_binary(io_lib:format("~0tP", [T, 30])).

error_text(elixir, Class, Reason, Stack) ->
    case code:which('Elixir.Exception') of
        non_existing -> error_text(erlang, Class, Reason, Stack);
        _ ->
            try 'Elixir.Exception':format_banner(Class, Reason, Stack)
            catch _:_ -> error_text(erlang, Class, Reason, Stack)
            end
    end;
error_text(erlang, Class, Reason, _) -> unicode:characters_to_binary(io_lib:format("~p: ~0tP", [Class, Reason, 30])).

fmt_mfa(M, F, A) ->
    Mod = name_text(M),
    Sep = case atom_to_binary(M, utf8) of <<"Elixir.", _/binary>> -> <<".">>; _ -> <<":">> end,
    iolist_to_binary([Mod, Sep, atom_to_binary(F, utf8), case A of undefined -> []; _ -> ["/", integer_to_list(A)] end]).

%% ---- the result as columns ------------------------------------------------------------------------------

batch(Rows, #{node := Node}) ->
    Col = fun(Kind, F) -> lumin_columns:column(Kind, [F(R) || R <- Rows]) end,
    N = length(Rows),
    Columns = #{node => {const, Node},
                row => Col(i32, fun(R) -> R#r.row end),
                seq => Col(dict, fun(R) -> R#r.seq end),
                start_us => Col(f64, fun(R) -> R#r.start_us end),
                function => Col(dict, fun(R) -> R#r.function end),
                args => Col(terms, fun(R) -> R#r.args end),
                outcome => Col(dict, fun(R) -> R#r.outcome end),
                same => Col(dict, fun(R) -> R#r.same end),
                recorded => Col(terms, fun(R) -> R#r.recorded end),
                replayed => Col(terms, fun(R) -> R#r.replayed end),
                recorded_us => floats([R#r.recorded_us || R <- Rows]),
                replayed_us => floats([R#r.replayed_us || R <- Rows]),
                state => Col(terms, fun(R) -> R#r.state end),
                recorded_state => Col(terms, fun(R) -> R#r.recorded_state end),
                replayed_state => Col(terms, fun(R) -> R#r.replayed_state end),
                diff => Col(dict, fun(R) -> R#r.diff end),
                sent => Col(terms, fun(R) -> R#r.sent end),
                sent_count => Col(i32, fun(R) -> length(R#r.sent) end),
                would_call => Col(dict, fun(R) -> R#r.would_call end),
                error => Col(dict, fun(R) -> R#r.error end)},
    %% Every column of the schema, and no other (a test checks the kernel reads them all).
    ?LUMIN_COLUMNS_WHATIF = [C || C <- ?LUMIN_COLUMNS_WHATIF, is_map_key(C, Columns)],
    lumin_columns:batch(whatif, N, 0, Columns).

%% A duration not measured is sent as NaN (the tables' number for "none"): an f64 column has no null, and
%% Erlang cannot make a NaN float, so the column's bytes are written here.
floats(Vs) -> {f64, << <<(f64(V))/binary>> || V <- Vs >>}.

f64(V) when is_number(V) -> <<V:64/float-little>>;
f64(_) -> <<0, 0, 0, 0, 0, 0, 248, 127>>.

%% ---- suggested tests ---------------------------------------------------------------------------------------

%% @doc Compile a generated test module here and run it against the code loaded here (the recorded code).
%% {ok, #{total, failures, output}} or {error, Text} when it does not compile.
-spec run_tests(elixir | erlang, binary(), module() | undefined) -> {ok, map()} | {error, binary()}.
run_tests(elixir, Source, _) ->
    Io = start_capture(),
    Self = self(),
    Ref = make_ref(),
    {Pid, Mon} = spawn_monitor(fun() ->
        group_leader(Io, self()),
        Result =
            try
                'Elixir.ExUnit':start([{autorun, false}, {formatters, ['Elixir.ExUnit.CLIFormatter']},
                                       {colors, [{enabled, false}]}, {seed, 0}, {max_cases, 1}]),
                _ = 'Elixir.Code':compile_string(Source, <<"suggested_test.exs">>),
                #{total := Total, failures := Failures} = 'Elixir.ExUnit':run(),
                {ok, #{total => Total, failures => Failures}}
            catch C:R:St -> {error, error_text(elixir, C, R, St)}
            end,
        Self ! {Ref, Result}
    end),
    receive
        {Ref, Result} ->
            erlang:demonitor(Mon, [flush]),
            with_output(Result, Io);
        {'DOWN', Mon, process, Pid, Why} -> {error, format(erlang, Why)}
    after 120000 -> exit(Pid, kill), {error, <<"the tests did not finish in 120 s">>}
    end;
run_tests(erlang, Source, _) ->
    %% Through a file: the preprocessor (-include_lib of eunit.hrl) works on files.
    Dir = filename:join(std_tmp(), "lumin_suggest_" ++ integer_to_list(erlang:unique_integer([positive]))),
    ok = file:make_dir(Dir),
    File = filename:join(Dir, "suggested.erl"),
    ok = file:write_file(File, Source),
    Compiled = compile:file(File, [binary, return_errors, report_warnings]),
    file:delete(File),
    file:del_dir(Dir),
    case Compiled of
        {ok, Mod, Bin} ->
            _ = code:purge(Mod),
            {module, Mod} = code:load_binary(Mod, File, Bin),
            Io = start_capture(),
            Self = self(),
            Ref = make_ref(),
            spawn(fun() ->
                          group_leader(Io, self()),
                          R = eunit:test(Mod, [verbose]),
                          Self ! {Ref, R}
                  end),
            receive
                {Ref, R} ->
                    Output = capture_text(Io),
                    Total = length([F || {F, 0} <- Mod:module_info(exports), lists:suffix("_test", atom_to_list(F))]),
                    Failures = case R of ok -> 0; _ -> count_failures(Output, Total) end,
                    forget([Mod]),
                    {ok, #{total => Total, failures => Failures, output => Output}}
            after 120000 -> {error, <<"the tests did not finish in 120 s">>}
            end;
        {error, Errors, _} -> {error, erlang_errors(Errors)}
    end.

std_tmp() ->
    case os:getenv("TMPDIR") of
        false -> "/tmp";
        D -> D
    end.

with_output({ok, M}, Io) -> {ok, M#{output => capture_text(Io)}};
with_output(Error, Io) -> capture_text(Io), Error.

count_failures(Output, Total) ->
    case re:run(Output, "Failed: ([0-9]+)", [{capture, all_but_first, list}]) of
        {match, [N]} -> list_to_integer(N);
        _ -> Total
    end.

%% An I/O server that keeps what is written to it, for the test report.
start_capture() ->
    spawn(fun() -> capture_loop([]) end).

capture_loop(Acc) ->
    receive
        {io_request, From, ReplyAs, {put_chars, Enc, Chars}} ->
            From ! {io_reply, ReplyAs, ok},
            capture_loop([unicode:characters_to_binary(Chars, Enc) | Acc]);
        {io_request, From, ReplyAs, {put_chars, Enc, M, F, A}} ->
            From ! {io_reply, ReplyAs, ok},
            capture_loop([unicode:characters_to_binary(apply(M, F, A), Enc) | Acc]);
        {io_request, From, ReplyAs, {put_chars, Chars}} ->
            From ! {io_reply, ReplyAs, ok},
            capture_loop([unicode:characters_to_binary(Chars) | Acc]);
        {io_request, From, ReplyAs, Req} ->
            From ! {io_reply, ReplyAs, io_answer(Req)},
            capture_loop(Acc);
        {text, From} -> From ! {text, iolist_to_binary(lists:reverse(Acc))}
    end.

capture_text(Io) ->
    Io ! {text, self()},
    receive {text, T} -> T after 5000 -> <<>> end.
