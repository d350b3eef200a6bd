%% @doc Metrics probes (a kind of lumin_probe): a timer on a fixed grid (start + k * interval; spec `interval_ms',
%% default 1000, at least 100; ticks missed while busy are skipped) sampling memory, process and port counts,
%% run queue, scheduler utilisation (scheduler_wall_time, enabled for the probe's life, and only its own part
%% of that flag turned off at the end), and reductions and io per second. One row per sample.
-module(lumin_kind_metrics).
-behaviour(lumin_probe_kind).

-export([setup/2, columns/0, noun/0, target/1, undo/1, info/2]).

setup(Spec, P) ->
    Interval = case maps:get(interval_ms, Spec, 1000) of
                   N when is_number(N) -> max(100, round(N));
                   _ -> 1000
               end,
    _ = erlang:system_flag(scheduler_wall_time, true),
    Start = erlang:monotonic_time(millisecond),
    next_sample(P#{interval => Interval, start_ms => Start, tick => 0, last => counters()}).

columns() ->
    [{node, {const, node()}}, {time_us, f64}, {memory_total, f64}, {memory_processes, f64}, {memory_binary, f64},
     {memory_ets, f64}, {memory_atom, f64}, {memory_code, f64}, {process_count, i32}, {port_count, i32},
     {run_queue, i32}, {scheduler_utilization, f64}, {reductions_per_s, f64}, {io_in_bytes_per_s, f64},
     {io_out_bytes_per_s, f64}].

noun() -> "samples".

target(_) -> <<"node metrics">>.

undo(P = #{timer := T}) ->
    _ = erlang:cancel_timer(T),
    %% scheduler_wall_time counts the processes that enabled it: this turns off only this probe's part.
    _ = erlang:system_flag(scheduler_wall_time, false),
    P.

info({'$lumin', sample}, P = #{state := armed}) ->
    {Row, P1} = sample(P),
    lumin_probe:emit(Row, next_sample(P1));
info(_, P) -> P.

counters() ->
    {Reds, _} = erlang:statistics(reductions),
    {{input, In}, {output, Out}} = erlang:statistics(io),
    #{time => erlang:monotonic_time(nanosecond), reductions => Reds, in => In, out => Out,
      swt => erlang:statistics(scheduler_wall_time)}.

sample(P = #{last := Last}) ->
    Now = counters(),
    Secs = max(1, maps:get(time, Now) - maps:get(time, Last)) / 1.0e9,
    Mem = erlang:memory(),
    M = fun(K) -> proplists:get_value(K, Mem, 0) end,
    Row = [node(), lumin_probe:us(maps:get(time, Now), P), M(total), M(processes), M(binary), M(ets), M(atom), M(code),
           erlang:system_info(process_count), erlang:system_info(port_count),
           erlang:statistics(total_run_queue_lengths), utilisation(maps:get(swt, Last), maps:get(swt, Now)),
           (maps:get(reductions, Now) - maps:get(reductions, Last)) / Secs,
           (maps:get(in, Now) - maps:get(in, Last)) / Secs, (maps:get(out, Now) - maps:get(out, Last)) / Secs],
    {Row, P#{last := Now}}.

%% Samples fall on a fixed grid, start + k * interval (monotonic ms, absolute timers), so the time a sample
%% takes, or a busy moment of the probe, does not push every later sample back. Ticks already past are
%% skipped rather than sent one after another.
next_sample(P = #{interval := I, start_ms := Start, tick := K}) ->
    Due = (erlang:monotonic_time(millisecond) - Start) div I + 1,
    K1 = max(K + 1, Due),
    P#{tick := K1, timer => erlang:send_after(Start + K1 * I, self(), {'$lumin', sample}, [{abs, true}])}.

%% Active over total wall time of the normal schedulers since the previous sample.
utilisation(Before, After) when is_list(Before), is_list(After) ->
    N = erlang:system_info(schedulers),
    Pairs = [{A1 - A0, T1 - T0} || {I, A1, T1} <- After, I =< N, {J, A0, T0} <- Before, J =:= I],
    case lists:sum([T || {_, T} <- Pairs]) of
        0 -> 0.0;
        Total -> lists:sum([A || {A, _} <- Pairs]) / Total
    end;
utilisation(_, _) -> 0.0.
