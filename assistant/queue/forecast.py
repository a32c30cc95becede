"""What the queue of one skill group looks like now, and what follows for a caller in it.

From the database: the live arrival rate (tickets of the skill in the last `arrival_window_s`), the
average handle time (the skill's latest finished calls, or the configured default) and the staffed
agents (those with the skill who are not away). From those, the wait a caller hears (Erlang C) and the
time an agent is expected to be free for one more call after those waiting now.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import mean

from assistant.queue.erlang import expected_wait
from assistant.queue.routing import AWAY, ON_CALL, WRAP_UP, CallQueue


@dataclass(frozen=True)
class Staffing:
    arrivals_per_s: float
    handle_s: float
    staffed: int  # agents with the skill who are not away
    busy: int  # of them, on a call or wrapping one up
    waiting: int  # tickets of the skill waiting now

    def free_at(self, now: datetime, leaving: int = 0) -> datetime | None:
        """When an agent is expected to be free for one more call after every ticket waiting now but
        the `leaving` ones (a caller who books a callback instead); None when nobody is staffed.

        With every agent busy, calls end one after another at `staffed / handle time` a second on
        average (handle times are taken to be exponential, as in Erlang C), so the k-th agent to
        come free is expected k × handle time / staffed from now.
        """
        if self.staffed == 0:
            return None
        needed = self.waiting - leaving + 1 - (self.staffed - self.busy)  # agents that must come free first
        if needed <= 0:
            return now
        return now + timedelta(seconds=needed * self.handle_s / self.staffed)

    @property
    def expected_wait_s(self) -> float | None:
        """The wait Erlang C predicts for a caller joining this queue; None when nobody is staffed or
        calls come faster than the agents can take them."""
        return expected_wait(self.arrivals_per_s, self.handle_s, self.staffed)


@dataclass(frozen=True)
class Wait:
    ahead: int  # waiting tickets served before this one
    seconds: float | None  # the predicted wait; None: no prediction (nobody staffed, or overloaded)


class Forecast:
    def __init__(self, queue: CallQueue) -> None:
        self.queue = queue

    def staffing(self, skill: str) -> Staffing:
        queue, settings = self.queue, self.queue.settings
        since = queue.stamp(queue.clock() - timedelta(seconds=settings.arrival_window_s))
        tickets = queue.tickets
        arrivals = tickets.arrivals(skill, since)
        handled = tickets.handled(skill, settings.handle_samples)
        handle_s = mean(seconds_between(taken, ended) for taken, ended in handled) if handled else None
        staffed = busy = 0
        for agent in queue.agents():
            if skill in agent.skills and agent.state != AWAY:
                staffed += 1
                busy += agent.state in (ON_CALL, WRAP_UP)
        waiting = tickets.waiting_count(skill)
        return Staffing(arrivals / settings.arrival_window_s, handle_s or settings.handle_time_s,
                        staffed, busy, waiting)

    def wait(self, ticket: int) -> Wait:
        """The caller's place in the queue and the wait Erlang C predicts for the skill's queue."""
        entry = self.queue.entry(ticket)
        return Wait(self.queue.ahead(ticket), self.staffing(entry.skill).expected_wait_s)


def seconds_between(start: str, end: str) -> float:
    """Seconds from one database time stamp to another."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
