"""config.yml's `queue:` section: how hand-off reasons are ranked and routed, handle-time defaults, and
how often a caller on hold hears their place again."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.core.errors import AssistantError

DISPOSITIONS = ("resolved", "follow_up", "complaint_filed", "transferred", "no_answer")


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

    def rule(self, reason: str) -> ReasonRule:
        return self.reasons.get(reason, ReasonRule())

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> QueueSettings:
        unknown = set(section) - {"reasons", "handle_time_s", "handle_samples", "arrival_window_s", "dispositions",
                                "hold_announce_s"}
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
                           float(section.get("hold_announce_s", cls.hold_announce_s)))
        except (TypeError, ValueError) as error:
            raise AssistantError(f"config.yml: queue: a setting is not a number ({error})") from None
        limits = (settings.handle_time_s, settings.handle_samples, settings.arrival_window_s, settings.hold_announce_s)
        if min(limits) <= 0:
            raise AssistantError("config.yml: queue: handle_time_s, handle_samples, arrival_window_s and hold_announce_s "
                                 "must be above 0")
        return settings
