"""Key presses: how the keys for the question being asked make one entry (the key menu: menu.py).

An entry ends with # or, where its length is fixed (a PIN, a stock code, a menu choice), with its
last key; a # with nothing before it ends nothing. What * does depends on the question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from assistant.catalog.catalog import MENU_KEYS, SlotSpec

END = "#"
STAR = "*"
PERSON = "0"  # in the key menu: put through to a person
KEY, POINT, CLEAR = "key", "point", "clear"  # what * does
_STOCK_CODE = re.compile(r"\d{6}")
_PHONE = re.compile(r"\d{7,12}")


@dataclass(frozen=True)
class Entry:
    length: int | None  # complete after this many keys; None: when # is pressed
    star: str  # KEY: * is an entry of its own; POINT: a decimal point; CLEAR: start the entry again
    secret: bool = False  # a PIN: never shown or stored
    voice_only: bool = False  # keys cannot answer the question: said so at #


SINGLE_KEY = Entry(1, KEY)
VOICE_ONLY = Entry(None, CLEAR, voice_only=True)


def entry_for(slot: SlotSpec, pin_length: int) -> Entry | None:
    """How keys answer a question for `slot`; None: they cannot."""
    if slot.secret:
        return Entry(pin_length, CLEAR, secret=True)
    if slot.keys:
        return SINGLE_KEY
    if slot.type in ("amount", "price"):
        return Entry(None, POINT)
    if slot.type == "quantity":
        return Entry(None, CLEAR)
    if slot.type in ("stock", "fund"):
        return Entry(6, CLEAR)
    if slot.type == "phone_number":
        return Entry(11, CLEAR)
    return None


def value_from_keys(slot: SlotSpec, keys: str) -> Any | None:
    """The slot value an entry gives, or None if it gives none."""
    if slot.secret:
        return keys if keys.isdigit() else None
    if slot.keys:
        index = MENU_KEYS.find(keys)
        return (slot.keys[index] or None) if len(keys) == 1 and 0 <= index < len(slot.keys) else None
    if slot.type in ("amount", "price", "quantity"):
        try:
            number = Decimal(keys)
        except InvalidOperation:
            return None
        if number <= 0 or (slot.type == "quantity" and number != number.to_integral_value()):
            return None
        return int(number) if number == number.to_integral_value() else float(number)
    if slot.type in ("stock", "fund"):
        return keys if _STOCK_CODE.fullmatch(keys) else None
    if slot.type == "phone_number":
        return keys if _PHONE.fullmatch(keys) else None
    return None
