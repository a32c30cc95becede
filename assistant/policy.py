"""The dialog policy, first cut: from one understood utterance to what the assistant says next.

One turn at a time, no memory between turns yet: a function intent starts its function with the
slots heard in that utterance and asks for the first required one still missing, or for
confirmation once none is. Numbers that identify the caller are never said back in full.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant.catalog import FALLBACK, UNKNOWN_INTENT, Catalog, FunctionSpec, render

CONFIRMATION = "confirmation"

# Free-text slots may carry card, account or PIN digits the caller said along the way.
_FREE_TEXT_TYPES = frozenset({"text", "payee"})
_DIGIT_RUN = re.compile(r"\d{6,}")
_LONGEST_PIN = 10  # shorter digit runs are dropped; longer ones are card/account/phone numbers


@dataclass
class Turn:
    say: str
    intent: str
    function: str | None
    awaiting: str | None  # the slot asked for, CONFIRMATION, or None when nothing is pending
    slots: dict[str, Any]  # the values heard for the function's slots, as the NLU gave them


class Policy:
    def __init__(self, catalog: Catalog, display: Callable[[str, Any], str],
                 threshold: float = 0.6) -> None:
        """`display(slot_type, value)` is how a slot value is said, e.g. ("stock", "600519") → 贵州茅台."""
        self.catalog = catalog
        self.display = display
        self.threshold = threshold

    def respond(self, intent: str, confidence: float, slots: dict[str, Any]) -> Turn:
        if intent == FALLBACK or confidence < self.threshold:
            return Turn(self.catalog.replies[FALLBACK], FALLBACK, None, None, {})
        function = self.catalog.function_for(intent)
        if function is None:
            reply = self.catalog.replies.get(intent, self.catalog.replies[UNKNOWN_INTENT])
            return Turn(reply, intent, None, None, {})
        return self._start(intent, function, slots)

    def _start(self, intent: str, function: FunctionSpec, slots: dict[str, Any]) -> Turn:
        heard = {s.name: slots[s.name] for s in function.slots if slots.get(s.name) is not None}
        shown = {s.name: self._show(s.type, heard[s.name]) for s in function.slots if s.name in heard}
        say = render(function.opening, shown)
        missing = next((s for s in function.slots if s.required and s.name not in heard), None)
        if missing is not None:
            return Turn(say + missing.prompt, intent, function.id, missing.name, heard)
        if function.confirm is not None:
            return Turn(say + render(function.confirm, shown), intent, function.id, CONFIRMATION,
                        heard)
        return Turn(say, intent, function.id, None, heard)

    def _show(self, slot_type: str, value: Any) -> str:
        if slot_type == "phone_number":
            return "尾号" + re.sub(r"\D", "", str(value))[-4:]
        text = self.display(slot_type, value)
        return _DIGIT_RUN.sub(_mask, text) if slot_type in _FREE_TEXT_TYPES else text


def _mask(run: re.Match[str]) -> str:
    digits = run.group()
    return "尾号" + digits[-4:] if len(digits) > _LONGEST_PIN else ""
