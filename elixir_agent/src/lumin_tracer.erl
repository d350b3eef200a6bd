%% @doc The tracer: the one process trace messages are sent to. It does the least possible work — receive,
%% accumulate, hand the chunk to the collector — because the BEAM gives a tracer no backpressure. Its mailbox
%% and memory are watched from outside, by the collector (a tick message of its own would wait behind a flood).
%%
%% It cuts big terms where they arrive: a traced result, argument list or message larger than the cut size
%% becomes a `{lumin_cut, Bytes, Prefix}' marker before it is kept (lumin_lib:cut/2 costs O(cut size), not
%% O(term size)), and the copy the VM made of it is released at once with a garbage collection. A 40 MB
%% state returned by a traced function therefore lives in the agent for one message, never in a chunk.
-module(lumin_tracer).
-export([start/2, stop/1, hurry/1, mark/2, cut/2, init/2]).

-define(CHUNK, 2000).
%% What it holds is handed on once no trace message came for this long (ms), so the end of a burst does not
%% wait for the next tick; a steady flow is handed on in chunks of ?CHUNK, or on ticks.
-define(IDLE_MS, 2).

%% @doc `Counter' (a counters ref) counts the trace messages taken, once per chunk, for lumin_watchdog.
-spec start(pid(), counters:counters_ref()) -> pid().
start(Collector, Counter) ->
    proc_lib:spawn(?MODULE, init, [Collector, Counter]).

stop(Tracer) -> Tracer ! {'$lumin', stop}, ok.

%% @doc Hand on what it holds now (a probe is ending and wants its last calls).
hurry(Tracer) -> Tracer ! {'$lumin', hand_on}, ok.

%% @doc Hand on what it holds now, then `{'$lumin', marker, Tag}': once the collector has that, it has every
%% trace message the tracer had taken when this request reached it.
mark(Tracer, Tag) -> Tracer ! {'$lumin', hand_on, Tag}, ok.

%% @doc Cut terms bigger than `Bytes' from now on (the largest cut size of the probes it serves).
cut(Tracer, Bytes) -> Tracer ! {'$lumin', cut, Bytes}, ok.

init(Collector, Counter) ->
    erlang:monitor(process, Collector),
    process_flag(priority, high),
    %% A flood waits in the mailbox; off the heap, it is not copied by each garbage collection.
    process_flag(message_queue_data, off_heap),
    %% Room for a chunk: fewer collections while it fills.
    process_flag(min_heap_size, 50000),
    erlang:send_after(lumin_budget:tick_ms() div 2, self(), {'$lumin', tick}),
    put('$lumin_cut', lumin_budget:max_term_bytes()),
    put('$lumin_cc', {Collector, Counter}),
    loop({Collector, Counter}, [], 0).

loop(CC, Acc, N) ->
    receive
        {'$lumin', tick} ->
            hand_on(CC, Acc, N),
            erlang:send_after(lumin_budget:tick_ms() div 2, self(), {'$lumin', tick}),
            loop(CC, [], 0);
        {'$lumin', hand_on} ->
            hand_on(CC, Acc, N),
            loop(CC, [], 0);
        {'$lumin', hand_on, Tag} ->
            hand_on(CC, Acc, N),
            element(1, CC) ! {'$lumin', marker, Tag},
            loop(CC, [], 0);
        {'$lumin', stop} ->
            hand_on(CC, Acc, N),
            element(1, CC) ! {'$lumin', tracer_stopped, self()};
        {'$lumin', cut, Bytes} ->
            put('$lumin_cut', Bytes),
            loop(CC, Acc, N);
        {'DOWN', _, process, C, _} when C =:= element(1, CC) ->
            ok;
        Msg0 ->
            Msg = small(Msg0),
            case N >= ?CHUNK of
                true ->
                    hand_on(CC, [Msg | Acc], N + 1),
                    loop(CC, [], 0);
                false ->
                    loop(CC, [Msg | Acc], N + 1)
            end
    after idle(N) ->
        hand_on(CC, Acc, N),
        loop(CC, [], 0)
    end.

idle(0) -> infinity;
idle(_) -> ?IDLE_MS.

hand_on(_, [], _) -> ok;
hand_on({C, Counter}, Acc, N) ->
    counters:add(Counter, 1, N),
    C ! {'$lumin', chunk, Acc}.

%% A value whose size is small for sure: kept without looking at it.
-define(SMALL(V), (is_atom(V) orelse is_integer(V) orelse is_float(V) orelse is_pid(V) orelse V =:= [])).

%% The trace message with its big term cut (results, exceptions, arguments, messages); when one was cut, the
%% VM's copy of it is garbage now, collected at once.
small({trace_ts, _, Tag, _, V, _} = M) when Tag =:= return_from; Tag =:= exception_from; Tag =:= call ->
    shrink(M, 5, V);
small({trace_ts, _, send, V, _, _} = M) -> shrink(M, 4, V);
small({trace_ts, _, send_to_non_existing_process, V, _, _} = M) -> shrink(M, 4, V);
small({trace_ts, _, 'receive', V, _} = M) -> shrink(M, 4, V);
small(M) -> M.

shrink(M, _, V) when ?SMALL(V) -> M;
shrink(M, I, V) ->
    Max = get('$lumin_cut'),
    case lumin_lib:fits(V, Max) of
        true -> M;
        false ->
            too_big(M, V),
            M1 = setelement(I, M, lumin_lib:cut(V, Max)),
            erlang:garbage_collect(),
            M1
    end.

%% A term over 64 KB is measured whole (in C, without garbage: ~2 ms a MB); past
%% lumin_budget:traced_term_max/0, the function that produced it is untraced now, before its next call copies
%% another one, and the collector is told. (The VM copied the term whole before the tracer could cut it; only
%% the next copies can be prevented.)
too_big(M, V) ->
    Budget = lumin_budget:traced_term_max(),
    Tag = element(3, M),
    case Tag =/= send andalso Tag =/= 'receive' andalso Tag =/= send_to_non_existing_process
         andalso not lumin_lib:fits(V, 65536) andalso erts_debug:flat_size(V) * 8 of
        Bytes when is_integer(Bytes), Bytes > Budget ->
            MFA = element(4, M),
            erlang:trace_pattern(MFA, false, [local]),
            Detail = io_lib:format("one traced result or argument list of ~ts took ~b MB on the node (at most ~b MB); "
                                   "the VM copies it whole for each call: probe it with --no-result, or a function that returns less",
                                   [lumin_lib:fmt_mfa(MFA), Bytes div 1048576, Budget div 1048576]),
            element(1, get('$lumin_cc')) ! {'$lumin', too_big, MFA, iolist_to_binary(Detail), erlang:monotonic_time(nanosecond)};
        _ -> ok
    end.
