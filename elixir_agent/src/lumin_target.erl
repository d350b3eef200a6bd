%% @doc What a user wrote to name processes, resolved on the node: a pid ("<0.12.0>", "#PID<0.12.0>"), a
%% registered name as Elixir or Erlang writes it (MyApp.Worker, :my_worker, my_worker), "new" (processes spawned
%% from now on, for message probes) or "app:NAME" (a running application's processes). Every probe kind that
%% watches processes resolves them here, so they all accept the same words and refuse them with the same
%% sentences. Nothing typed by a user becomes an atom: names are looked up with binary_to_existing_atom/2 and
%% pids read with list_to_pid/1.
-module(lumin_target).
-export([process/2, app/1, refuse_ours/1, existing_atom/1, unquote/1, pid_text/1, text/1]).

%% @doc The local, live process `P' names; `new' when `AllowNew' and it says "new". Throws {error, Text}.
-spec process(term(), boolean()) -> pid() | new.
process(P, _) when is_pid(P) -> local_alive(P, pid_text(P));
process(Bin, AllowNew) when is_binary(Bin) ->
    case string:trim(Bin) of
        <<>> -> throw({error, "no process given: write a pid such as <0.123.0> or a registered name"});
        <<"new">> when AllowNew -> new;
        <<"new">> -> throw({error, "`new` is only for message probes: this kind watches one existing process"});
        <<"#PID", Rest/binary>> -> parse_pid(Rest);
        <<"<", _/binary>> = T -> parse_pid(T);
        T -> registered(T)
    end;
process(undefined, _) ->
    throw({error, "no process given: write a pid such as <0.123.0> or a registered name"});
process(Other, _) ->
    throw({error, io_lib:format("~0p does not name a process: write a pid such as <0.123.0> or a registered name", [Other])}).

%% @doc "app:NAME": {app, App, Pids}, the processes of a running application (those whose group leader is its
%% master), without the agent's. `none' when the text names no application.
-spec app(term()) -> {app, atom(), [pid()]} | none.
app(<<"app:", Name0/binary>>) ->
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
               P =/= self(), not lumin_lib:agent_process(P)] of
        [] -> throw({error, ["the application ", Name, " has no processes on ", atom_to_list(node())]});
        Pids -> {app, App, Pids}
    end;
app(_) -> none.

%% @doc Throws when `P' is one of the agent's own processes (the caller included): probing it would feed the
%% probe its own events.
-spec refuse_ours(term()) -> ok.
refuse_ours(P) when is_pid(P) ->
    case P =:= self() orelse lumin_lib:agent_process(P) of
        true -> throw({error, [pid_text(P), " belongs to the ElixirLumin agent; probing it would feed the probe its own events"]});
        false -> ok
    end;
refuse_ours(_) -> ok.

%% @doc The atom the text names, if it exists (never a new one), else undefined.
-spec existing_atom(binary()) -> atom() | undefined.
existing_atom(B) ->
    try binary_to_existing_atom(B, utf8) catch error:badarg -> undefined end.

%% @doc A name without the double quotes around it (:"my name").
unquote(<<"\"", R/binary>>) when byte_size(R) > 0 -> binary:part(R, 0, byte_size(R) - 1);
unquote(B) -> B.

%% @doc How a target reads in messages.
-spec pid_text(term()) -> binary().
pid_text(P) when is_pid(P) -> list_to_binary(pid_to_list(P));
pid_text(new) -> <<"new processes">>;
pid_text(all) -> <<"all processes">>;
pid_text({app, App, _}) -> lumin_lib:fmt("the processes of ~p", [App]);
pid_text({family, P, _}) -> lumin_lib:fmt("~p and its descendants", [P]);
pid_text(T) -> lumin_lib:fmt("~0p", [T]).

%% @doc What the user wrote, as a probe's target text.
-spec text(term()) -> binary().
text(B) when is_binary(B) -> B;
text(P) when is_pid(P) -> pid_text(P);
text(L) when is_list(L) -> try lumin_lib:utf8(lists:join(", ", L)) catch _:_ -> lumin_lib:fmt("~0p", [L]) end;
text(T) -> lumin_lib:fmt("~0p", [T]).

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
