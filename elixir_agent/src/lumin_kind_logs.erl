%% @doc Log probes (a kind of lumin_probe): a :logger handler (id `lumin_log_probe', so one logs probe per node)
%% at a level (spec `level', "warning"…), one row per log event, its text formatted as :logger would and cut to
%% lumin_budget:max_term_bytes/0. Events the node's primary level filters out never reach any handler.
-module(lumin_kind_logs).
-behaviour(lumin_probe_kind).

-export([setup/2, columns/0, noun/0, target/1, undo/1, event/2]).
%% The :logger handler callback, run by the process that logs.
-export([log/2]).

-define(HANDLER, lumin_log_probe).
-define(LEVELS, [emergency, alert, critical, error, warning, notice, info, debug]).

setup(Spec, P = #{ref := Ref, off := Off, counter := C}) ->
    Level = parse_level(maps:get(level, Spec, <<"info">>)),
    case lists:member(?HANDLER, logger:get_handler_ids()) of
        true -> throw({error, ["a logs probe is already armed on ", atom_to_list(node()),
                               " (one at a time, logger handler lumin_log_probe); disarm it first"]});
        false -> ok
    end,
    Config = #{level => Level, filter_default => log, filters => [],
               config => #{probe => self(), ref => Ref, off => Off, counter => C}},
    case logger:add_handler(?HANDLER, ?MODULE, Config) of
        ok -> ok;
        {error, Why} -> throw({error, io_lib:format("logger did not add the probe's handler: ~0p", [Why])})
    end,
    P#{level => Level}.

columns() ->
    [{node, {const, node()}}, {time_us, f64}, {level, dict}, {pid, dict}, {mfa, dict}, {file, dict}, {line, dict},
     {message, dict}, {metadata, terms}].

noun() -> "log events".

target(Spec) -> lumin_target:text(maps:get(level, Spec, <<"info">>)).

undo(P = #{ref := Ref}) ->
    case logger:get_handler_config(?HANDLER) of
        {ok, #{config := #{ref := Ref}}} -> _ = logger:remove_handler(?HANDLER);
        _ -> ok
    end,
    P.

event({log, Ev}, P) -> lumin_probe:emit(log_row(Ev), P);
event(_, P) -> P.

%% @doc The :logger handler callback of a logs probe, run by the process that logs.
log(Event, #{config := #{probe := Probe, ref := Ref, off := Off, counter := C}}) ->
    case atomics:get(Off, 1) =:= 0 of
        true ->
            counters:add(C, 1, 1),
            case is_process_alive(Probe) of
                true -> Probe ! {'$lumin_event', Ref, {log, Event}};
                false -> spawn(fun() -> remove_stale_handler(Ref) end)
            end;
        false -> ok
    end,
    ok;
log(_, _) -> ok.

remove_stale_handler(Ref) ->
    case logger:get_handler_config(?HANDLER) of
        {ok, #{config := #{ref := Ref}}} -> logger:remove_handler(?HANDLER);
        _ -> ok
    end.

parse_level(L) when is_atom(L) -> parse_level(atom_to_binary(L, utf8));
parse_level(B) when is_binary(B) ->
    T = case string:lowercase(string:trim(B)) of
            <<":", R/binary>> -> R;
            R -> R
        end,
    Named = [{atom_to_binary(L, utf8), L} || L <- ?LEVELS] ++ [{<<"warn">>, warning}, {<<"all">>, all}],
    case lists:keyfind(T, 1, Named) of
        {_, Level} -> Level;
        false -> throw({error, ["`", B, "` is not a log level: use one of ", lists:join(", ", [atom_to_list(L) || L <- ?LEVELS])]})
    end;
parse_level(Other) ->
    throw({error, io_lib:format("~0p is not a log level", [Other])}).

log_row(Ev = #{level := Level, meta := Meta}) ->
    Time = case Meta of
               #{time := T} when is_integer(T) -> T;
               _ -> os:system_time(microsecond)
           end,
    File = field(file, Meta, fun(F) when is_list(F); is_binary(F) -> unicode:characters_to_binary(F) end),
    Line = field(line, Meta, fun(L) when is_integer(L) -> L end),
    MFA = field(mfa, Meta, fun({M, Fn, A}) when is_atom(M), is_atom(Fn), is_integer(A) -> lumin_lib:fmt_mfa({M, Fn, A}) end),
    Pid = field(pid, Meta, fun(P) when is_pid(P) -> P end),
    [node(), Time, Level, Pid, MFA, File, Line, log_text(Ev),
     lumin_columns:present(maps:without([time, pid, mfa, file, line, report_cb], Meta))].

%% A metadata field as Shown makes it, or undefined where it is missing or not of the shape Shown takes
%% (any code may log any metadata).
field(Key, Meta, Shown) ->
    case maps:find(Key, Meta) of
        {ok, Value} -> try Shown(Value) catch error:function_clause -> undefined end;
        error -> undefined
    end.

%% The message is redacted before it is formatted (a report's `authorization:' value, a secret in the format's
%% arguments), and the text after (values known to be secret, the marker printed as `[redacted]').
log_text(Ev0) ->
    Ev = case Ev0 of
             #{msg := Msg} -> Ev0#{msg := lumin_redact:term(Msg)};
             _ -> Ev0
         end,
    Max = lumin_budget:max_term_bytes(),
    Text = try logger_formatter:format(Ev, #{template => [msg], single_line => false, chars_limit => Max}) of
               Chars -> case unicode:characters_to_binary(Chars) of
                            B when is_binary(B) -> B;
                            _ -> lumin_lib:fmt("~0p", [maps:get(msg, Ev)])
                        end
           catch _:_ -> lumin_lib:fmt("~0P", [maps:get(msg, Ev, undefined), 30])
           end,
    Shown = lumin_redact:text(Text),
    case byte_size(Shown) > Max of
        true -> <<(binary:part(Shown, 0, Max))/binary, "…"/utf8>>;
        false -> Shown
    end.
