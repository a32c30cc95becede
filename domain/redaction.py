"""What may be shown or written down of what a caller said or typed.

PINs never: while a PIN is asked for, every digit is hidden, and digits said together with 密码 are
hidden at any time. Card, account and phone numbers keep only their last 4 digits. The numbers
themselves, in whatever form they are written, are found by domain.masking.
"""
from __future__ import annotations

import re

from domain.masking import HIDDEN, PIN_WORD, hide_numbers, mask_numbers, names_pin

__all__ = ["HIDDEN", "has_digits", "redact", "says_pin"]

_DIGITS = re.compile(r"\d")


def has_digits(text: str) -> bool:
    return bool(_DIGITS.search(text))


def says_pin(text: str) -> bool:
    """Digits said together with a word for PIN: "密码是147258", "密码一四七二五八"."""
    return (bool(PIN_WORD.search(text)) and has_digits(text)) or names_pin(text)


def redact(text: str, secret: bool = False) -> str:
    """`text` fit to show or store; `secret`: it answers a request for a PIN."""
    if secret or says_pin(text):
        return hide_numbers(text)
    return mask_numbers(text)
