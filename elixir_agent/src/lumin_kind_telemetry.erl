%% @doc Telemetry probes (a kind of lumin_probe): telemetry:attach_many/4 on the named events (spec `prefixes':
%% ["shop.orders.stop" | "[:shop, :orders, :stop]"]), one row per event, in the process that emits it. Despite
%% the name, a prefix must be a FULL event name: :telemetry dispatches on exact names, so `[:shop, :orders]'
%% catches only events named exactly that. Refused when the node has no :telemetry loaded. Event names are
%% atoms that must exist already: a name that is no atom yet names no event.
-module(lumin_kind_telemetry).
-behaviour(lumin_probe_kind).

-export([setup/2, columns/0, noun/0, target/1, undo/1, event/2]).
%% Run by the process that emits an event.
-export([handle_event/4]).

setup(Spec, P = #{ref := Ref, off := Off, counter := C}) ->
    case code:is_loaded(telemetry) =/= false andalso erlang:function_exported(telemetry, attach_many, 4) of
        true -> ok;
        false -> throw({error, ["this node has no :telemetry library loaded (telemetry:attach_many/4 is not available on ",
                                atom_to_list(node()), "); a telemetry probe needs an application that emits :telemetry events"]})
    end,
    Events = case maps:get(prefixes, Spec, []) of
                 L when is_list(L), L =/= [] -> lists:usort([parse_event(E) || E <- L]);
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
    P#{handler => Id, events => Events, elixir => lists:keymember(elixir, 1, application:loaded_applications()),
       warnings := [<<"telemetry dispatches on exact event names: each prefix must be a full event name">>]}.

columns() ->
    [{node, {const, node()}}, {time_us, f64}, {pid, dict}, {event, dict}, {measurements, terms}, {metadata, terms}].

noun() -> "events".

target(Spec) -> lumin_target:text(maps:get(prefixes, Spec, <<>>)).

undo(P = #{handler := Id}) ->
    catch telemetry:detach(Id),
    P.

event({telemetry, TS, Pid, Ev, Meas, Meta}, P) ->
    lumin_probe:emit([node(), lumin_probe:us(TS, P), Pid, event_text(Ev, P), lumin_columns:present(Meas),
                      lumin_columns:present(Meta)], P);
event(_, P) -> P.

%% @doc The :telemetry handler, run by the process that emits the event.
handle_event(Event, Measurements, Metadata, #{probe := Probe, ref := Ref, off := Off, id := Id, counter := C}) ->
    case atomics:get(Off, 1) =:= 0 of
        true ->
            counters:add(C, 1, 1),
            case is_process_alive(Probe) of
                true -> Probe ! {'$lumin_event', Ref, {telemetry, erlang:monotonic_time(nanosecond), self(), Event, Measurements, Metadata}};
                false -> spawn(telemetry, detach, [Id])
            end;
        false -> ok
    end,
    ok.

%% An event name as the node's language writes it: [:my_app, :repo, :query] or [my_app,repo,query].
event_text(Ev, #{elixir := true}) when is_list(Ev) ->
    lumin_lib:utf8(["[", lists:join(", ", [elixir_atom(A) || A <- Ev]), "]"]);
event_text(Ev, _) -> lumin_lib:fmt("~0p", [Ev]).

elixir_atom(A) when is_atom(A) ->
    B = atom_to_binary(A, utf8),
    case re:run(B, "^[a-z_][a-zA-Z0-9_@]*[?!]?$", [unicode]) of
        {match, _} -> [":", B];
        nomatch -> [":\"", B, "\""]
    end;
elixir_atom(T) -> io_lib:format("~0p", [T]).

%% "shop.orders.stop", "[:shop, :orders, :stop]", "[shop, orders, stop]" → [shop, orders, stop], if those atoms exist.
parse_event(E) when is_binary(E) ->
    T = string:trim(E),
    Parts = case T of
                <<"[", _/binary>> -> string:split(string:trim(T, both, "[]"), ",", all);
                _ -> string:split(T, ".", all)
            end,
    Names = [lumin_target:unquote(case string:trim(X) of <<":", R/binary>> -> R; R -> R end) || X <- Parts],
    case [N || N <- Names, N =/= <<>>] of
        [] -> throw({error, ["`", E, "` is not an event name: write it as [:my_app, :repo, :query] or my_app.repo.query"]});
        NonEmpty ->
            [case lumin_target:existing_atom(N) of
                 undefined -> throw({error, ["no telemetry event named ", E, " can exist on ", atom_to_list(node()), ": `", N,
                                             "` is not an atom there. Check the spelling; each prefix must be a full event name"]});
                 A -> A
             end || N <- NonEmpty]
    end;
parse_event(L) when is_list(L) ->
    case lists:all(fun is_atom/1, L) of
        true -> L;
        false -> parse_event(lumin_lib:utf8(L))
    end;
parse_event(Other) ->
    throw({error, io_lib:format("~0p is not an event name", [Other])}).
