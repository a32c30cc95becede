"""Supervisor figures over a time window; by default today, in Beijing time (the store's clock).

Tickets count in the window in which they entered the queue, calls in the one in which they started.
Plain SQL picks the rows (assistant/storage/tickets.py); the arithmetic is Python's (times are ISO 8601 text), so it is the same on
SQLite and PostgreSQL.

    answered          tickets an agent took from the live queue (callbacks are counted apart, below)
    service level     answered within `service_level_s` (20 s) of entering the queue, over answered +
                      abandoned: every abandoned call counts against it, however soon the caller hung
                      up; calls still waiting do not count yet, nor do tickets that became callbacks
    speed of answer   the average seconds from entering the queue to an agent taking the call
    abandonment rate  abandoned / (answered + abandoned)
    handle time       the average seconds from taking a call to ending it
    callbacks due     callbacks booked for a time in the window that has come
    callbacks kept    of those, the ones an agent had no later than `callback_grace_min` (5 min) after
                      their time
    containment       calls that ended without a hand-off / all calls started in the window
    hours             per hour, by when tickets entered the queue: arrivals (every ticket, callbacks
                      too), answered, abandoned and the service level
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import mean

from assistant.core.errors import AssistantError
from assistant.desktop.settings import DesktopSettings
from assistant.queue.forecast import seconds_between
from assistant.queue.routing import CallQueue
from assistant.storage.database import Row
from assistant.storage.tickets import ABANDONED, DONE
from domain.clock import in_beijing

HOUR = timedelta(hours=1)
LONGEST_WINDOW = timedelta(days=31)


@dataclass(frozen=True)
class Window:
    """From `since` up to `until`, both Beijing times."""

    since: datetime
    until: datetime

    @classmethod
    def day_of(cls, moment: datetime) -> Window:
        start = in_beijing(moment).replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(start, start + timedelta(days=1))

    @classmethod
    def between(cls, since: datetime, until: datetime) -> Window:
        """A window from two times (naive ones are Beijing times)."""
        window = cls(in_beijing(since), in_beijing(until))
        if not window.since < window.until <= window.since + LONGEST_WINDOW:
            raise AssistantError(f"the window must end after it starts, at most {LONGEST_WINDOW.days} days later")
        return window


@dataclass
class Tally:
    """Tickets that entered the queue in one stretch of time, and what became of them."""

    arrivals: int = 0
    answered: int = 0
    in_target: int = 0  # answered within the service-level time
    abandoned: int = 0
    answer_s: list[float] = field(default_factory=list)

    def add(self, ticket: Row, target_s: float) -> None:
        self.arrivals += 1
        if ticket["callback"] is not None:
            return
        if ticket["status"] == ABANDONED:
            self.abandoned += 1
        elif ticket["taken_at"] is not None:
            speed = seconds_between(ticket["created_at"], ticket["taken_at"])
            self.answered += 1
            self.in_target += speed <= target_s
            self.answer_s.append(speed)

    @property
    def service_level(self) -> float | None:
        return _share(self.in_target, self.answered + self.abandoned)


@dataclass(frozen=True)
class Hour:
    start: str
    arrivals: int
    answered: int
    abandoned: int
    service_level: float | None


@dataclass(frozen=True)
class Figures:
    since: str
    until: str
    service_level_s: float
    callback_grace_min: float
    arrivals: int
    answered: int
    answered_in_target: int
    abandoned: int
    service_level: float | None
    average_answer_s: float | None
    abandonment_rate: float | None
    average_handle_s: float | None
    callbacks_due: int
    callbacks_kept: int
    callbacks_kept_rate: float | None
    calls: int
    contained: int
    containment: float | None
    dispositions: dict[str, int]
    hours: list[Hour]


class Stats:
    def __init__(self, queue: CallQueue, settings: DesktopSettings) -> None:
        self.queue = queue
        self.settings = settings

    def figures(self, window: Window | None = None) -> Figures:
        queue, settings = self.queue, self.settings
        now = queue.clock()
        window = window or Window.day_of(now)
        bounds = (queue.stamp(window.since), queue.stamp(window.until))
        tickets = queue.tickets.entered(*bounds)
        total, hours = Tally(), [Tally() for _ in range(_hours(window, now))]
        for ticket in tickets:
            total.add(ticket, settings.service_level_s)
            index = int(seconds_between(bounds[0], ticket["created_at"]) // HOUR.total_seconds())
            if index < len(hours):
                hours[index].add(ticket, settings.service_level_s)
        handled = [seconds_between(t["taken_at"], t["ended_at"]) for t in tickets if t["status"] == DONE]

        due = queue.tickets.callbacks_falling_due(*bounds, queue.stamp(now))
        grace_s = settings.callback_grace_min * 60
        kept = sum(row["taken_at"] is not None and seconds_between(row["due_at"], row["taken_at"]) <= grace_s
                   for row in due)

        calls = queue.tickets.calls_started(*bounds)
        contained = sum(row["ended_at"] is not None and row["handoffs"] == 0 for row in calls)

        return Figures(
            since=bounds[0], until=bounds[1],
            service_level_s=settings.service_level_s, callback_grace_min=settings.callback_grace_min,
            arrivals=total.arrivals, answered=total.answered, answered_in_target=total.in_target,
            abandoned=total.abandoned, service_level=total.service_level,
            average_answer_s=mean(total.answer_s) if total.answer_s else None,
            abandonment_rate=_share(total.abandoned, total.answered + total.abandoned),
            average_handle_s=mean(handled) if handled else None,
            callbacks_due=len(due), callbacks_kept=kept, callbacks_kept_rate=_share(kept, len(due)),
            calls=len(calls), contained=contained, containment=_share(contained, len(calls)),
            dispositions=dict(Counter(t["disposition"] for t in tickets if t["disposition"])),
            hours=[Hour(queue.stamp(window.since + i * HOUR), h.arrivals, h.answered, h.abandoned,
                        h.service_level) for i, h in enumerate(hours)])


def _hours(window: Window, now: datetime) -> int:
    """The hours of the window charted: up to the one under way when the window reaches into the future."""
    whole = math.ceil((window.until - window.since) / HOUR)
    if now >= window.until:
        return whole
    if now < window.since:
        return 0
    return min(whole, int((now - window.since) // HOUR) + 1)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
