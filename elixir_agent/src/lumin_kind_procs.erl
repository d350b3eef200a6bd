%% @doc Process probes (a kind of lumin_probe): the `procs' trace flag, giving spawn, exit, link, unlink,
%% register and unregister rows (spawn rows name the spawned process's MFA, seen through proc_lib and gen).
%% Spec: optional `process', a pid, name or "app:NAME". Without one it traces every process; with one, that
%% process and its descendants: those alive at arm (linked processes whose parent it is, recursively) and
%% those spawned later (every new process is traced and the ones outside the family are untraced on their
%% first event). Links made to a traced process by an untraced one appear only from the traced side. The
%% agent's own processes are untraced the first time they show up.
-module(lumin_kind_procs).
-behaviour(lumin_probe_kind).

-export([setup/2, columns/0, noun/0, target/1, undo/1, trace/2, release/1]).

-define(FLAGS, [procs, monotonic_timestamp]).
-define(TAGS, [spawn, spawned, exit, link, unlink, getting_linked, getting_unlinked, register, unregister]).
-define(MAX_CACHE, 100000).
-define(MAX_FAMILY, 10000).

setup(Spec, P0) ->
    %% The names registered now: a process that exits before its first row is read still has its name.
    P = P0#{names := maps:from_list([{Pid, N} || N <- registered(), Pid <- [whereis(N)], is_pid(Pid)])},
    case maps:get(process, Spec, undefined) of
        W when W =:= undefined; W =:= <<>>; W =:= <<"all">> ->
            lumin_probe:trace(all, ?FLAGS, ?TAGS, P#{checked => #{}});
        W ->
            {Pid, Members} = case lumin_target:app(W) of
                                 %% An application: its processes now, and those they spawn.
                                 {app, _, [First | _] = Pids} -> {First, Pids};
                                 none ->
                                     Pid0 = lumin_target:process(W, false),
                                     lumin_target:refuse_ours(Pid0),
                                     {Pid0, family_of(Pid0)}
                             end,
            Family = maps:from_list([{M, true} || M <- Members]),
            lumin_probe:trace({family, Pid, Members}, ?FLAGS, ?TAGS, P#{family => Family})
    end.

columns() ->
    [{node, {const, node()}}, {time_us, f64}, {event, dict}, {pid, dict}, {name, dict}, {other, dict}, {mfa, dict},
     {reason, terms}].

noun() -> "process events".

target(Spec) -> lumin_target:text(maps:get(process, Spec, <<"all processes">>)).

undo(P) -> P.

release(P) -> maps:without([family, checked], P).

trace(Msgs, P) -> lists:foldr(fun proc_event/2, P, Msgs).

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

proc_event({trace_ts, Child, spawned, Parent, _MFA, _TS}, P = #{tracee := all, checked := C}) ->
    Skip = maps:get(Parent, C, false) orelse lumin_probe:ours(Parent, P) orelse lumin_probe:ours(Child, P),
    Skip andalso lumin_probe:untrace(Child, P),
    P#{checked := put_bounded(Child, Skip, C)};
proc_event({trace_ts, Child, spawned, Parent, _MFA, _TS}, P = #{family := F}) ->
    case maps:is_key(Parent, F) orelse maps:is_key(Child, F) of
        true -> P#{family := F#{Child => true}};
        false -> lumin_probe:untrace(Child, P), P
    end;
proc_event({trace_ts, _, Ev, _, _}, P) when Ev =:= getting_linked; Ev =:= getting_unlinked ->
    %% The other side's link or unlink, which is reported by that side when it is traced.
    P;
proc_event({trace_ts, Pid, Ev, Info, TS}, P) ->
    case in_scope(Pid, P) of
        true -> proc_row(Ev, Pid, Info, undefined, TS, P);
        false -> P
    end;
proc_event({trace_ts, Pid, spawn, Child, MFA, TS}, P) ->
    case in_scope(Pid, P) of
        true ->
            P1 = case P of
                     #{family := F} -> P#{family := F#{Child => true}};
                     _ -> P
                 end,
            proc_row(spawn, Pid, Child, MFA, TS, P1);
        false -> P
    end;
proc_event(_, P) -> P.

in_scope(Pid, #{family := F}) -> maps:is_key(Pid, F);
in_scope(Pid, #{checked := C}) -> not maps:get(Pid, C, false).

proc_row(Ev, Pid, Info, MFA, TS, P0) when Ev =:= spawn; Ev =:= exit; Ev =:= link; Ev =:= unlink;
                                          Ev =:= register; Ev =:= unregister ->
    {Name, P} = case Ev of
                    register -> {Info, P0#{names := put_bounded(Pid, Info, maps:get(names, P0))}};
                    _ -> lumin_probe:name_of(Pid, P0)
                end,
    {Other, Reason} = case Ev of
                          exit -> {undefined, lumin_columns:present(Info)};
                          _ -> {Info, undefined}
                      end,
    Row = [node(), lumin_probe:us(TS, P), Ev, Pid, Name, Other, spawn_mfa(MFA), Reason],
    P1 = lumin_probe:emit(Row, P),
    case Ev of
        unregister -> P1#{names := maps:remove(Pid, maps:get(names, P1))};
        _ -> P1
    end;
proc_row(_, _, _, _, _, P) -> P.

put_bounded(K, V, M) when map_size(M) >= ?MAX_CACHE -> #{K => V};
put_bounded(K, V, M) -> M#{K => V}.

%% What a process was spawned to run, seen through proc_lib and gen: gen_server children read as Mod:init/1.
spawn_mfa(undefined) -> undefined;
spawn_mfa({proc_lib, init_p, [_, _, gen, init_it, [_GenMod, _Starter, _Parent, Mod, _Args, _Opts]]}) when is_atom(Mod) ->
    lumin_lib:fmt_mfa({Mod, init, 1});
spawn_mfa({proc_lib, init_p, [_, _, gen, init_it, [_GenMod, _Starter, _Parent, _Name, Mod, _Args, _Opts]]}) when is_atom(Mod) ->
    lumin_lib:fmt_mfa({Mod, init, 1});
spawn_mfa({proc_lib, init_p, [_, _, M, F, A]}) when is_atom(M), is_atom(F), is_list(A) -> lumin_lib:fmt_mfa({M, F, length(A)});
spawn_mfa({proc_lib, init_p, [_, _, Fun]}) when is_function(Fun) -> fun_text(Fun);
spawn_mfa({erlang, apply, [Fun, Args]}) when is_function(Fun), is_list(Args) -> fun_text(Fun);
spawn_mfa({M, F, A}) when is_atom(M), is_atom(F), is_list(A) -> lumin_lib:fmt_mfa({M, F, length(A)});
spawn_mfa(Other) -> lumin_lib:fmt("~0P", [Other, 8]).

fun_text(Fun) ->
    {module, M} = erlang:fun_info(Fun, module),
    {name, N} = erlang:fun_info(Fun, name),
    {arity, A} = erlang:fun_info(Fun, arity),
    lumin_lib:fmt_mfa({M, N, A}).
