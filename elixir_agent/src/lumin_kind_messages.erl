%% @doc Message probes (a kind of lumin_probe): legacy message tracing (send and 'receive', monotonic timestamps)
%% of one process (spec `process': "<0.12.0>" or a registered name), of a running application's processes
%% ("app:NAME": those whose group leader is its master, with set_on_spawn so what they spawn is traced too), or
%% of every process spawned from now on ("new").
%%
%% One row per message sent or received; OTP protocols are recognised: `call' ('$gen_call', its call_id is the
%% call's reference, aliases included), `reply' (a `{Tag, Reply}' whose tag matches a call seen earlier by the
%% same watched process, with the latency since that call), `cast', `EXIT', `DOWN', `system', else `info'. A
%% `receive … after' that timed out is its own row kind, `timeout' (the kernel hides those rows by default).
%% Limits: a received message does not say who sent it, so from_pid is known only when the message carries it
%% (calls, EXIT, DOWN, system, replies to calls seen); it is null otherwise. Messages to or from the agent (its
%% sys requests, another probe's hook reporting) are the tooling's and never rows.
-module(lumin_kind_messages).
-behaviour(lumin_probe_kind).

-export([setup/2, columns/0, noun/0, target/1, undo/1, trace/2, release/1]).

-define(FLAGS, [send, 'receive', monotonic_timestamp]).
-define(TAGS, [send, send_to_non_existing_process, 'receive']).
%% Caches (outstanding calls, checked processes, the agent's own) are cleared past this size.
-define(MAX_CACHE, 100000).

setup(Spec, P0) ->
    P = P0#{calls => #{}, checked => #{}},
    case lumin_target:app(maps:get(process, Spec, undefined)) of
        {app, _, _} = App ->
            %% set_on_spawn: the processes the application's processes spawn from now on are traced too.
            lumin_probe:trace(App, [set_on_spawn | ?FLAGS], ?TAGS, P);
        none ->
            Tracee = lumin_target:process(maps:get(process, Spec, undefined), true),
            lumin_target:refuse_ours(Tracee),
            Warn = [<<"every process spawned from now on is traced (send and receive): keep --limit low on a busy node">>
                    || Tracee =:= new],
            lumin_probe:trace(Tracee, ?FLAGS, ?TAGS, P#{warnings := Warn})
    end.

columns() ->
    [{node, {const, node()}}, {time_us, f64}, {event, dict}, {from_pid, dict}, {from_name, dict}, {to_pid, dict},
     {to_name, dict}, {protocol, dict}, {call_id, dict}, {latency_us, dict}, {message, terms}, {size_words, i32}].

noun() -> "messages".

target(Spec) -> lumin_target:text(maps:get(process, Spec, <<>>)).

undo(P) -> P.

release(P) -> P#{calls := #{}, checked := #{}}.

%% The chunk's rows first (newest first, as the tracer hands them on), then counted and added at once. The rows
%% are made with the few keys they need in a small map (every update and look-up of the probe's whole map, per
%% message, was a good part of a flooded probe's work), put back once per chunk.
trace(Msgs, P) ->
    {C1, Rows} = lists:foldr(fun msg_row/2, {maps:with([calls, checked, names, tracee, tracer, flags, offset_ns], P), []}, Msgs),
    lumin_probe:emit_many(lists:reverse(Rows), maps:merge(P, maps:with([calls, checked, names], C1))).

msg_row(Msg, {P, Rows}) ->
    case msg_event(Msg, P) of
        {row, Row, P1} -> {P1, [Row | Rows]};
        P1 -> {P1, Rows}
    end.

msg_event({trace_ts, Pid, send, Msg, To, TS}, P) -> message(send, Pid, To, Msg, TS, P);
msg_event({trace_ts, Pid, send_to_non_existing_process, Msg, To, TS}, P) -> message(send, Pid, To, Msg, TS, P);
%% A `receive ... after' that timed out: the VM reports it as receiving `timeout'. Its own row kind (no sender,
%% no protocol), so that a server polling with timeouts does not look like one flooded with messages.
msg_event({trace_ts, Pid, 'receive', timeout, TS}, P0) ->
    case skip_ours(Pid, P0) of
        {true, P} -> P;
        {false, P} ->
            {Name, P1} = lumin_probe:name_of(Pid, P),
            {row, {node(), lumin_probe:us(TS, P1), timeout, undefined, undefined, Pid, Name, timeout, undefined, undefined,
                   lumin_columns:present(timeout), 1}, P1}
    end;
msg_event({trace_ts, Pid, 'receive', Msg, TS}, P) -> message('receive', Pid, undefined, Msg, TS, P);
msg_event(_, P) -> P.

message(Dir, Pid, To, Msg, TS, P0) ->
    case skip_ours(Pid, P0) of
        {true, P} -> P;
        {false, P} ->
            {Proto, CallId, Latency, Peer, P1} = protocol(Dir, Pid, Msg, To, TS, P),
            {From, {ToPid, ToName0}} =
                case Dir of
                    send when Peer =/= undefined -> {Pid, {Peer, undefined}};
                    send -> {Pid, receiver(To)};
                    'receive' -> {Peer, {Pid, undefined}}
                end,
            %% A message to or from the agent (another probe's sys hook reporting, its sys requests) is the
            %% tooling's, not the application's.
            case ours(From) orelse ours(ToPid) orelse our_reply(Dir, Msg) of
                true -> our_request(Dir, Msg), P1;
                false -> message_row(Dir, From, ToPid, ToName0, Proto, CallId, Latency, Msg, TS, P1)
            end
    end.

message_row(Dir, From, ToPid, ToName0, Proto, CallId, Latency, Msg, TS, P1) ->
    {FromName, P2} = lumin_probe:name_of(From, P1),
    {ToName, P3} = case ToName0 of
                       undefined -> lumin_probe:name_of(ToPid, P2);
                       _ -> {ToName0, P2}
                   end,
    Row = {node(), lumin_probe:us(TS, P3), Dir, From, FromName, ToPid, ToName, Proto, CallId, Latency,
           lumin_columns:present(Msg), min(erts_debug:flat_size(Msg), 16#7fffffff)},
    {row, Row, P3}.

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
ours(P) when is_pid(P), node(P) =:= node() ->
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
ours(_) -> false.

put_bounded(K, V, M) when map_size(M) >= ?MAX_CACHE -> #{K => V};
put_bounded(K, V, M) -> M#{K => V}.

%% Where a send went, {ToPid, ToName}: a name sent to is resolved to its pid where it is registered here.
receiver(Name) when is_atom(Name) ->
    case whereis(Name) of
        undefined -> {Name, Name};
        P -> {P, Name}
    end;
receiver({Name, Node}) when is_atom(Name), is_atom(Node) -> {lumin_lib:fmt("~ts@~ts", [Name, Node]), Name};
receiver(To) -> {To, undefined}.

%% Calls waiting for their reply are keyed by the call's reference and the watched process that saw the call:
%% when both sides are watched (app:NAME, new), each side pairs its own call and reply.
protocol(Dir, Pid, {'$gen_call', {From, Tag}, _}, To, TS, P = #{calls := Calls}) ->
    case tag_key(Tag) of
        none -> {call, undefined, undefined, peer_of_call(Dir, From, To), P};
        Key ->
            Peer = peer_of_call(Dir, From, To),
            Calls1 = case map_size(Calls) >= ?MAX_CACHE of true -> #{}; false -> Calls end,
            {call, call_id(Key), undefined, case Dir of 'receive' -> From; send -> undefined end,
             P#{calls := Calls1#{{Key, Pid} => {Dir, TS, Peer}}}}
    end;
protocol(_, _, {'$gen_cast', _}, _, _, P) -> {cast, undefined, undefined, undefined, P};
protocol(_, _, {'EXIT', From, _}, _, _, P) -> {'EXIT', undefined, undefined, pid_or_undefined(From), P};
protocol(_, _, {'DOWN', _, _, Obj, _}, _, _, P) -> {'DOWN', undefined, undefined, pid_or_undefined(Obj), P};
protocol(_, _, {system, {From, _}, _}, _, _, P) -> {system, undefined, undefined, pid_or_undefined(From), P};
protocol(Dir, Pid, {Tag, _}, _, TS, P = #{calls := Calls}) when is_reference(Tag); is_list(Tag) ->
    Key = tag_key(Tag),
    case Calls of
        #{{Key, Pid} := {CallDir, T0, Peer}} when CallDir =/= Dir ->
            {reply, call_id(Key), (TS - T0) / 1000, Peer, P#{calls := maps:remove({Key, Pid}, Calls)}};
        _ -> {info, undefined, undefined, undefined, P}
    end;
protocol(_, _, _, _, _, P) -> {info, undefined, undefined, undefined, P}.

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

%% With `new' (or an application), processes of the agent are untraced the first time they show up.
skip_ours(Pid, P = #{tracee := Tracee}) when Tracee =:= new; Tracee =:= all ->
    Checked = maps:get(checked, P),
    case Checked of
        #{Pid := Skip} -> {Skip, P};
        _ ->
            Skip = lumin_probe:ours(Pid, P),
            Skip andalso lumin_probe:untrace(Pid, P),
            {Skip, P#{checked := put_bounded(Pid, Skip, Checked)}}
    end;
skip_ours(_, P) -> {false, P}.
