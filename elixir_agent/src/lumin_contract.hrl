%% Generated from kernel/tables/schemas.ts by `node scripts/contract.js`: edit there, not here.
%% The contract between the agent and the kernel: each table's columns (in the order a batch names them),
%% the states of a probe and the reasons a probe ends. test/unit/contract.test.ts fails when this file or the
%% agent's sources disagree with the kernel.

-ifndef(LUMIN_CONTRACT_HRL).
-define(LUMIN_CONTRACT_HRL, true).

%% Probe kinds and snapshot kinds.
-define(LUMIN_PROBE_KINDS, [calls, messages, procs, state, telemetry, logs, metrics, counts]).
-define(LUMIN_SNAPSHOT_KINDS, [top, tree, apps, ets]).

%% The states of a probe, in order.
%%   armed: watching: events are counted and rows sent in batches
%%   ending: a budget tripped or it was disarmed: its trace patterns and flags are already removed, and what was under way is being drained into its last batch
%%   ended: its last batch has been sent; nothing of it is left on the node
-define(LUMIN_PROBE_STATES, [armed, ending, ended]).
-define(LUMIN_IS_PROBE_STATE(X),
        (X =:= armed orelse X =:= ending orelse X =:= ended)).

%% Why a probe ended (its status's why_ended).
%%   limit: its count budget (--limit) was reached
%%   time: its time budget (--for) ran out
%%   rate: events came faster than its rate budget (--rate)
%%   buffer: more rows waited on the node for the kernel than its buffer budget
%%   mailbox: its tracer's mailbox grew past its budget
%%   memory: its tracer's memory grew past its budget, or the agent's memory on the node passed the node-wide budget (120 MB) and this probe held the most
%%   cost: a state probe's hook took more than its share (5%) of the watched process's time
%%   overload: the process a message probe watched fell behind its senders while traced: its mailbox grew by more than the mailbox budget
%%   target_down: the process it watched exited
%%   disarmed: the user disarmed it (%disarm, %disconnect), or the agent stopped
%%   node_down: the connection to its node was lost
%%   refused: the node refused to arm it (the error says why); it never ran
-define(LUMIN_WHY_ENDED, [limit, time, rate, buffer, mailbox, memory, cost, overload, target_down, disarmed,
                        node_down, refused]).
-define(LUMIN_IS_WHY_ENDED(X),
        (X =:= limit orelse X =:= time orelse X =:= rate orelse X =:= buffer orelse
         X =:= mailbox orelse X =:= memory orelse X =:= cost orelse X =:= overload orelse
         X =:= target_down orelse X =:= disarmed orelse X =:= node_down orelse X =:= refused)).

%% Each table's columns, in order, and its schema version.
-define(LUMIN_COLUMNS_CALLS, [node, pid, process, module, function, arity, depth, start_us, duration_us,
                             outcome, result, exception_class, exception_reason, args]).
-define(LUMIN_SCHEMA_VERSION_CALLS, 1).
-define(LUMIN_COLUMNS_MESSAGES, [node, time_us, event, from_pid, from_name, to_pid, to_name, protocol,
                                call_id, latency_us, message, size_words]).
-define(LUMIN_SCHEMA_VERSION_MESSAGES, 1).
-define(LUMIN_COLUMNS_PROCS, [node, time_us, event, pid, name, other, mfa, reason]).
-define(LUMIN_SCHEMA_VERSION_PROCS, 1).
-define(LUMIN_COLUMNS_STATE, [node, pid, name, seq, time_us, duration_us, kind, message, state_before,
                             state_after, state_name_before, state_name_after, reply, state_diff]).
-define(LUMIN_SCHEMA_VERSION_STATE, 2).
-define(LUMIN_COLUMNS_TELEMETRY, [node, time_us, pid, event, measurements, metadata]).
-define(LUMIN_SCHEMA_VERSION_TELEMETRY, 1).
-define(LUMIN_COLUMNS_LOGS, [node, time_us, level, pid, mfa, file, line, message, metadata]).
-define(LUMIN_SCHEMA_VERSION_LOGS, 1).
-define(LUMIN_COLUMNS_METRICS, [node, time_us, memory_total, memory_processes, memory_binary, memory_ets,
                               memory_atom, memory_code, process_count, port_count, run_queue,
                               scheduler_utilization, reductions_per_s, io_in_bytes_per_s,
                               io_out_bytes_per_s]).
-define(LUMIN_SCHEMA_VERSION_METRICS, 1).
-define(LUMIN_COLUMNS_TOP, [node, pid, name, initial_call, current_function, memory, reductions_per_s,
                           message_queue_len, heap_size, agent]).
-define(LUMIN_SCHEMA_VERSION_TOP, 1).
-define(LUMIN_COLUMNS_TREE, [node, application, supervisor, supervisor_pid, child_id, pid, name, type,
                            restart, strategy, depth]).
-define(LUMIN_SCHEMA_VERSION_TREE, 1).
-define(LUMIN_COLUMNS_APPS, [node, application, description, version, running]).
-define(LUMIN_SCHEMA_VERSION_APPS, 1).
-define(LUMIN_COLUMNS_ETS, [node, table, type, size, memory_bytes, owner, owner_name, protection]).
-define(LUMIN_SCHEMA_VERSION_ETS, 1).
-define(LUMIN_COLUMNS_COUNTS, [node, time_us, function, count, mean_us, total_us]).
-define(LUMIN_SCHEMA_VERSION_COUNTS, 1).
-define(LUMIN_COLUMNS_SUMMARY, [time_us, node, function, count, sampled, errors, p50_us, p90_us, p99_us,
                               max_us, mean_us]).
-define(LUMIN_SCHEMA_VERSION_SUMMARY, 2).
-define(LUMIN_COLUMNS_PROBES, [name, node, kind, target, state, seen, dropped, why_ended, detail]).
-define(LUMIN_SCHEMA_VERSION_PROBES, 1).
-define(LUMIN_COLUMNS_WHATIF, [node, row, seq, start_us, function, args, outcome, same, recorded, replayed,
                              recorded_us, replayed_us, state, recorded_state, replayed_state, diff, sent,
                              sent_count, would_call, error]).
-define(LUMIN_SCHEMA_VERSION_WHATIF, 1).

-endif.
