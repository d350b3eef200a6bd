%% @doc The tracer: the one process trace messages are sent to. It does the least possible work — receive,
%% accumulate, hand the chunk to the collector — because the BEAM gives a tracer no backpressure. Its mailbox
%% and memory are watched from outside, by the collector (a tick message of its own would wait behind a flood).
-module(lumin_tracer).
-export([start/2, stop/1, hurry/1, mark/2, init/2]).

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

init(Collector, Counter) ->
    erlang:monitor(process, Collector),
    process_flag(priority, high),
    %% A flood waits in the mailbox; off the heap, it is not copied by each garbage collection.
    process_flag(message_queue_data, off_heap),
    %% Room for a chunk: fewer collections while it fills.
    process_flag(min_heap_size, 50000),
    erlang:send_after(lumin_budget:tick_ms() div 2, self(), {'$lumin', tick}),
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
        {'DOWN', _, process, C, _} when C =:= element(1, CC) ->
            ok;
        Msg when N >= ?CHUNK ->
            hand_on(CC, [Msg | Acc], N + 1),
            loop(CC, [], 0);
        Msg ->
            loop(CC, [Msg | Acc], N + 1)
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
