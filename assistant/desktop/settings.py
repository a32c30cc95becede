"""config.yml's `desktop:` section: sessions and logins, how often the live queue looks for changes
and due callbacks are handed out, and the targets the supervisor figures are measured against."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from assistant.core.errors import AssistantError


@dataclass(frozen=True)
class DesktopSettings:
    session_minutes: float = 480.0  # a login lasts this long from when it was made (fixed, not sliding)
    max_failed_logins: int = 5  # this many failed logins for one name within lockout_minutes ...
    max_failed_logins_per_address: int = 20  # or this many from one client address (a whole floor behind one NAT)
    lockout_minutes: float = 15.0  # ... and its logins are refused until those minutes have passed
    poll_s: float = 0.5  # how often the live queue looks at the database for changes by any process
    dispatch_s: float = 10.0  # how often each server hands due callbacks to available agents
    service_level_s: float = 20.0  # answered within this many seconds of entering the queue: in service level
    callback_grace_min: float = 5.0  # a callback is kept when an agent has it no later than this after its time

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> DesktopSettings:
        names = [f.name for f in fields(cls)]
        unknown = set(section) - set(names)
        if unknown:
            raise AssistantError(f"config.yml: desktop: unknown setting {sorted(unknown)[0]!r}")
        kinds = {f.name: int if f.type == "int" else float for f in fields(cls)}  # annotations are strings here
        try:
            settings = cls(**{name: kinds[name](section[name]) for name in names if name in section})
        except (TypeError, ValueError) as error:
            raise AssistantError(f"config.yml: desktop: a setting is not a number ({error})") from None
        if min(getattr(settings, name) for name in names) <= 0:
            raise AssistantError(f"config.yml: desktop: {', '.join(names)} must be above 0")
        return settings
