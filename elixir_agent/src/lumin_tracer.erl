%% @doc The tracer: the one process trace messages are sent to. It does the least possible work — receive,
%% accumulate, hand the chunk to the collector — because the BEAM gives a tracer no backpressure. Its mailbox
%% and memory are watched from outside, by the collector (a tick message of its own would wait behind a flood).
-module(lumin_tracer).
-export([start/1, stop/1, init/1]).

-define(CHUNK, 2000).

-spec start(pid()) -> pid().
start(Collector) ->
    proc_lib:spawn(?MODULE, init, [Collector]).

stop(Tracer) -> Tracer ! {'$lumin', stop}, ok.

init(Collector) ->
    erlang:monitor(process, Collector),
    process_flag(priority, high),
    erlang:send_after(lumin_budget:tick_ms() div 2, self(), {'$lumin', tick}),
    loop(Collector, [], 0).

loop(C, Acc, N) ->
    receive
        {'$lumin', tick} ->
            hand_on(C, Acc),
            erlang:send_after(lumin_budget:tick_ms() div 2, self(), {'$lumin', tick}),
            loop(C, [], 0);
        {'$lumin', stop} ->
            hand_on(C, Acc),
            C ! {'$lumin', tracer_stopped, self()};
        {'DOWN', _, process, C, _} ->
            ok;
        Msg when N >= ?CHUNK ->
            C ! {'$lumin', chunk, [Msg | Acc]},
            loop(C, [], 0);
        Msg ->
            loop(C, [Msg | Acc], N + 1)
    end.

hand_on(_, []) -> ok;
hand_on(C, Acc) -> C ! {'$lumin', chunk, Acc}.
