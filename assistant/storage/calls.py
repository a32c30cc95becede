"""The assistant's own records: calls, their turns (redacted) and hand-off tickets.

A hand-off ticket is a call put through to a person, with what an agent needs to pick it up: the
reason, the caller, how far verification got, the function, intent and slots, and the transcript.
It is also the call's entry in the queue (assistant/queue/): a skill group and a priority, and a
status: 'waiting' until an agent takes it ('taken', then 'done' with `ended_at`), 'abandoned' when the
caller hangs up first, or 'callback' when a callback was booked instead. The agent's wrap-up adds a
disposition and a note. PINs and card numbers never
reach this file (callers pass redacted text only).
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.catalog.catalog import DEFAULT_SKILL
from assistant.core.turn import Turn
from assistant.storage.database import Database, open_database
from domain.clock import Clock
from domain.config import Config

DEFAULT_DATABASE = "var/assistant.sqlite"
DATABASE_VARIABLE = "ASSISTANT_DATABASE"  # a file or a postgresql:// URL, over config.yml's
SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (id TEXT PRIMARY KEY, caller TEXT, started_at TEXT NOT NULL,
    ended_at TEXT);
CREATE TABLE IF NOT EXISTS turns (call_id TEXT NOT NULL REFERENCES calls, seq INTEGER NOT NULL,
    at TEXT NOT NULL, heard TEXT NOT NULL, intent TEXT, function TEXT, awaiting TEXT,
    slots TEXT NOT NULL, say TEXT NOT NULL, transaction_json TEXT, escalation INTEGER,
    PRIMARY KEY (call_id, seq));
CREATE TABLE IF NOT EXISTS handoffs (id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL REFERENCES calls, created_at TEXT NOT NULL, reason TEXT NOT NULL,
    caller TEXT, customer_id TEXT, verification TEXT NOT NULL, function TEXT, intent TEXT,
    slots TEXT NOT NULL, transcript TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'waiting', agent TEXT, taken_at TEXT);
"""
# Columns added to `handoffs` after its first release: made on open in a database that lacks them.
QUEUE_COLUMNS = {"skill": f"TEXT NOT NULL DEFAULT '{DEFAULT_SKILL}'", "priority": "INTEGER NOT NULL DEFAULT 0",
                 "ended_at": "TEXT", "disposition": "TEXT", "wrap_note": "TEXT"}
INDEXES = """
CREATE INDEX IF NOT EXISTS handoffs_queue ON handoffs (status, skill, priority, created_at);
CREATE INDEX IF NOT EXISTS handoffs_arrivals ON handoffs (skill, created_at);
"""


def database_location(config: Config) -> str:
    """$ASSISTANT_DATABASE, else config.yml's `dialog.database`: a SQLite file (relative to the
    project) or a postgresql:// URL."""
    where = os.environ.get(DATABASE_VARIABLE) or config.section("dialog").get("database", DEFAULT_DATABASE)
    return where if "://" in where else str(config.root / where)


class CallStore:
    def __init__(self, where: str | Path | Database, clock: Clock) -> None:
        self.clock = clock
        self.db = where if isinstance(where, Database) else open_database(where)
        self.db.script(SCHEMA)
        self.db.add_columns("handoffs", QUEUE_COLUMNS)
        self.db.script(INDEXES)

    def open_call(self, caller: str | None) -> str:
        call_id = uuid.uuid4().hex
        self.db.execute("INSERT INTO calls (id, caller, started_at) VALUES (?, ?, ?)",
                        (call_id, caller, self.stamp()))
        return call_id

    def close_call(self, call_id: str) -> None:
        self.db.execute("UPDATE calls SET ended_at = ? WHERE id = ?", (self.stamp(), call_id))

    def add_turn(self, call_id: str, seq: int, turn: Turn) -> None:
        self.db.execute(
            "INSERT INTO turns (call_id, seq, at, heard, intent, function, awaiting, slots, say, "
            "transaction_json, escalation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (call_id, seq, self.stamp(), turn.heard, turn.intent, turn.function, turn.awaiting,
             _json(turn.slots), turn.say,
             _json(asdict(turn.transaction)) if turn.transaction else None, turn.escalation))

    def add_handoff(self, call_id: str, *, reason: str, caller: str | None, customer_id: str | None,
                    verification: str, function: str | None, intent: str | None,
                    slots: dict[str, Any], transcript: list[str], skill: str = DEFAULT_SKILL,
                    priority: int = 0, status: str = "waiting") -> int:
        """A ticket, waiting unless told otherwise; returns its number."""
        return self.db.insert(
            "INSERT INTO handoffs (call_id, created_at, reason, caller, customer_id, verification, "
            "function, intent, slots, transcript, skill, priority, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (call_id, self.stamp(), reason, caller, customer_id, verification, function, intent,
             _json(slots), _json(transcript), skill, priority, status))

    def stamp(self, moment: datetime | None = None) -> str:
        """A time as the database keeps it (ISO 8601 with the clock's offset, so text order is time order)."""
        return (moment or self.clock()).isoformat(timespec="seconds")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
