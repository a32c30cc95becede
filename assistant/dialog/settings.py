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
    # Asking back which of two functions the caller meant (askback.py), when the NLU's best and
    # runner-up are both functions within ask_margin of each other, and either do the opposite or
    # the best is less sure than ask_below.
    ask_margin: float = 0.3
    ask_below: float = 0.6

    @classmethod
    def from_config(cls, section: dict[str, Any], threshold: float) -> DialogSettings:
        """config.yml's `dialog:` section; the NLU threshold comes from `nlu:`."""
        unknown = set(section) - {"switch_confidence", "misses", "pin_length", "ask_margin", "ask_below", "database"}
        if unknown:
            raise AssistantError(f"config.yml: dialog: unknown setting {sorted(unknown)[0]!r}")
        try:
            settings = cls(threshold=float(threshold),
                           switch_confidence=float(section.get("switch_confidence", cls.switch_confidence)),
                           misses=int(section.get("misses", cls.misses)),
                           pin_length=int(section.get("pin_length", cls.pin_length)),
                           ask_margin=float(section.get("ask_margin", cls.ask_margin)),
                           ask_below=float(section.get("ask_below", cls.ask_below)))
        except (TypeError, ValueError) as error:
            raise AssistantError(f"config.yml: dialog: a setting is not a number ({error})") from error
        for name in ("ask_margin", "ask_below"):
            if not 0 <= getattr(settings, name) <= 1:
                raise AssistantError(f"config.yml: dialog: {name} must be a confidence from 0 to 1")
        return settings
