%% A checkout step for the cluster notebook, tests and benchmark: plain Erlang (no Elixir), so any node of a
%% cluster can load it. place/1 takes about the node's delay (set_delay/1, 2 ms by default) plus up to half of
%% it again at random, and raises on every Nth order when fail_every/1 says so: the cluster notebook makes one
%% node slower than the others and finds it from the percentiles.
-module(checkout).
-export([place/1, step/1, run/2, set_delay/1, fail_every/1, price/1, spin/1]).

%% One order: its step, then the receipt (so a probe on place/1 and one on step/1 see the same calls).
place(N) ->
    R = step(N),
    {placed, R}.

%% The work of an order: sleeps the node's delay plus jitter (in ms), or raises out_of_stock on every Nth order.
step(N) ->
    Delay = persistent_term:get({?MODULE, delay_ms}, 2),
    case persistent_term:get({?MODULE, fail_every}, 0) of
        F when F > 0, N rem F =:= 0 -> error(out_of_stock);
        _ -> ok
    end,
    timer:sleep(Delay + rand:uniform(max(1, Delay div 2 + 1)) - 1),
    N.

%% Place `Calls' orders from `Workers' processes (Calls divisible by Workers) and wait for all of them;
%% orders that raise are counted, not fatal. Returns {ok, Placed, Failed}.
run(Calls, Workers) ->
    Self = self(),
    Per = Calls div Workers,
    Pids = [spawn(fun() ->
                          R = [try place(W * Per + I) of _ -> ok catch error:out_of_stock -> failed end || I <- lists:seq(1, Per)],
                          Self ! {self(), length([x || ok <- R]), length([x || failed <- R])}
                  end) || W <- lists:seq(0, Workers - 1)],
    lists:foldl(fun(P, {ok, A, B}) -> receive {P, X, Y} -> {ok, A + X, B + Y} end end, {ok, 0, 0}, Pids).

set_delay(Ms) -> persistent_term:put({?MODULE, delay_ms}, Ms).
fail_every(N) -> persistent_term:put({?MODULE, fail_every}, N).

%% A cheap function for load: the benchmark calls it in a tight loop.
price(X) -> X * 3 + 1.

%% Call price/1 in a loop for `Ms' milliseconds; returns how many calls were made.
spin(Ms) ->
    Until = erlang:monotonic_time(millisecond) + Ms,
    spin_loop(Until, 0).

spin_loop(Until, N) ->
    case N band 1023 of
        0 ->
            case erlang:monotonic_time(millisecond) >= Until of
                true -> N;
                false -> _ = price(N), spin_loop(Until, N + 1)
            end;
        _ -> _ = price(N), spin_loop(Until, N + 1)
    end.
