"""Phone-banking PINs: kept as salted PBKDF2 hashes, never in clear; weak PINs refused."""
from __future__ import annotations

import hashlib
import hmac
import os

MAX_FAILURES = 3
_ITERATIONS = 100_000
_DIGITS = "0123456789"


def hash_pin(pin: str, salt: bytes | None = None) -> tuple[bytes, bytes]:
    """(salt, hash) of a PIN; a new random salt unless one is given."""
    salt = salt if salt is not None else os.urandom(16)
    return salt, hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, _ITERATIONS)


def pin_matches(pin: str, salt: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(hash_pin(pin, salt)[1], expected)


def weakness(pin: str) -> str | None:
    """Why a new PIN is too weak, or None."""
    if len(pin) != 6 or not pin.isdigit():
        return "a PIN is 6 digits"
    if len(set(pin)) == 1:
        return "all one digit"
    if pin in _DIGITS or pin in _DIGITS[::-1]:
        return "a run of digits"
    return None
