"""Reading action params and writing amounts: money is kept as integer fen (cents) inside the bank."""
from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from adapters.base import Outcome, rejected

_CENT = Decimal("0.01")
_STOCK_CODE = re.compile(r"\d{6}")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_PHONE = re.compile(r"1[3-9]\d{9}|0\d{9,11}|\d{7,8}")  # mobile, landline with area code, local


class Refused(Exception):
    """A business rule or an unreadable param said no: the action's writes are undone."""

    def __init__(self, reason: str, **data: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data = data

    def outcome(self) -> Outcome:
        return rejected(self.reason, **self.data)


def bad_request(problem: str) -> Refused:
    return Refused("bad_request", problem=problem)


def decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise bad_request(f"{name} must be a number, not {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise bad_request(f"{name} must be a number, not {value!r}") from None
    if not number.is_finite() or number <= 0:
        raise bad_request(f"{name} must be more than 0, not {value!r}")
    return number


def cents(value: Any, name: str = "amount") -> int:
    """A positive amount of yuan with at most 2 decimals, in fen."""
    number = decimal(value, name)
    if number != number.quantize(_CENT):
        raise bad_request(f"{name} has more than 2 decimals: {value!r}")
    return int(number * 100)


def whole_number(value: Any, name: str) -> int:
    number = decimal(value, name)
    if number != number.to_integral_value():
        raise bad_request(f"{name} must be a whole number, not {value!r}")
    return int(number)


def choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise bad_request(f"{name} must be one of {', '.join(options)}, not {value!r}")
    return value


def stock_code(value: Any) -> str:
    if not isinstance(value, str) or not _STOCK_CODE.fullmatch(value):
        raise bad_request(f"stock must be a 6-digit code, not {value!r}")
    return value


def mobile(value: Any, name: str = "phone") -> str:
    if not isinstance(value, str) or not _MOBILE.fullmatch(value):
        raise bad_request(f"{name} must be an 11-digit mobile number, not {value!r}")
    return value


def phone(value: Any, name: str = "phone") -> str:
    if not isinstance(value, str) or not _PHONE.fullmatch(value):
        raise bad_request(f"{name} must be a phone number, not {value!r}")
    return value


def text(value: Any, name: str, limit: int = 2000) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{name} must be some text")
    if len(value) > limit:
        raise bad_request(f"{name} is longer than {limit} characters")
    return value.strip()


def iso_date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise bad_request(f"{name} must be a date like 2025-01-31, not {value!r}") from None


def yuan(fen: int) -> str:
    """Fen as a yuan string with 2 decimals: 5000000 -> "50000.00"."""
    return str((Decimal(fen) / 100).quantize(_CENT))


def fen_of(amount: Decimal) -> int:
    """A yuan amount rounded half up to whole fen."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
