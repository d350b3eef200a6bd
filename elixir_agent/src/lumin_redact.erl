%% @doc Redaction: secrets are taken out of every term before it leaves the node. lumin_columns applies it to
%% each term cell of every batch (and lumin_snapshot, lumin_eval to what they answer), after the term was cut,
%% so its cost is bounded by the cut size, and off the tracer's path (in the collector or the probe's process).
%%
%% What is redacted — the value becomes the atom `lumin_redacted', which the kernel prints as `[redacted]':
%%
%%   * the value under a secret key: a key that contains one of the policy's keys, case-insensitively (by
%%     default password, passwd, secret, token, api_key, apikey, authorization, cookie, session, private_key,
%%     credentials), in a map or struct, a keyword list or proplist (any `{Key, Value}' pair whose key is an
%%     atom or a binary), or a record whose definition was read from a module's debug info;
%%   * an argument whose parameter is named so in the function's source (`def login(user, password)'), read
%%     from the module's debug info without creating atoms (lumin_debug_info); a module without debug info
%%     has its arguments redacted only by what they hold;
%%   * a value found under a secret key or parameter, wherever else it appears afterwards in this node's
%%     evidence: as a whole binary or charlist, or inside a longer binary (that part is replaced by the text
%%     "[redacted]"). Only binaries and strings of at least ?MIN_SEEN bytes are remembered (shorter ones would
%%     redact common words), at most ?MAX_SEEN of them per attachment (then new ones are redacted where they
%%     are found but not looked for elsewhere). What is learned is node-wide: a value one probe (or %state,
%%     %info, an evaluation) found is redacted in every other probe's terms from then on, and a batch being
%%     encoded when it is found is encoded again (learned/0). A value shipped before the agent first saw it as a
%%     secret is not taken back: it has left the node.
%%
%% Keys are compared as text: an atom's name (atom_to_binary/2), a binary, a charlist. The policy's keys
%% arrive from the kernel as binaries and stay binaries: no atom is ever made from them.
%%
%% The policy, the remembered values and the record and parameter facts live in one public ETS table owned
%% by the agent's owner process (start/0), so they go with the attachment. Each process that redacts keeps
%% its compiled view of the table in its dictionary, rebuilt when the table's version changes.
-module(lumin_redact).
-export([start/0, set_policy/2, policy/0, term/1, redactor/0, clean_small/1, learned/0, args/2, stacktrace/1, args_list/1, text/1, learn_module/1, marker/0, default_keys/0]).

-define(TABLE, lumin_redact).
-define(MARKER, lumin_redacted).
-define(MIN_SEEN, 4).
-define(MAX_SEEN, 1000).
%% Remembered facts about modules (parameters, records) past this many are not kept.
-define(MAX_MODULES, 2000).

-spec default_keys() -> [binary()].
default_keys() ->
    [<<"password">>, <<"passwd">>, <<"secret">>, <<"token">>, <<"api_key">>, <<"apikey">>, <<"authorization">>,
     <<"cookie">>, <<"session">>, <<"private_key">>, <<"credentials">>].

%% @doc What a redacted value becomes.
marker() -> ?MARKER.

%% @doc The table, owned by the calling process (the agent's owner), with the default policy. Idempotent.
-spec start() -> ok.
start() ->
    case ets:info(?TABLE, owner) of
        undefined ->
            ets:new(?TABLE, [named_table, public, set, {read_concurrency, true}]),
            ets:insert(?TABLE, [{version, 0}, {policy, true, default_keys(), 0}, {seen_count, 0}, {module_count, 0}, {learned, 0}]),
            ok;
        _ -> ok
    end.

%% @doc Set the policy: on or off, and the key fragments (binaries; lower-cased here).
-spec set_policy(boolean(), [binary()]) -> ok.
set_policy(Enabled, Keys) when is_boolean(Enabled), is_list(Keys) ->
    start(),
    Clean = [string:lowercase(K) || K <- Keys, is_binary(K), byte_size(K) > 0],
    ets:insert(?TABLE, {policy, Enabled, Clean, bump()}),
    ok.

-spec policy() -> #{enabled := boolean(), keys := [binary()]}.
policy() ->
    case catch ets:lookup(?TABLE, policy) of
        [{policy, On, Keys, _}] -> #{enabled => On, keys => Keys};
        _ -> #{enabled => true, keys => default_keys()}
    end.

%% @doc A term with its secrets replaced by the marker (the same term when it holds none).
-spec term(term()) -> term().
term(T) when is_atom(T); is_number(T); is_pid(T); is_port(T); is_reference(T); is_function(T) -> T;
term(T) ->
    case ctx() of
        off -> T;
        C -> redact(T, C)
    end.

%% @doc term/1 for many terms (a column): the policy is looked up once, here; what this process learns while
%% it redacts is looked for in the terms after it (what other processes learn, from the next column on).
-spec redactor() -> fun((term()) -> term()).
redactor() ->
    case ctx() of
        off -> fun(T) -> T end;
        _ ->
            fun(T) when is_atom(T); is_number(T); is_pid(T); is_port(T); is_reference(T) -> T;
               (T) ->
                    case get('$lumin_redact') of
                        {_, off} -> T;
                        {_, C} -> redact(T, C)
                    end
            end
    end.

%% @doc Whether a small tree of tuples of atoms and immediates (lumin_lib:plain/1) holds nothing the policy
%% redacts. For such a term that depends only on its shape (a secret key's pair, a record's secret field; no
%% immediate is a remembered secret value), so a column may take the verdict for every term of the same shape
%% (lumin_lib:same_shape/2).
-spec clean_small(tuple()) -> boolean().
clean_small(T) when is_tuple(T) ->
    case ctx() of
        off -> true;
        C -> not needs(T, C)
    end.

%% @doc How many times new secret values have been learned on this node, by any process: a caller that
%% encodes many terms at once (lumin_columns, a call probe's batch) encodes them again when it changed
%% meanwhile, so a secret found in one row is redacted in the rows beside it too, not only in those after it —
%% and so is one that another probe, %state or an evaluation found while the batch was being encoded. (Each
%% redactor reads the learned set once per column; only this re-encoding makes another process's find reach
%% the batch at once.) Without the table (the agent not started), this process's own count.
-spec learned() -> non_neg_integer().
learned() ->
    try ets:lookup_element(?TABLE, learned, 2)
    catch error:badarg ->
        case get('$lumin_learned') of
            N when is_integer(N) -> N;
            _ -> 0
        end
    end.

%% @doc A call's argument list (or undefined, or a cut marker): the arguments whose parameter is named as a
%% secret in `MFA''s source are replaced whole (and remembered), then the list is redacted as a term.
-spec args(mfa(), term()) -> term().
args(MFA, Args) ->
    [A] = args_list([{MFA, Args}]),
    A.

%% @doc A column of argument lists, [{MFA, Args}], each as args/2 makes it: which parameters are secret is
%% looked up once per function in the column (a call probe's batch is many calls of few functions).
-spec args_list([{mfa(), term()}]) -> [term()].
args_list(Pairs) ->
    case ctx() of
        off -> [A || {_, A} <- Pairs];
        C -> args_list(Pairs, C, #{}, [])
    end.

args_list([{MFA, Args} | Rest], C, Cache, Acc) ->
    {Positions, Cache1} = case Cache of
                              #{MFA := P} -> {P, Cache};
                              _ -> P = secret_params(MFA, C), {P, Cache#{MFA => P}}
                          end,
    case Args of
        undefined -> args_list(Rest, C, Cache1, [undefined | Acc]);
        _ when Positions =:= []; not is_list(Args) -> args_list(Rest, C, Cache1, [redact(Args, C) | Acc]);
        _ ->
            {Args1, Found} = hide_positions(Args, 1, Positions, [], []),
            remember(Found),
            %% What was just remembered is looked for in the rest of the column too.
            C1 = ctx(),
            args_list(Rest, C1, Cache1, [redact(Args1, C1) | Acc])
    end;
args_list([], _, _, Acc) -> lists:reverse(Acc).

%% @doc A stacktrace whose frames' argument lists (a function clause error gives them) are redacted as args/2
%% does; frames with an arity stay as they are.
-spec stacktrace(list()) -> list().
stacktrace(Stack) when is_list(Stack) ->
    [case Frame of
         {M, F, Args, Loc} when is_atom(M), is_atom(F), is_list(Args) -> {M, F, args({M, F, length(Args)}, Args), Loc};
         _ -> Frame
     end || Frame <- Stack];
stacktrace(Other) -> Other.

%% @doc Text (a formatted log message): values remembered as secret are replaced in it, and the marker's
%% own printed forms (`lumin_redacted', `:lumin_redacted') read `[redacted]'.
-spec text(binary()) -> binary().
text(B) when is_binary(B) ->
    case ctx() of
        off -> B;
        C ->
            %% (one look for the marker's name, which both printed forms contain, before a replace that would
            %% build its two-pattern matcher for every text)
            B1 = case binary:match(B, <<"lumin_redacted">>) of
                     nomatch -> B;
                     _ -> binary:replace(B, [<<":lumin_redacted">>, <<"lumin_redacted">>], <<"[redacted]">>, [global])
                 end,
            in_binary(B1, C)
    end.

%% @doc Read a module's debug info for the records it defines (their secret fields are redacted from now on)
%% and cache its parameter names. Cheap when already done.
-spec learn_module(module()) -> ok.
learn_module(M) when is_atom(M) ->
    _ = module_facts(M),
    ok;
learn_module(_) -> ok.

%% ---- the walk ---------------------------------------------------------------------------------------------

%% Two passes: a read-only check (no allocation) that says whether anything is to be replaced, then, only
%% then, a rebuild that collects the values found under secret keys, remembered once it is done.
redact(T, C) ->
    case needs(T, C) of
        false -> T;
        true ->
            put('$lumin_found', []),
            T1 = r(T, C),
            remember(erase('$lumin_found')),
            T1
    end.

needs(T, _) when is_atom(T); is_number(T); is_pid(T); is_reference(T) -> false;
needs(B, C) when is_binary(B) -> seen_in(B, C);
needs(L = [H | _], C) when is_integer(H) -> string_seen(L, C) orelse needs_list(L, C);
needs(L, C) when is_list(L) -> needs_list(L, C);
needs(T = {K, V}, C = #{keys := KP}) when is_atom(K); is_binary(K) ->
    (KP =/= none andalso secret_key(K, C)) orelse record_secret(T, C) orelse needs(K, C) orelse needs(V, C);
needs(T, C) when is_tuple(T) ->
    record_secret(T, C) orelse needs_elements(T, tuple_size(T), C);
needs(M, C) when is_map(M), map_size(M) =< 32 -> needs_pairs(maps:to_list(M), C);
needs(M, C) when is_map(M) -> needs_map(maps:next(maps:iterator(M)), C);
needs(_, _) -> false.

needs_list([H | T], C) -> needs(H, C) orelse needs_list(T, C);
needs_list([], _) -> false;
needs_list(Tail, C) -> needs(Tail, C).

needs_elements(_, 0, _) -> false;
needs_elements(T, I, C) -> needs(element(I, T), C) orelse needs_elements(T, I - 1, C).

%% (a small map's pairs as a list: cheaper to walk than an iterator, which allocates at every step)
needs_pairs([{K, V} | Rest], C) when is_atom(K) ->
    secret_key(K, C) orelse needs(V, C) orelse needs_pairs(Rest, C);
needs_pairs([{K, V} | Rest], C = #{keys := KP}) ->
    (KP =/= none andalso is_binary(K) andalso secret_key(K, C))
        orelse needs(K, C) orelse needs(V, C) orelse needs_pairs(Rest, C);
needs_pairs([], _) -> false.

needs_map(none, _) -> false;
needs_map({K, V, Next}, C = #{keys := KP}) ->
    (KP =/= none andalso (is_atom(K) orelse is_binary(K)) andalso secret_key(K, C))
        orelse needs(K, C) orelse needs(V, C) orelse needs_map(maps:next(Next), C).

r(B, C) when is_binary(B) -> r_binary(B, C);
r([], _) -> [];
r(L = [H | _], C) when is_integer(H) ->
    case string_seen(L, C) of
        true -> ?MARKER;
        false -> r_list(L, C)
    end;
r(L, C) when is_list(L) -> r_list(L, C);
r({K, V}, C = #{keys := KP}) when (is_atom(K) orelse is_binary(K)), KP =/= none, not is_map_key({K, 2}, map_get(records, C)) ->
    case secret_key(K, C) of
        true -> found(V), {K, ?MARKER};
        false -> {r(K, C), r(V, C)}
    end;
r(T, C) when is_tuple(T) ->
    case record_fields(T, C) of
        [] -> list_to_tuple([r(E, C) || E <- tuple_to_list(T)]);
        Secret ->
            list_to_tuple([case lists:member(I, Secret) of
                               true -> found(E), ?MARKER;
                               false -> r(E, C)
                           end || {I, E} <- lists:zip(lists:seq(1, tuple_size(T)), tuple_to_list(T))])
    end;
r(M, C = #{keys := KP}) when is_map(M) ->
    maps:from_list([case KP =/= none andalso (is_atom(K) orelse is_binary(K)) andalso secret_key(K, C) of
                        true -> found(V), {K, ?MARKER};
                        false -> {r(K, C), r(V, C)}
                    end || {K, V} <- maps:to_list(M)]);
r(T, _) -> T.

r_list([H | T], C) when is_list(T) -> [r(H, C) | r_list(T, C)];
r_list([H | T], C) -> [r(H, C) | r(T, C)];
r_list([], _) -> [].

r_binary(B, C = #{seen := Seen}) ->
    case is_map_key(B, Seen) of
        true -> ?MARKER;
        false -> in_binary(B, C)
    end.

in_binary(B, #{pattern := none}) -> B;
in_binary(B, #{pattern := P}) when byte_size(B) >= ?MIN_SEEN ->
    case binary:match(B, P) of
        nomatch -> B;
        _ -> binary:replace(B, P, <<"[redacted]">>, [global])
    end;
in_binary(B, _) -> B.

seen_in(_, #{pattern := none}) -> false;
seen_in(B, #{seen := Seen, pattern := P}) ->
    is_map_key(B, Seen) orelse (byte_size(B) >= ?MIN_SEEN andalso binary:match(B, P) =/= nomatch).

%% A charlist that is a remembered secret (only whole: a string inside a longer charlist is not looked for).
string_seen(_, #{seen := Seen}) when map_size(Seen) =:= 0 -> false;
string_seen(L, #{seen := Seen}) ->
    case length_at_most(L, 4096) andalso io_lib:printable_unicode_list(L) of
        true ->
            case unicode:characters_to_binary(L) of
                B when is_binary(B) -> is_map_key(B, Seen);
                _ -> false
            end;
        false -> false
    end.

length_at_most([], _) -> true;
length_at_most(_, 0) -> false;
length_at_most([_ | T], N) -> length_at_most(T, N - 1);
length_at_most(_, _) -> false.

%% A value found under a secret key: remembered when it is text long enough.
found(V) when is_binary(V), byte_size(V) >= ?MIN_SEEN, byte_size(V) =< 4096 ->
    put('$lumin_found', [V | get_found()]);
found(V = [C | _]) when is_integer(C) ->
    case length_at_most(V, 4096) andalso io_lib:printable_unicode_list(V) of
        true ->
            case unicode:characters_to_binary(V) of
                B when is_binary(B) -> found(B);
                _ -> ok
            end;
        false -> ok
    end;
found(_) -> ok.

get_found() ->
    case get('$lumin_found') of
        L when is_list(L) -> L;
        _ -> []
    end.

%% ---- keys --------------------------------------------------------------------------------------------------

%% An atom's verdict is kept in the process's dictionary for the policy's version: the same few keys come back
%% in every term of a column, and a regex run per key would cost more than the rest of the walk.
secret_key(_, #{keys := none}) -> false;
secret_key(K, #{keys := KP, version := V}) when is_atom(K) ->
    case get({'$lumin_key', K}) of
        {V, Verdict} -> Verdict;
        _ ->
            Verdict = re:run(atom_to_binary(K, utf8), KP, [{capture, none}]) =:= match,
            put({'$lumin_key', K}, {V, Verdict}),
            Verdict
    end;
secret_key(K, #{keys := KP}) when is_binary(K) ->
    %% (a binary key that is not UTF-8 text names nothing the policy can match)
    try re:run(K, KP, [{capture, none}]) =:= match
    catch error:badarg -> false
    end;
secret_key(_, _) -> false.

record_secret(T, C) -> record_fields(T, C) =/= [].

%% The 1-based tuple positions of a record's secret fields, when the tuple is a record whose definition was read.
record_fields(T, #{records := Recs}) when map_size(Recs) > 0, tuple_size(T) > 1, is_atom(element(1, T)) ->
    maps:get({element(1, T), tuple_size(T)}, Recs, []);
record_fields(_, _) -> [].

%% ---- parameters -----------------------------------------------------------------------------------------

%% The 1-based positions of `MFA''s parameters named as secrets: the module's debug info is read once, and
%% the positions kept per function and policy version (in the table: a small list to copy out).
secret_params({M, F, A} = MFA, #{keys := KP, version := V}) when KP =/= none ->
    case catch ets:lookup(?TABLE, {params, MFA}) of
        [{_, V, Positions}] -> Positions;
        _ ->
            Positions = case module_facts(M) of
                            none -> [];
                            Facts ->
                                Clauses = lumin_debug_info:params(Facts, F, A),
                                [I || I <- lists:seq(1, A),
                                      lists:any(fun(Names) -> secret_name(lists:nth(I, Names), KP) end,
                                                [Ns || Ns <- Clauses, length(Ns) =:= A])]
                        end,
            catch ets:insert(?TABLE, {{params, MFA}, V, Positions}),
            Positions
    end;
secret_params(_, _) -> [].

secret_name(none, _) -> false;
secret_name(Name, KP) -> re:run(string:trim(Name, leading, "_"), KP, [{capture, none}]) =:= match.

hide_positions([A | As], I, Positions, Acc, Found) ->
    case lists:member(I, Positions) of
        true -> hide_positions(As, I + 1, Positions, [?MARKER | Acc], [A | Found]);
        false -> hide_positions(As, I + 1, Positions, [A | Acc], Found)
    end;
hide_positions(Rest, _, _, Acc, Found) ->
    put('$lumin_found', []),
    [found(V) || V <- Found],
    {lists:reverse(Acc, Rest), erase('$lumin_found')}.

%% A module's debug info facts, read once and kept in the table (its records added to what is redacted).
module_facts(M) ->
    case catch ets:lookup(?TABLE, {module, M}) of
        [{_, Facts}] -> Facts;
        [] ->
            Facts = lumin_debug_info:read(M),
            case ets:update_counter(?TABLE, module_count, 1) =< ?MAX_MODULES of
                true ->
                    ets:insert(?TABLE, {{module, M}, Facts}),
                    case lumin_debug_info:records(Facts) of
                        [] -> ok;
                        Records -> ets:insert(?TABLE, [{{record, R}, Fields} || {R, Fields} <- Records]), bump()
                    end;
                false -> ok
            end,
            Facts;
        _ -> lumin_debug_info:read(M)
    end.

%% ---- the shared state, and each process's view of it -------------------------------------------------------

remember([]) -> ok;
remember(Values) ->
    New = [V || V <- lists:usort(Values), ets:insert_new(?TABLE, {{seen, V}, true})],
    case New of
        [] -> ok;
        _ ->
            Count = ets:update_counter(?TABLE, seen_count, length(New)),
            case Count > ?MAX_SEEN of
                true -> [ets:delete(?TABLE, {seen, V}) || V <- New], ets:update_counter(?TABLE, seen_count, -length(New));
                false -> ok
            end,
            bump(),
            catch ets:update_counter(?TABLE, learned, 1),
            put('$lumin_learned', case get('$lumin_learned') of N when is_integer(N) -> N + 1; _ -> 1 end),
            %% This process sees what it just learned at once (redactor/0 reads its view from the dictionary).
            _ = ctx()
    end,
    ok.

bump() -> ets:update_counter(?TABLE, version, 1).

%% This process's compiled view: `off', or #{keys (a compiled regex or none), seen (a set), pattern (of the
%% seen values, or none), records (#{{Name, Size} => secret positions})}. Without the table (the agent not
%% started: a test, a module used alone) the default policy, nothing remembered.
ctx() ->
    Version = try ets:lookup_element(?TABLE, version, 2) catch error:badarg -> none end,
    case get('$lumin_redact') of
        {Version, C} -> C;
        _ ->
            C = case build(Version) of
                    #{off := true} -> off;
                    B -> B
                end,
            put('$lumin_redact', {Version, C}),
            C
    end.

build(none) -> (compile(true, default_keys(), [], []))#{version => none};
build(_) ->
    [{policy, On, Keys, PolicyVersion}] = ets:lookup(?TABLE, policy),
    Seen = ets:select(?TABLE, [{{{seen, '$1'}, '_'}, [], ['$1']}]),
    Records = ets:select(?TABLE, [{{{record, '$1'}, '$2'}, [], [{{'$1', '$2'}}]}]),
    (compile(On, Keys, Seen, Records))#{version => PolicyVersion}.

compile(false, _, _, _) -> #{off => true};
compile(true, Keys, Seen, Records) ->
    KP = case Keys of
             [] -> none;
             _ ->
                 {ok, RE} = re:compile(lists:join($|, [escape(K) || K <- Keys]), [caseless, unicode]),
                 RE
         end,
    Recs = maps:from_list([{{R, length(Fields) + 1}, Secret}
                           || {R, Fields} <- Records, KP =/= none,
                              Secret <- [[I + 1 || {I, F} <- lists:zip(lists:seq(1, length(Fields)), Fields),
                                                   secret_name(F, KP)]],
                              Secret =/= []]),
    #{keys => KP, seen => maps:from_list([{S, true} || S <- Seen]),
      pattern => case Seen of [] -> none; _ -> binary:compile_pattern(Seen) end,
      records => Recs}.

escape(K) -> re:replace(K, "[\\\\^$.|?*+()\\[\\]{}-]", "\\\\&", [global, {return, binary}]).
