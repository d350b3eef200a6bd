%% @doc The node-wide memory budget: one process that adds up the memory of every agent process that holds
%% events — the tracer and the probes — including the trace messages and events waiting in their mailboxes
%% and the binaries they hold, every ?TICK_MS ms. When the total passes the budget (default in
%% lumin_budget:node_memory/0) it ends ONE probe: the one whose processes hold the most, by calling the stop
%% function that probe's owner enlisted (which removes that probe's tracing at its source at once and tells its
%% owner why). If the total is still over the budget a second later, the next biggest goes; probes that hold
%% little are left armed. It is a process of its own, whose mailbox only ever holds its own ticks and
%% enlistments, so a flood cannot delay it.
%%
%% It also keeps the peak total it saw, which %probes shows beside the budget.
-module(lumin_guard).
-export([start_link/1, enlist/3, enlist/4, status/0, init/1]).

-define(TICK_MS, 50).
-define(COOL_MS, 1000).
%% What one queued trace message costs, for the estimate: the trace_ts tuple (tag, pid, timestamp), the
%% off-heap message's own header and the copied term. A small message is about 250 bytes, a modest tuple or
%% list (a flood of `{flood, [1..20]}') about 500: estimating low let a flooded tracer's queue pass the budget
%% unseen while the node's memory grew by hundreds of MB.
-define(TRACE_MSG_BYTES, 512).

%% @doc Start the guard (registered as lumin_guard) with a budget in bytes.
-spec start_link(pos_integer()) -> {ok, pid()}.
start_link(Budget) ->
    Pid = proc_lib:spawn_link(?MODULE, init, [Budget]),
    {ok, Pid}.

%% @doc Count `Pid's memory against the budget, under probe(s) `Who' (a name, for the message); `Stop' is
%% called (in the guard) with a detail text when it must end. Does nothing when no guard runs.
-spec enlist(pid(), term(), fun((binary()) -> any()) | shared) -> ok.
enlist(Pid, Who, Stop) -> enlist(Pid, Who, Stop, []).

%% @doc enlist/3, counting the ETS tables `Pid' holds events in too (a state probe's event table).
-spec enlist(pid(), term(), fun((binary()) -> any()) | shared, [ets:tid()]) -> ok.
enlist(Pid, Who, Stop, Tables) ->
    case whereis(?MODULE) of
        undefined -> ok;
        G -> G ! {enlist, Pid, Who, Stop, Tables}, ok
    end.

%% @doc #{budget, total, peak, stopped}: the budget, the last total, the highest total seen, and how many probes it ended.
-spec status() -> map().
status() ->
    case whereis(?MODULE) of
        undefined -> #{};
        G ->
            Ref = erlang:monitor(process, G),
            G ! {status, self(), Ref},
            receive
                {Ref, S} -> erlang:demonitor(Ref, [flush]), S;
                {'DOWN', Ref, _, _, _} -> #{}
            after 2000 -> erlang:demonitor(Ref, [flush]), #{}
            end
    end.

init(Budget) ->
    register(?MODULE, self()),
    process_flag(priority, high),
    erlang:send_after(?TICK_MS, self(), tick),
    %% Not 0: the VM's monotonic clock is usually negative, so a zero `cool_until' kept the guard from ever
    %% ending a probe.
    loop(#{budget => Budget, entries => #{}, total => 0, peak => 0, stopped => 0,
           cool_until => erlang:monotonic_time(millisecond)}).

loop(S = #{entries := Es}) ->
    receive
        {enlist, Pid, Who, Stop, Tables} ->
            erlang:monitor(process, Pid),
            loop(S#{entries := Es#{Pid => {Who, Stop, Tables}}});
        {'DOWN', _, process, Pid, _} ->
            loop(S#{entries := maps:remove(Pid, Es)});
        {status, From, Ref} ->
            From ! {Ref, maps:with([budget, total, peak, stopped], S)},
            loop(S);
        tick ->
            erlang:send_after(?TICK_MS, self(), tick),
            loop(check(S))
    end.

check(S = #{entries := Es, budget := Budget, peak := Peak, cool_until := Cool, stopped := N}) ->
    Sizes = [{memory(P, Stop) + tables_memory(Tables), P} || {P, {_, Stop, Tables}} <- maps:to_list(Es)],
    Agent = memory(self()) + case whereis(lumin_agent) of undefined -> 0; A -> memory(A) end,
    Total = Agent + lists:sum([M || {M, _} <- Sizes]),
    S1 = S#{total := Total, peak := max(Peak, Total)},
    Now = erlang:monotonic_time(millisecond),
    %% The shared tracer counts in the total but cannot be ended: the biggest of the probes' own processes goes.
    Own = [SP || SP = {_, P} <- Sizes, element(2, maps:get(P, Es)) =/= shared],
    case Total > Budget andalso Now >= Cool andalso Own =/= [] of
        true ->
            {Biggest, Pid} = lists:max(Own),
            {_Who, Stop, _} = maps:get(Pid, Es),
            Detail = iolist_to_binary(io_lib:format("the agent held ~b MB on the node, over the node-wide memory budget of ~b MB "
                                                    "(this probe's processes held ~b MB, the most)",
                                                    [Total div 1048576, Budget div 1048576, Biggest div 1048576])),
            catch Stop(Detail),
            %% What it held is released as it drains; the next biggest goes only if the total stays over after that.
            S1#{cool_until := Now + ?COOL_MS, stopped := N + 1};
        false -> S1
    end.

%% A process's memory: heap, stack, mailbox (including off-heap messages) and the binaries it refers to. The
%% shared tracer's is estimated in O(1): heap, and its mailbox at ?TRACE_MSG_BYTES a trace message (a big
%% traced term is the tracer's own to catch). Measuring a mailbox of millions of messages exactly would walk it
%% under its lock, every tick, and stall the very process that must drain it.
memory(P, shared) ->
    case erlang:process_info(P, [total_heap_size, message_queue_len]) of
        [{total_heap_size, W}, {message_queue_len, Q}] -> W * erlang:system_info(wordsize) + Q * ?TRACE_MSG_BYTES;
        undefined -> 0
    end;
memory(P, _) -> memory(P).

%% The events a probe holds in ETS tables (its state probe's hook writes them there): O(1) a table.
tables_memory(Tables) ->
    lists:sum([W * erlang:system_info(wordsize) || T <- Tables, W <- [ets:info(T, memory)], is_integer(W)]).

memory(P) ->
    case erlang:process_info(P, [memory, binary]) of
        [{memory, M}, {binary, Bins}] -> M + lists:sum([Sz || {_, Sz, _} <- Bins]);
        undefined -> 0
    end.
