"""What may be shown or written down of what a caller said or typed.

PINs never: while a PIN is asked for, every digit is hidden, and digits said together with 密码 are
hidden at any time. Card, account and phone numbers keep only their last 4 digits.
"""
from __future__ import annotations

import re

from domain.masking import mask_numbers

HIDDEN = "****"
_DIGITS = re.compile(r"\d+")
_PIN_WORDS = re.compile(r"密码|口令|pin", re.IGNORECASE)


def has_digits(text: str) -> bool:
    return bool(_DIGITS.search(text))


def says_pin(text: str) -> bool:
    """Digits said together with a word for PIN: "密码是147258"."""
    return bool(_PIN_WORDS.search(text)) and has_digits(text)


def redact(text: str, secret: bool = False) -> str:
    """`text` fit to show or store; `secret`: it answers a request for a PIN."""
    if secret or says_pin(text):
        return _DIGITS.sub(HIDDEN, text)
    return mask_numbers(text)
