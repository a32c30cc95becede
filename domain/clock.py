"""The bank's clock: Beijing time, real by default, pinned by tests or by config."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from domain.errors import ConfigError

BEIJING = timezone(timedelta(hours=8), "CST")  # China has no daylight saving time
Clock = Callable[[], datetime]


def real_clock() -> datetime:
    return datetime.now(BEIJING)


class PinnedClock:
    """A clock that stands still until moved."""

    def __init__(self, moment: datetime) -> None:
        self.moment = in_beijing(moment)

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = in_beijing(moment)

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def in_beijing(moment: datetime) -> datetime:
    """Naive times are Beijing times."""
    return moment.replace(tzinfo=BEIJING) if moment.tzinfo is None else moment.astimezone(BEIJING)


def clock_from_setting(value: object) -> Clock:
    """None: the real clock; an ISO 8601 time: pinned there."""
    if value is None:
        return real_clock
    try:
        return PinnedClock(datetime.fromisoformat(str(value)))
    except ValueError:
        raise ConfigError(
            f"config.yml: adapters.sandbox.clock must be a time like 2025-01-06T10:00:00, not {value!r}"
        ) from None
