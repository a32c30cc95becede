"""Slot filling: a function in progress, the values heard for its slots, their checks, what to ask next.

A slot is filled by the NLU entity of its name, a choice slot also by one of its phrases in what the
caller said, and a free-text slot that was asked for by the whole answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from assistant.catalog.catalog import AFFIRM, DENY, ENDING, FunctionSpec, SlotSpec
from domain.masking import mask_numbers
from domain.redaction import HIDDEN

CONFIRMATION = "confirmation"


@dataclass
class Task:
    function: FunctionSpec
    values: dict[str, Any] = field(default_factory=dict)
    awaiting: str | None = None  # the slot asked for, or CONFIRMATION
    asking: str | None = None  # a slot to ask next even if optional: its value was refused
    key: str | None = None  # the idempotency key of the transaction put to the caller to confirm
    ending: str | None = None  # how it ended the call (a function with `ends`)

    def next_slot(self) -> SlotSpec | None:
        if self.asking:
            return self.function.slot(self.asking)
        return next((s for s in self.function.slots if s.required and s.name not in self.values), None)

    def answered_ending(self) -> str | None:
        """The ending a choice answer names, if one does (a function with `ends`)."""
        return next((value for slot in self.function.slots
                     if slot.choices and (value := self.values.get(slot.name)) in self.function.ends), None)

    def awaited_slot(self) -> SlotSpec | None:
        if self.awaiting is None or self.awaiting == CONFIRMATION:
            return None
        return self.function.slot(self.awaiting)

    def clear(self, name: str) -> None:
        """Forget a slot's value, and the values that had to equal it (a new PIN typed twice)."""
        self.values.pop(name, None)
        for slot in self.function.slots:
            if slot.same_as == name:
                self.values.pop(slot.name, None)

    def take(self, values: dict[str, Any]) -> SlotSpec | None:
        """Keep the values the slots' checks allow; the first refused slot, if any."""
        first_refused = None
        for name, value in values.items():
            slot = self.function.slot(name)
            if refused(slot, value, {**self.values, **values}):
                self.clear(slot.same_as or name)  # a mismatched repeat asks for both again
                first_refused = first_refused or slot
            else:
                self.values[name] = value
        if first_refused:
            self.asking = first_refused.same_as or first_refused.name
        elif self.asking in self.values:
            self.asking = None
        return first_refused

    def shown(self) -> dict[str, Any]:
        """The values as they may be shown and stored: PINs hidden, long numbers cut."""
        shown = {name: HIDDEN if self.function.slot(name).secret
                 else mask_numbers(value) if isinstance(value, str) else value
                 for name, value in self.values.items()}
        return shown if self.ending is None else {**shown, ENDING: self.ending}

    def params(self) -> dict[str, Any]:
        """The action's params: fixed values and the values of the slots they take."""
        params = {}
        for name, param in self.function.params.items():
            if param.slot is None:
                params[name] = param.value
            elif param.slot in self.values:
                params[name] = self.values[param.slot]
        return params


def param_slot(function: FunctionSpec, param: str) -> str | None:
    """The slot that feeds an action param, if one does."""
    spec = function.params.get(param)
    return spec.slot if spec else None


_SUMS = ("amount", "price")


def heard_values(function: FunctionSpec, entities: dict[str, Any], text: str,
                 awaited: SlotSpec | None) -> dict[str, Any]:
    """Values for the function's slots in one utterance, in slot order."""
    values = {}
    names = {slot.name for slot in function.slots}
    for slot in function.slots:
        if slot.secret:
            continue  # typed only
        if slot.name in entities:
            values[slot.name] = entities[slot.name]
        elif slot is awaited and slot.type in _SUMS:
            # a bare sum (一千块) may come out as either kind; the question asked says which it is
            said = [entities[kind] for kind in _SUMS if kind in entities and kind not in names]
            if len(said) == 1:
                values[slot.name] = said[0]
        elif slot.choices:
            said = _choices_said(slot, text)
            if len(said) == 1:
                values[slot.name] = said.pop()
        elif slot is awaited and slot.type == "text" and text:
            values[slot.name] = text
    return values


def yes_or_no(slot: SlotSpec | None, intent: str) -> dict[str, Any]:
    """The value a plain yes or no (the NLU's affirm or deny) gives the awaited choice slot, if it says one."""
    value = {AFFIRM: slot.affirm, DENY: slot.deny}.get(intent) if slot else None
    return {slot.name: value} if slot and value else {}


def _choices_said(slot: SlotSpec, text: str) -> set[str]:
    """The choices whose phrases `text` holds; a phrase inside a longer one found (有人受伤 in
    没有人受伤) does not count."""
    found = [(start, start + len(phrase), choice.value) for choice in slot.choices for phrase in choice.phrases
             for start in range(len(text)) if text.startswith(phrase, start)]
    return {value for start, end, value in found
            if not any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in found)}


def refused(slot: SlotSpec, value: Any, values: dict[str, Any]) -> bool:
    """Whether the slot's checks refuse `value` (`values`: the function's other values)."""
    if slot.same_as is not None:
        return value != values.get(slot.same_as)
    if slot.min is None and slot.max is None and slot.step is None:
        return False
    number = Decimal(str(value))
    return ((slot.min is not None and number < Decimal(str(slot.min)))
            or (slot.max is not None and number > Decimal(str(slot.max)))
            or (slot.step is not None and number % Decimal(str(slot.step)) != 0))
