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

-export([setup/2, columns/0, noun/0, target/1, undo/1, trace/2, release/1, held/1, batch/2]).

-define(FLAGS, [send, 'receive', monotonic_timestamp]).
-define(TAGS, [send, send_to_non_existing_process, 'receive']).
%% Caches (outstanding calls, checked processes, the agent's own) are cleared past this size.
-define(MAX_CACHE, 100000).

setup(Spec, P0) ->
    P = P0#{calls => #{}, checked => #{}, held => [], held_n => 0},
    case lumin_target:app(maps:get(process, Spec, undefined)) of
        {app, _, Pids} = App ->
            %% set_on_spawn: the processes the application's processes spawn from now on are traced too.
            lumin_probe:trace(App, [set_on_spawn | ?FLAGS], ?TAGS, known(Pids, P));
        none ->
            Tracee = lumin_target:process(maps:get(process, Spec, undefined), true),
            lumin_target:refuse_ours(Tracee),
            Warn = [<<"every process spawned from now on is traced (send and receive): keep --limit low on a busy node">>
                    || Tracee =:= new],
            lumin_probe:trace(Tracee, ?FLAGS, ?TAGS, known([Tracee || is_pid(Tracee)], P#{warnings := Warn}))
    end.

%% The watched processes' labels, and that they are not the agent's, looked up now, before any message: asked
%% of a flooded process later, process_info waits behind every message in its queue (80 ms under a flood of
%% 100,000), and the probe's first chunk with it.
known(Pids, P = #{names := Names}) ->
    Known = lists:sublist(Pids, ?MAX_CACHE),
    put('$ours', maps:from_list([{Pid, false} || Pid <- Known])),
    P#{names := maps:merge(Names, maps:from_list([{Pid, lumin_lib:label(Pid)} || Pid <- Known]))}.

columns() ->
    [{node, {const, node()}}, {time_us, f64}, {event, dict}, {from_pid, dict}, {from_name, dict}, {to_pid, dict},
     {to_name, dict}, {protocol, dict}, {call_id, dict}, {latency_us, dict}, {message, terms}, {size_words, i32}].

noun() -> "messages".

target(Spec) -> lumin_target:text(maps:get(process, Spec, <<>>)).

undo(P) -> P.

release(P) -> P#{calls := #{}, checked := #{}, held := [], held_n := 0}.

%% ---- a chunk of trace messages -------------------------------------------------------------------------
%% A flooded probe sees every message of the process it watches, so the per-message path is kept small: a
%% message becomes a compact row {Timestamp, Key, Message}, where Key holds the columns that repeat from one
%% message to the next (event, sender, receiver and their labels, protocol, call id, latency) — one tuple
%% shared by a run of alike messages, its labels looked up once per run. Rows are held in the probe's own
%% shape (held/1) and turned into columns when a batch goes (batch/2): the times and sizes in one binary
%% comprehension each, the repeated columns from the few distinct keys, the messages cut, redacted and
%% encoded as one terms column.

%% The chunk's state while it is walked: the probe's caches, and the last key made (its input and the key).
-record(walk, {calls, checked, names, mode, tracer, flags, prev_in = none, prev_key = none}).

trace(Msgs, P = #{seen := Seen0, tick_seen := TS0, budget := #{limit := L, buffer := B}, held := Held, held_n := N0,
                  dropped := D0, dropped_unsent := U0}) ->
    W0 = #walk{calls = maps:get(calls, P), checked = maps:get(checked, P), names = maps:get(names, P),
               mode = case P of #{tracee := T} when T =:= new; T =:= all -> skip_ours; _ -> one end,
               tracer = maps:get(tracer, P, undefined), flags = maps:get(flags, P, [])},
    %% The tracer hands a chunk on newest first.
    {Held1, N1, Seen, Dropped, W} = walk(lists:reverse(Msgs), W0, Held, N0, Seen0, L, B, 0),
    P1 = P#{seen := Seen, tick_seen := TS0 + (Seen - Seen0), held := Held1, held_n := N1,
            calls := W#walk.calls, checked := W#walk.checked, names := W#walk.names,
            dropped := D0 + Dropped, dropped_unsent := U0 + Dropped},
    P2 = case P1 of
             #{state := armed} when Dropped > 0 ->
                 lumin_probe:end_probe(buffer, io_lib:format("~b rows waited on the node for the kernel (buffer budget)", [B]), P1);
             _ -> lumin_probe:counted(Seen0, P1)
         end,
    case N1 >= lumin_budget:batch_rows() of
        true -> lumin_probe:flush(P2, false);
        false -> P2
    end.

%% Rows newest first, how many, the count so far, the rows dropped (the buffer budget was full), the walk.
walk([M | Ms], W, Held, N, Seen, L, B, Dropped) when Seen < L ->
    case msg_event(M, W) of
        {row, _, W1} when N >= B -> walk(Ms, W1, Held, N, Seen + 1, L, B, Dropped + 1);
        {row, Row, W1} -> walk(Ms, W1, [Row | Held], N + 1, Seen + 1, L, B, Dropped);
        W1 -> walk(Ms, W1, Held, N, Seen, L, B, Dropped)
    end;
walk(_, W, Held, N, Seen, _, _, Dropped) -> {Held, N, Seen, Dropped, W}.

msg_event({trace_ts, Pid, 'receive', timeout, TS}, W0) ->
    %% A `receive ... after' that timed out: the VM reports it as receiving `timeout'. Its own row kind (no
    %% sender, no protocol), so that a server polling with timeouts does not look like one flooded with messages.
    case skip_ours(Pid, W0) of
        {true, W} -> W;
        {false, W} -> row(TS, {timeout, undefined, Pid, undefined, timeout, undefined, undefined}, timeout, W)
    end;
msg_event({trace_ts, Pid, 'receive', Msg, TS}, W) -> message('receive', Pid, undefined, Msg, TS, W);
msg_event({trace_ts, Pid, send, Msg, To, TS}, W) -> message(send, Pid, To, Msg, TS, W);
msg_event({trace_ts, Pid, send_to_non_existing_process, Msg, To, TS}, W) -> message(send, Pid, To, Msg, TS, W);
msg_event(_, W) -> W.

message(Dir, Pid, To, Msg, TS, W0) ->
    case skip_ours(Pid, W0) of
        {true, W} -> W;
        {false, W} ->
            {Proto, CallId, Latency, Peer, Calls} = protocol(Dir, Pid, Msg, To, TS, W#walk.calls),
            W1 = W#walk{calls = Calls},
            {From, ToPid, ToName0} =
                case Dir of
                    send when Peer =/= undefined -> {Pid, Peer, undefined};
                    send -> {ToP, ToN} = receiver(To), {Pid, ToP, ToN};
                    'receive' -> {Peer, Pid, undefined}
                end,
            In = {Dir, From, ToPid, ToName0, Proto, CallId, Latency},
            case W1 of
                %% Like the message before it, which was a row: neither side is the agent's, and the labels
                %% are known. (A reply the agent is owed is told by its tag: only sends are looked at again.)
                #walk{prev_in = In, prev_key = Key} when Dir =:= 'receive' -> {row, {TS, Key, Msg}, W1};
                _ ->
                    %% A message to or from the agent (another probe's sys hook reporting, its sys requests) is
                    %% the tooling's, not the application's.
                    case ours(From) orelse ours(ToPid) orelse our_reply(Dir, Msg) of
                        true -> our_request(Dir, Msg), W1;
                        false -> row(TS, In, Msg, W1)
                    end
            end
    end.

%% A row, its key made from `In' (labels looked up, through the probe's cache) unless it is the last one's.
row(TS, In, Msg, W = #walk{prev_in = In, prev_key = Key}) -> {row, {TS, Key, Msg}, W};
row(TS, In = {Dir, From, ToPid, ToName0, Proto, CallId, Latency}, Msg, W = #walk{names = Names0}) ->
    {FromName, Names1} = label(From, Names0),
    {ToName, Names} = case ToName0 of
                          undefined -> label(ToPid, Names1);
                          _ -> {ToName0, Names1}
                      end,
    Key = {Dir, From, FromName, ToPid, ToName, Proto, CallId, Latency},
    {row, {TS, Key, Msg}, W#walk{names = Names, prev_in = In, prev_key = Key}}.

label(Pid, Names) ->
    {N, #{names := Names1}} = lumin_probe:name_of(Pid, #{names => Names}),
    {N, Names1}.

%% ---- rows into a batch ----------------------------------------------------------------------------------

held(#{held_n := N}) -> N.

batch(Dropped, P = #{held := Held, held_n := N, offset_ns := Off}) ->
    Rows = lists:reverse(Held),
    {Keys, KeyIdx} = lumin_columns:dict_by(2, Rows),
    Col = fun(I) -> lumin_columns:derive([element(I, K) || K <- Keys], KeyIdx) end,
    Learned = lumin_redact:learned(),
    Messages = messages(Rows),
    Cols = #{node => {const, node()},
             time_us => {f64, << <<((T + Off) / 1000):64/float-little>> || {T, _, _} <- Rows >>},
             event => Col(1), from_pid => Col(2), from_name => Col(3), to_pid => Col(4), to_name => Col(5),
             protocol => Col(6), call_id => Col(7), latency_us => Col(8),
             message => case lumin_redact:learned() of
                            Learned -> Messages;
                            %% A secret was found in these messages (a `password:' in one): encoded again, so
                            %% it is redacted in the messages before it too.
                            _ -> messages(Rows)
                        end,
             size_words => {i32, << <<(size_words(K, M)):32/signed-little>> || {_, K, M} <- Rows >>}},
    {lumin_columns:batch(messages, N, Dropped, Cols), P#{held := [], held_n := 0}}.

messages(Rows) -> lumin_columns:column(terms, [lumin_columns:present(M) || {_, _, M} <- Rows]).

size_words({timeout, _, _, _, _, _, _, _}, _) -> 1;
size_words(_, M) -> min(erts_debug:flat_size(M), 16#7fffffff).

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
protocol(Dir, Pid, {'$gen_call', {From, Tag}, _}, To, TS, Calls) ->
    case tag_key(Tag) of
        none -> {call, undefined, undefined, peer_of_call(Dir, From, To), Calls};
        Key ->
            Peer = peer_of_call(Dir, From, To),
            Calls1 = case map_size(Calls) >= ?MAX_CACHE of true -> #{}; false -> Calls end,
            {call, call_id(Key), undefined, case Dir of 'receive' -> From; send -> undefined end,
             Calls1#{{Key, Pid} => {Dir, TS, Peer}}}
    end;
protocol(_, _, {'$gen_cast', _}, _, _, Calls) -> {cast, undefined, undefined, undefined, Calls};
protocol(_, _, {'EXIT', From, _}, _, _, Calls) -> {'EXIT', undefined, undefined, pid_or_undefined(From), Calls};
protocol(_, _, {'DOWN', _, _, Obj, _}, _, _, Calls) -> {'DOWN', undefined, undefined, pid_or_undefined(Obj), Calls};
protocol(_, _, {system, {From, _}, _}, _, _, Calls) -> {system, undefined, undefined, pid_or_undefined(From), Calls};
protocol(Dir, Pid, {Tag, _}, _, TS, Calls) when is_reference(Tag); is_list(Tag) ->
    Key = tag_key(Tag),
    case Calls of
        #{{Key, Pid} := {CallDir, T0, Peer}} when CallDir =/= Dir ->
            {reply, call_id(Key), (TS - T0) / 1000, Peer, maps:remove({Key, Pid}, Calls)};
        _ -> {info, undefined, undefined, undefined, Calls}
    end;
protocol(_, _, _, _, _, Calls) -> {info, undefined, undefined, undefined, Calls}.

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
skip_ours(Pid, W = #walk{mode = skip_ours, checked = Checked}) ->
    case Checked of
        #{Pid := Skip} -> {Skip, W};
        _ ->
            Probe = #{tracer => W#walk.tracer, flags => W#walk.flags},
            Skip = lumin_probe:ours(Pid, Probe),
            Skip andalso lumin_probe:untrace(Pid, Probe),
            {Skip, W#walk{checked = put_bounded(Pid, Skip, Checked)}}
    end;
skip_ours(_, W) -> {false, W}.
