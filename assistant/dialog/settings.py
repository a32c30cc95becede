"""How the dialog of every call behaves: config.yml `dialog:` (the NLU threshold comes from `nlu:`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistant.core.errors import AssistantError


@dataclass(frozen=True)
class DialogSettings:
    threshold: float = 0.45  # NLU confidence below which the caller was not understood
    switch_confidence: float = 0.8  # to leave a function in progress for another named in passing
    misses: int = 3  # misses in a row that put the call through to a person (the 2nd offers keys)
    pin_length: int = 6

    @classmethod
    def from_config(cls, section: dict[str, Any], threshold: float) -> DialogSettings:
        """config.yml's `dialog:` section; the NLU threshold comes from `nlu:`."""
        unknown = set(section) - {"switch_confidence", "misses", "pin_length", "database"}
        if unknown:
            raise AssistantError(f"config.yml: dialog: unknown setting {sorted(unknown)[0]!r}")
        try:
            return cls(threshold=float(threshold),
                       switch_confidence=float(section.get("switch_confidence", cls.switch_confidence)),
                       misses=int(section.get("misses", cls.misses)),
                       pin_length=int(section.get("pin_length", cls.pin_length)))
        except (TypeError, ValueError) as error:
            raise AssistantError(f"config.yml: dialog: a setting is not a number ({error})") from error
