"""What one caller turn decided: what was heard (redacted), what is said, and what happened."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Transaction:
    """A back-end action run in the turn."""

    action: str
    status: str
    id: str | None
    reason: str | None = None


@dataclass(frozen=True)
class Turn:
    heard: str  # what the caller said or typed, redacted (PINs hidden, long numbers cut)
    say: str
    intent: str | None  # None for key presses
    function: str | None  # the function the turn was about
    awaiting: str | None  # a slot name, "confirmation", "pin", "menu", or None
    slots: dict[str, Any]  # that function's values so far, redacted
    transaction: Transaction | None
    escalation: int | None  # the hand-off ticket this turn opened
    hangs_up: bool = False  # the turn ends the call: the assistant hangs up once its reply has been heard

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # the transaction too, as a mapping
