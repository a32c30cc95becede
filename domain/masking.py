"""What may be written down about an action: PINs never, long numbers only by their last 4 digits."""
from __future__ import annotations

import re
from typing import Any

SECRET_PARAMS = frozenset({"pin", "old_pin", "new_pin", "password"})
_PLAIN_PARAMS = frozenset({"amount", "price", "quantity", "stock", "order_id"})  # not about a person
_LONG_NUMBER = re.compile(r"\d{8,}")  # card, account and phone numbers
_CARD_NUMBER = re.compile(r"\d{15,}")


def mask_number(number: str) -> str:
    """All but the last 4 digits hidden: 6222021001121234 -> ************1234."""
    return "*" * (len(number) - 4) + number[-4:]


def tail(number: str) -> str:
    """How an account is named to a caller: 尾号1234."""
    return f"尾号{number[-4:]}"


def mask_numbers(text: str) -> str:
    """Card, account and phone numbers in `text` cut to their last 4 digits."""
    return _LONG_NUMBER.sub(lambda match: mask_number(match.group()), text)


def mask_cards(text: str) -> str:
    """Free text (a complaint, an SMS) with card numbers masked; shorter numbers such as ticket
    numbers and phone numbers stay readable."""
    return _CARD_NUMBER.sub(lambda match: mask_number(match.group()), text)


def mask_params(params: dict[str, Any]) -> dict[str, Any]:
    masked: dict[str, Any] = {}
    for name, value in params.items():
        if name in SECRET_PARAMS:
            masked[name] = "******"
        elif name in _PLAIN_PARAMS or not isinstance(value, (str, int)) or isinstance(value, bool):
            masked[name] = value
        else:
            masked[name] = mask_numbers(str(value))
    return masked
