%% @doc The behaviour of a probe kind: what one kind of probe says to the probe runtime (lumin_probe), and
%% nothing more. The runtime owns everything a probe has in common — its process, budgets and their watchdog,
%% the node-wide memory guard's enlistment, batching (lumin_columns), ticks, flushing and acks to the bridge,
%% ending once and draining, status — and the node's tracing (lumin_trace), which a trace kind asks for with
%% lumin_probe:trace/4. A kind only says how to set itself up, turn what it sees into rows of its table, and
%% undo what it set. Its module is named `lumin_kind_KIND' and listed in lumin_lib:agent_modules/0; the
%% kind's table schema is in kernel/tables/schemas.ts (columns/0 gives them in that order).
%%
%% A callback gets the probe (a map, lumin_probe:probe()) and returns it. The runtime's own keys are listed
%% there; a kind keeps its own beside them and must not change the runtime's, except `mon' (a monitor of the
%% watched process: the runtime ends the probe with why_ended `target_down' when it goes) and `warnings'.
%% Rows are made with lumin_probe:emit/2 (counted against the budgets) or, for an event counted earlier with
%% lumin_probe:take/1, lumin_probe:add_row/2; terms go into rows as they are (a terms column cuts them) or as
%% lumin_columns:present/1 when `undefined' must not read as null.
%%
%% Callbacks that run in other processes (a sys hook, a telemetry or logger handler) send the probe
%% `{'$lumin_event', Ref, Event}' (Ref: the probe's `ref'), which the runtime hands to event/2 — or drops,
%% counted, once a flood ended the probe — or, where a send would be traced by another probe on the same
%% process (a state probe's hook), write to a table the probe owns and reads itself; they check `off' (an atomics ref, index 1 set to 1 when the probe
%% ends) to go quiet. They bump index 1 of the `counter' (a counters ref) once per event, for the watchdog's
%% rate, and index 2 by the native time they took in the watched process, which the watchdog holds to
%% lumin_budget:state_share/0.
-module(lumin_probe_kind).

%% Set the kind up from the user's spec: resolve what it watches, install what it needs. Throw {error, Text}
%% (a sentence saying what was wrong and what to do) with nothing left installed.
-callback setup(Spec :: map(), Probe :: map()) -> map().

%% The columns of the kind's table, in row order ([{Name, lumin_columns kind}]).
-callback columns() -> [{atom(), term()}].

%% What one counted event of the kind is, in budget messages ("messages", "log events").
-callback noun() -> string().

%% The target as %probes shows it, when the spec gives no `target' text.
-callback target(Spec :: map()) -> binary().

%% Remove everything setup/2 installed (the runtime removes the trace flags itself). Called once.
-callback undo(Probe :: map()) -> map().

%% A chunk of trace messages from the tracer (newest first): rows. Trace kinds only.
-callback trace(Msgs :: [tuple()], Probe :: map()) -> map().

%% An event sent by the kind's callbacks in other processes ({'$lumin_event', Ref, Event}).
-callback event(Event :: term(), Probe :: map()) -> map().

%% Any other message: the kind's own timers, replies to requests it made.
-callback info(Msg :: term(), Probe :: map()) -> map().

%% The source has stopped (the watched process went, or the probe is ending): rows for what was under way.
-callback finish(Probe :: map()) -> map().

%% Whether answers the kind asked for are still to come when everything else has drained (the runtime then
%% waits for the kind to call lumin_probe:finalize/1, or for the drain time to pass).
-callback waiting(Probe :: map()) -> boolean().

%% The probe has ended: let go of caches (what it held is collected at once).
-callback release(Probe :: map()) -> map().

%% Events under way whose end is still to come (a call probe: calls whose return has not come): while there
%% are, an ending probe keeps its trace flags, for at most the drain time.
-callback open(Probe :: map()) -> non_neg_integer().

%% A kind that keeps its rows in its own shape (calls, messages): how many it holds, and a batch of them (made with
%% lumin_columns) with the rows taken out. Other kinds' rows go into the runtime's lumin_columns builder.
-callback held(Probe :: map()) -> non_neg_integer().
-callback batch(Dropped :: non_neg_integer(), Probe :: map()) -> {binary(), map()}.

%% How many events a chunk of trace messages holds, when it is dropped (default: one a message).
-callback events(Msgs :: [tuple()], Probe :: map()) -> non_neg_integer().

-optional_callbacks([trace/2, event/2, info/2, finish/1, waiting/1, release/1, open/1, held/1, batch/2, events/2]).
