"""The record of one call: its id, its redacted transcript (for hand-off tickets) and its turns as stored."""
from __future__ import annotations

import logging
from typing import Protocol

from assistant.core.turn import Turn

log = logging.getLogger(__name__)


class Records(Protocol):
    """Where calls and their turns are written down (assistant/storage/calls.py CallStore)."""

    def open_call(self, caller: str | None) -> str: ...
    def close_call(self, call_id: str) -> None: ...
    def add_turn(self, call_id: str, seq: int, turn: Turn) -> None: ...


class CallRecord:
    def __init__(self, records: Records, caller: str | None) -> None:
        self.records = records
        self.call_id = records.open_call(caller)
        self.transcript: list[str] = []  # redacted
        self._seq = 0
        self._keys_made = 0

    def new_key(self) -> str:
        """An idempotency key for one back-end action of this call."""
        self._keys_made += 1
        return f"{self.call_id}-{self._keys_made}"

    def heard(self, text: str) -> None:
        self.transcript.append(f"caller: {text}")

    def said(self, turn: Turn) -> None:
        self.transcript.append(f"assistant: {turn.say}")
        self._seq += 1
        self.records.add_turn(self.call_id, self._seq, turn)
        log.info("call %s #%d: %s -> %s", self.call_id, self._seq, turn.heard, turn.say)

    def close(self) -> None:
        self.records.close_call(self.call_id)
