"""A discrete-event simulation of one queue: Poisson arrivals, exponential handle times, N agents,
first come first served (the M/M/N queue Erlang C describes)."""
from __future__ import annotations

import heapq
import random


def mean_wait(arrivals_per_s: float, handle_s: float, agents: int, callers: int, seed: int,
              warm_up: int = 1000) -> float:
    """The average wait in seconds of `callers` callers after the first `warm_up` (an empty queue at
    the start would make waits look short)."""
    rng = random.Random(seed)
    free_at = [0.0] * agents  # when each agent is next free; the earliest answers the next caller
    now = total = 0.0
    for n in range(warm_up + callers):
        now += rng.expovariate(arrivals_per_s)
        answered = max(now, heapq.heappop(free_at))
        heapq.heappush(free_at, answered + rng.expovariate(1 / handle_s))
        if n >= warm_up:
            total += answered - now
    return total / callers
