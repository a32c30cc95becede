"""config.yml's `queue:` section: how hand-off reasons are ranked and routed, handle-time defaults, how
often a caller on hold hears their place again, and when each skill group's agents are on duty."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from assistant.core.errors import AssistantError

DISPOSITIONS = ("resolved", "follow_up", "complaint_filed", "transferred", "no_answer")
DEFAULT_SHIFT = "default"  # queue.shifts: the hours of every skill group not named there
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class ReasonRule:
    priority: int = 0  # higher is served first
    skill: str | None = None  # the skill group that takes it, whatever the caller was doing


@dataclass(frozen=True)
class QueueSettings:
    reasons: dict[str, ReasonRule] = field(default_factory=dict)
    handle_time_s: float = 300.0  # average handle time while a skill has no finished calls
    handle_samples: int = 50  # the latest finished calls its average handle time is taken from
    arrival_window_s: float = 3600.0  # arrivals in this window give the live arrival rate
    dispositions: tuple[str, ...] = DISPOSITIONS  # what an agent may record when wrapping a call up
    hold_announce_s: float = 30.0  # on hold, the caller's place and predicted wait are said again this often
    shifts: dict[str, tuple[time, time]] = field(default_factory=dict)  # skill -> daily on-duty hours (Beijing time)

    def rule(self, reason: str) -> ReasonRule:
        return self.reasons.get(reason, ReasonRule())

    def next_shift(self, skill: str, now: datetime) -> datetime | None:
        """The next start of the skill group's shift after `now` (None: no shifts configured). Used when
        nobody of the skill is on duty: a shift already under way with nobody in it gives no time to
        promise, so its next start is the earliest one."""
        hours = self.shifts.get(skill) or self.shifts.get(DEFAULT_SHIFT)
        if hours is None:
            return None
        start = now.replace(hour=hours[0].hour, minute=hours[0].minute, second=0, microsecond=0)
        return start if start > now else start + timedelta(days=1)

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> QueueSettings:
        unknown = set(section) - {"reasons", "handle_time_s", "handle_samples", "arrival_window_s", "dispositions",
                                "hold_announce_s", "shifts"}
        if unknown:
            raise AssistantError(f"config.yml: queue: unknown setting {sorted(unknown)[0]!r}")
        reasons = {}
        for reason, rule in (section.get("reasons") or {}).items():
            if not isinstance(rule, dict) or set(rule) - {"priority", "skill"}:
                raise AssistantError(f"config.yml: queue: reasons: {reason}: give priority and/or skill")
            try:
                reasons[str(reason)] = ReasonRule(int(rule.get("priority", 0)), rule.get("skill"))
            except (TypeError, ValueError):
                raise AssistantError(f"config.yml: queue: reasons: {reason}: priority must be a whole number") from None
        try:
            settings = cls(reasons, float(section.get("handle_time_s", cls.handle_time_s)),
                           int(section.get("handle_samples", cls.handle_samples)),
                           float(section.get("arrival_window_s", cls.arrival_window_s)),
                           tuple(str(d) for d in section.get("dispositions") or DISPOSITIONS),
                           float(section.get("hold_announce_s", cls.hold_announce_s)),
                           _shifts(section.get("shifts") or {}))
        except (TypeError, ValueError) as error:
            raise AssistantError(f"config.yml: queue: a setting is not a number ({error})") from None
        limits = (settings.handle_time_s, settings.handle_samples, settings.arrival_window_s, settings.hold_announce_s)
        if min(limits) <= 0:
            raise AssistantError("config.yml: queue: handle_time_s, handle_samples, arrival_window_s and hold_announce_s "
                                 "must be above 0")
        return settings


def _shifts(section: Any) -> dict[str, tuple[time, time]]:
    """queue.shifts: skill -> "HH:MM-HH:MM"."""
    if not isinstance(section, dict):
        raise AssistantError('config.yml: queue: shifts: give skill: "HH:MM-HH:MM" pairs')
    shifts = {}
    for skill, hours in section.items():
        match = _HOURS.match(str(hours))
        try:
            opens, closes = (time(int(match[i]), int(match[i + 1])) for i in (1, 3)) if match else (None, None)
        except ValueError:
            opens = closes = None
        if opens is None or closes is None or opens >= closes:
            raise AssistantError(f'config.yml: queue: shifts: {skill}: give the hours as "08:00-20:00", not {hours!r}')
        shifts[str(skill)] = (opens, closes)
    return shifts
