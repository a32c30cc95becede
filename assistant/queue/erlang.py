"""Erlang C: the average wait in a queue of N agents with random (Poisson) arrivals and exponential
handle times, answered first come first served (M/M/N). pyworkforce gives the probability of waiting."""
from __future__ import annotations


def expected_wait(arrivals_per_s: float, handle_s: float, agents: int) -> float | None:
    """Seconds an arriving caller waits on average (Erlang C's average speed of answer); None when
    `agents` cannot keep up with the calls (no agent, or an offered load of `agents` erlangs or more)."""
    load = arrivals_per_s * handle_s  # erlangs
    if agents < 1 or load >= agents:
        return None
    if load == 0:
        return 0.0
    from pyworkforce.queuing import ErlangC  # here: pandas and ortools come with it (1 s of every CLI start)

    # pyworkforce counts arrivals per interval (here an hour of 60 minutes) and handle times in
    # minutes; `asa` is a service-level target the waiting probability does not use.
    erlang = ErlangC(transactions=arrivals_per_s * 3600, aht=handle_s / 60, asa=1, interval=60)
    return erlang.waiting_probability(agents) * handle_s / (agents - load)
