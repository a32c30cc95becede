"""How values are said: slot values by their type, outcome data by the catalog's terms.

Numbers lose trailing zeros (50000.00 -> 50000), dates and times are said as 1月6日15点30分, phone
numbers by their last 4 digits, and account numbers said inside free text by their last 4 digits
while shorter digit runs there (a PIN said along the way) are left out.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from adapters.base import Outcome
from assistant.catalog.catalog import NUMBER_TYPES, Catalog, FunctionSpec, OutcomeReply, SlotSpec
from assistant.catalog.template import render
from domain.masking import tail

log = logging.getLogger(__name__)

Names = Callable[[str], str]  # a canonical stock, currency or bill type -> its name: 600519 -> 贵州茅台

ITEMS_SAID = 3  # entries of a list outcome said on the phone; the rest are counted, not read
_FREE_TEXT_TYPES = frozenset({"text", "payee"})
_NAMED_TYPES = frozenset({"stock", "currency", "bill_type", "fund", "policy", "product"})
_DIGIT_RUN = re.compile(r"\d{6,}")
_LONGEST_PIN = 10  # shorter digit runs in free text are dropped; longer ones are card/account numbers
_DECIMAL = re.compile(r"-?\d+\.\d+")
_MOMENT = re.compile(r"\d{4}-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::\d\d)?)?")


class Wording:
    def __init__(self, catalog: Catalog, names: Names) -> None:
        self.catalog = catalog
        self.names = names

    def slot(self, slot: SlotSpec, value: Any) -> str:
        if slot.choices:
            return next((c.phrases[0] for c in slot.choices if c.value == value), self.value(value))
        if slot.type == "phone_number":
            return tail(re.sub(r"\D", "", str(value)))
        if slot.type in ("when", "date"):
            return self.value(value)
        if slot.type in _FREE_TEXT_TYPES:
            return _DIGIT_RUN.sub(_said_digits, str(value))
        if slot.type in NUMBER_TYPES:
            return _number(value)
        if slot.type in _NAMED_TYPES:
            return self.names(str(value))
        return str(value)

    def slots(self, function: FunctionSpec, values: dict[str, Any]) -> dict[str, str]:
        return {s.name: self.slot(s, values[s.name]) for s in function.slots
                if s.name in values and not s.secret}

    def value(self, value: Any) -> str:
        """An outcome value: a term, a date or time, a number, or as it is."""
        if isinstance(value, str):
            if value in self.catalog.terms:
                return self.catalog.terms[value]
            moment = _MOMENT.fullmatch(value)
            if moment:
                return _moment(*moment.groups())
        return _number(value)

    def outcome(self, function: FunctionSpec | None, reply: OutcomeReply, outcome: Outcome,
                slots: dict[str, Any]) -> str:
        """The reply to an action's outcome, with the slots and the outcome's data and id."""
        values = self.slots(function, slots) if function else {}
        for name, value in outcome.data.items():
            if name == "items":
                continue
            slot = next((s for s in function.slots if s.name == name), None) if function else None
            values[name] = self.slot(slot, value) if slot and not slot.secret else self.value(value)
        items = outcome.data.get("items")
        if reply.item and items:
            values["items"] = "；".join(
                render(reply.item, {k: self.value(v) for k, v in item.items()}) for item in items[:ITEMS_SAID])
        if outcome.id:
            values["id"] = outcome.id
        try:
            return render(reply.say, values)
        except KeyError as missing:
            # A reply naming a value this outcome lacks is a catalog mistake; say what is true.
            log.error("%s: outcome reply names %s, which the %s outcome lacks",
                      function.id if function else "dialog", missing, outcome.status)
            return self.catalog.outcome_reply(None, outcome.status, None).say


def _said_digits(run: re.Match[str]) -> str:
    digits = run.group()
    return tail(digits) if len(digits) > _LONGEST_PIN else ""


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, Decimal)) or (isinstance(value, str) and _DECIMAL.fullmatch(value)):
        number = Decimal(str(value))
        text = format(number.normalize(), "f") if number != number.to_integral_value() else str(int(number))
        return text
    return str(value)


def _moment(month: str, day: str, hour: str | None, minute: str | None) -> str:
    said = f"{int(month)}月{int(day)}日"
    if hour is not None:
        said += f"{int(hour)}点" + (f"{int(minute)}分" if int(minute) else "")
    return said
