%% @doc The helpers every agent module needs, in one place so that no second copy drifts: the list of the
%% agent's own modules and processes, how functions and processes are named in rows, and how big terms are
%% cut.
%%
%% Cutting is bounded by the cut's size, not the term's: `cut/2' walks a term only until it has seen
%% `Max' bytes' worth of it, so a 40 MB state costs the same few microseconds as a 4 KB one. That is what
%% lets the tracer and a watched process's sys hook cut every term where it arrives, before anything is
%% stored or sent on.
-module(lumin_lib).
-export([agent_modules/0, agent_process/1, initial_call/1, fmt_mfa/1, fmt_mod/1, label/1, label_of/2,
         cut/2, cut/1, fits/2, small_for_sure/1, plain/1, same_shape/2, words/2, fmt/2, utf8/1]).

%% @doc Every module the kernel loads into a target, in load order (the bridge loads this list; cleanup
%% purges it; %top and the probes recognise the agent's processes by it).
-spec agent_modules() -> [module()].
agent_modules() ->
    [lumin_lib, lumin_budget, lumin_debug_info, lumin_redact, lumin_columns, lumin_tracer, lumin_trace, lumin_guard,
     lumin_sketch, lumin_summary_wire, lumin_summary, lumin_sampler,
     lumin_target, lumin_probe_kind, lumin_probe,
     %% The probe kinds of the runtime (lumin_probe): one callback module each, named lumin_kind_KIND.
     lumin_kind_calls, lumin_kind_messages, lumin_kind_procs, lumin_kind_state, lumin_kind_telemetry, lumin_kind_logs, lumin_kind_metrics,
     lumin_kind_counts, lumin_state_diff,
     lumin_snapshot, lumin_eval, lumin_agent].

%% @doc Whether `P' is one of the agent's own processes (never traced, watched or counted as the node's). An
%% evaluation (lumin_eval) runs the user's code: it is the user's work, shown like any other process.
-spec agent_process(pid()) -> boolean().
agent_process(P) when is_pid(P) ->
    P =:= whereis(lumin_agent) orelse P =:= whereis(lumin_guard) orelse P =:= whereis(lumin_trace) orelse
        case initial_call(P) of
            {M, _, _} -> M =/= lumin_eval andalso lists:member(M, agent_modules());
            _ -> false
        end;
agent_process(_) -> false.

%% ---- text --------------------------------------------------------------------------------------------

%% @doc io_lib:format/2 as a UTF-8 binary.
-spec fmt(io:format(), [term()]) -> binary().
fmt(F, A) -> utf8(io_lib:format(F, A)).

%% @doc Text (chardata: binaries are UTF-8, lists may hold any code point, e.g. from ~ts) as a UTF-8 binary.
-spec utf8(unicode:chardata()) -> binary().
utf8(Chars) ->
    case unicode:characters_to_binary(Chars) of
        B when is_binary(B) -> B;
        _ -> iolist_to_binary(io_lib:format("~0p", [Chars]))
    end.

%% ---- names -------------------------------------------------------------------------------------------

fmt_mod(M) ->
    case atom_to_binary(M, utf8) of
        <<"Elixir.", Rest/binary>> -> Rest;
        B -> B
    end.

%% @doc Elixir modules read as Elixir writes them (Shop.Orders.place/2), Erlang ones as Erlang does (lists:seq/2).
fmt_mfa({M, F, A}) when is_atom(M), is_atom(F), is_integer(A) ->
    Sep = case atom_to_binary(M, utf8) of <<"Elixir.", _/binary>> -> "."; _ -> ":" end,
    iolist_to_binary([fmt_mod(M), Sep, atom_to_binary(F, utf8), "/", integer_to_binary(A)]);
fmt_mfa({M, F, Args}) when is_list(Args) -> fmt_mfa({M, F, length(Args)});
fmt_mfa(Other) -> iolist_to_binary(io_lib:format("~0p", [Other])).

%% Processes holding more than this are not asked for their whole dictionary on an OTP without
%% process_info(P, {dictionary, Key}) (a copy of a huge dictionary would be the harm we must not do).
-define(DICT_COPY_MAX, 16 * 1024 * 1024).

%% @doc A process's label, from every source OTP offers, first found wins: its registered name; a label set
%% with proc_lib:set_label/1 (`$process_label', OTP 27); `process_name' in its dictionary (RabbitMQ's
%% gen_server2 and others that name their unregistered workers); its `$initial_call' (proc_lib: what it
%% was started to run, e.g. 'Shop.Worker.init/1'). `undefined' for a process with none of them, or gone.
-spec label(pid()) -> atom() | binary() | undefined.
label(P) when is_pid(P), node(P) =:= node() ->
    case erlang:process_info(P, registered_name) of
        {registered_name, N} when is_atom(N) -> N;
        undefined -> undefined;
        _ -> dict_label(P)
    end;
label(_) -> undefined.

dict_label(P) ->
    case dict_values(P, ['$process_label', process_name, '$initial_call']) of
        undefined -> undefined;
        [L, N, I] ->
            case {L, N, I} of
                {{value, V}, _, _} -> text(V);
                {_, {value, V}, _} -> text(V);
                {_, _, {value, {M, F, A}}} when is_atom(M), is_atom(F), is_integer(A) -> fmt_mfa({M, F, A});
                _ -> undefined
            end
    end.

%% Each key's {value, V} or none; undefined when the process is gone.
dict_values(P, Keys) ->
    try [case erlang:process_info(P, {dictionary, K}) of
             {{dictionary, K}, undefined} -> none;
             {{dictionary, K}, V} -> {value, V};
             undefined -> throw(gone)
         end || K <- Keys]
    catch
        throw:gone -> undefined;
        error:badarg ->
            %% OTP 25/26.0: only the whole dictionary can be read; not of a process that holds a lot.
            %% (total_heap_size: O(1); `memory' would walk a flooded mailbox)
            case erlang:process_info(P, total_heap_size) of
                {total_heap_size, W} when W * 8 =< ?DICT_COPY_MAX ->
                    case erlang:process_info(P, dictionary) of
                        {dictionary, D} -> [case lists:keyfind(K, 1, D) of {_, V} -> {value, V}; false -> none end
                                            || K <- Keys];
                        undefined -> undefined
                    end;
                {total_heap_size, _} -> [none || _ <- Keys];
                undefined -> undefined
            end
    end.

%% @doc What a process was started to run: its `$initial_call' (proc_lib) or its initial call; undefined when gone.
-spec initial_call(pid()) -> mfa() | undefined.
initial_call(P) ->
    case dict_values(P, ['$initial_call']) of
        [{value, {M, F, A}}] when is_atom(M), is_atom(F), is_integer(A) -> {M, F, A};
        undefined -> undefined;
        _ -> case erlang:process_info(P, initial_call) of
                 {initial_call, MFA} -> MFA;
                 undefined -> undefined
             end
    end.

text(V) when is_atom(V); is_binary(V) -> V;
text(V) ->
    case unicode:characters_to_binary(io_lib:format("~0tP", [V, 8])) of
        B when is_binary(B) -> B;
        _ -> undefined
    end.

%% @doc label/1 through a cache map: {Label, Cache}. The cache is cleared past 100,000 entries.
label_of(P, Cache) when is_map_key(P, Cache) -> {map_get(P, Cache), Cache};
label_of(P, Cache) ->
    L = label(P),
    {L, case map_size(Cache) >= 100000 of true -> #{P => L}; false -> Cache#{P => L} end}.


%% ---- cutting -----------------------------------------------------------------------------------------

%% A value of at most 4 words as walk/2 counts it (an integer of one word, an atom, a float, a pid, a port, a
%% reference, []), and the most a tuple of four of them takes: 1 + 4 + 4 x 4 words, rounded up.
-define(IMMEDIATE(V), (is_atom(V) orelse (is_integer(V) andalso V > -16#7ffffffffffffff andalso V < 16#7ffffffffffffff)
                       orelse is_float(V) orelse is_pid(V) orelse is_port(V) orelse is_reference(V) orelse V =:= [])).
-define(SURE_BYTES, 256).

%% @doc A term whose size fits `Max' bytes (counted as heap words x 8, about its external size) is kept as it is;
%% a bigger one becomes `{lumin_cut, Bytes, Prefix}', where Prefix shows its start (about Max bytes of it). Bytes is
%% the term's size when it is at most 16 x Max, else 16 x Max: a lower bound ("at least"), because measuring a
%% 40 MB term whole costs 150 ms in the process that holds it. Cost: O(Max), whatever the term's size.
-spec cut(term(), pos_integer()) -> term().
cut(T, Max) when Max >= ?SURE_BYTES ->
    case small_for_sure(T) of
        true -> T;
        false -> cut_walked(T, Max)
    end;
cut(T, Max) -> cut_walked(T, Max).

cut_walked(T, Max) ->
    W = Max div 8,
    case walk([T], W) of
        Left when Left >= 0 -> T;
        _ ->
            Limit = 16 * W,
            Bytes = case walk([T], Limit) of
                        _ when is_binary(T) -> erlang:external_size(T);
                        Left2 when Left2 >= 0 -> (Limit - Left2) * 8;
                        _ -> Limit * 8
                    end,
            {lumin_cut, Bytes, prefix(T, W)}
    end.

cut(T) -> cut(T, lumin_budget:max_term_bytes()).

%% @doc Whether `T' takes at most `Max' bytes of heap (8-byte words), walking no more of it than that.
-spec fits(term(), non_neg_integer()) -> boolean().
fits(T, Max) when Max >= ?SURE_BYTES ->
    small_for_sure(T) orelse walk([T], Max div 8) >= 0;
fits(T, Max) -> walk([T], Max div 8) >= 0.

%% Most traced terms under a flood are tiny ({tag, N}, a reply's {Ref, ok}): an immediate, or a tuple of up to
%% four immediates, takes at most ?SURE_BYTES bytes, so it is kept without walking it (O(1): one look at each
%% of at most four elements). This is the per-message path of both the tracer and the probes.
small_for_sure(T) when ?IMMEDIATE(T) -> true;
small_for_sure({A}) -> ?IMMEDIATE(A);
small_for_sure({A, B}) -> ?IMMEDIATE(A) andalso ?IMMEDIATE(B);
small_for_sure({A, B, C}) -> ?IMMEDIATE(A) andalso ?IMMEDIATE(B) andalso ?IMMEDIATE(C);
small_for_sure({A, B, C, D}) -> ?IMMEDIATE(A) andalso ?IMMEDIATE(B) andalso ?IMMEDIATE(C) andalso ?IMMEDIATE(D);
small_for_sure(_) -> false.

%% @doc Whether `T' is a small tree of tuples (at most 32 of its parts) whose leaves are atoms, small integers,
%% floats, pids, ports, references or []: a term whose size and secrets its shape tells (same_shape/2).
-spec plain(term()) -> boolean().
plain(T) -> plain([T], 32).

plain([], _) -> true;
plain(_, 0) -> false;
plain([T | Ts], N) when is_tuple(T) -> plain(tuple_to_list(T) ++ Ts, N - 1);
plain([T | Ts], N) when ?IMMEDIATE(T) -> plain(Ts, N - 1);
plain(_, _) -> false.

%% @doc Whether `T' has the shape of `Plain' (a plain/1 term): the same tuples, sizes and atoms, and leaves of the
%% same kinds (a small integer where it has one, a pid of the same node...), whatever their values. Such a term
%% takes the same heap as `Plain' and holds the same secrets (none, when `Plain' held none).
-spec same_shape(term(), term()) -> boolean().
same_shape(T, P) when is_tuple(T), is_tuple(P), tuple_size(T) =:= tuple_size(P) -> same_elements(T, P, tuple_size(T));
same_shape(A, P) when is_atom(A) -> A =:= P;
same_shape(I, P) when is_integer(I), is_integer(P) -> ?IMMEDIATE(I) andalso ?IMMEDIATE(P);
same_shape(F, P) when is_float(F) -> is_float(P);
same_shape([], P) -> P =:= [];
same_shape(X, P) when is_pid(X), is_pid(P); is_port(X), is_port(P); is_reference(X), is_reference(P) -> node(X) =:= node(P);
same_shape(_, _) -> false.

same_elements(_, _, 0) -> true;
same_elements(T, P, I) -> same_shape(element(I, T), element(I, P)) andalso same_elements(T, P, I - 1).

%% @doc The heap words of `T', up to `Limit' (then `Limit' + 1): O(Limit).
words(T, Limit) ->
    case walk([T], Limit) of
        Left when Left >= 0 -> Limit - Left;
        _ -> Limit + 1
    end.

%% Words left of the budget after walking a term, negative as soon as it is spent; allocates nothing (each
%% level of nesting costs budget, so the recursion is as deep as the budget allows at most).
walk([T], B) -> w(T, B).

w(_, B) when B < 0 -> B;
w(T, B) when is_atom(T); is_pid(T); is_port(T); is_reference(T); is_function(T) -> B - 1;
w(T, B) when is_integer(T), T > -16#7ffffffffffffff, T < 16#7ffffffffffffff -> B - 1;
w(T, B) when is_integer(T) -> B - 4;
w(T, B) when is_float(T) -> B - 2;
w(T, B) when is_bitstring(T) -> B - 2 - (byte_size(T) + 7) div 8;
w([H | R], B) -> w(R, w(H, B - 2));
w([], B) -> B;
w(T, B) when is_tuple(T) -> wt(T, tuple_size(T), B - 1 - tuple_size(T));
w(T, B) when is_map(T), map_size(T) > B -> -1;
w(T, B) when is_map(T) -> wm(maps:next(maps:iterator(T)), B - 3 - 2 * map_size(T));
w(_, B) -> B - 1.

wt(_, 0, B) -> B;
wt(_, _, B) when B < 0 -> B;
wt(T, I, B) -> wt(T, I - 1, w(element(I, T), B)).

wm(_, B) when B < 0 -> B;
wm(none, B) -> B;
wm({K, V, Next}, B) -> wm(maps:next(Next), w(V, w(K, B))).

%% The start of a big term, about `Words' words of it: the first elements of a list, tuple or map, each cut in
%% turn to what is left.
prefix(B, W) when is_binary(B) -> binary:part(B, 0, min(byte_size(B), max(16, W * 4)));
prefix(L, W) when is_list(L) -> take_list(L, W, 12, []);
prefix(T, W) when is_tuple(T) ->
    N = min(tuple_size(T), 12),
    Each = max(2, W div max(1, N)),
    list_to_tuple([cut_small(element(I, T), Each) || I <- lists:seq(1, N)] ++ ['...' || tuple_size(T) > N]);
prefix(M, W) when is_map(M) ->
    I = maps:iterator(M),
    maps:from_list(take_map(maps:next(I), 12, max(2, W div 12), []));
prefix(T, _) -> T.

take_list([H | T], W, N, Acc) when N > 0, W > 0 ->
    E = cut_small(H, max(2, W div N)),
    take_list(T, W - max(2, W div N), N - 1, [E | Acc]);
take_list([], _, _, Acc) -> lists:reverse(Acc);
take_list(_, _, _, Acc) -> lists:reverse(['...' | Acc]).

take_map({K, V, Next}, N, Each, Acc) when N > 0 -> take_map(maps:next(Next), N - 1, Each, [{cut_small(K, Each), cut_small(V, Each)} | Acc]);
take_map(_, _, _, Acc) -> lists:reverse(Acc).

cut_small(T, Words) ->
    case walk([T], Words) >= 0 of
        true -> T;
        false when is_binary(T); is_list(T); is_tuple(T); is_map(T) ->
            case Words > 8 of
                true -> prefix(T, Words);
                false -> '...'
            end;
        false -> '...'
    end.
