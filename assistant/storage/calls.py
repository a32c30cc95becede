"""The assistant's own records: calls, their turns (redacted) and hand-off tickets (tickets.py).

PINs and card numbers never reach them (callers pass redacted text only).
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.core.turn import Turn
from assistant.storage.database import Database, open_database
from assistant.storage.tickets import Tickets
from assistant.storage.workers import Heartbeats, worker_id
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
"""
# Columns added to `calls` after its first release: the worker that carries the call (worker ids:
# storage/workers.py) and the call's id on its line (SIP Call-ID, AudioSocket UUID, media streamSid).
WORKER_COLUMNS = {"worker": "TEXT", "line": "TEXT"}
INDEXES = "CREATE INDEX IF NOT EXISTS calls_worker ON calls (worker, ended_at)"


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
        self.db.add_columns("calls", WORKER_COLUMNS)
        self.db.script(INDEXES)
        self.worker = worker_id()  # the calls opened here are this worker's (a telephony worker sets its own)
        self.workers = Heartbeats(self.db)
        self.tickets = Tickets(self.db, self.stamp)

    def open_call(self, caller: str | None) -> str:
        call_id = uuid.uuid4().hex
        self.db.execute("INSERT INTO calls (id, caller, started_at, worker) VALUES (?, ?, ?, ?)",
                        (call_id, caller, self.stamp(), self.worker))
        return call_id

    def close_call(self, call_id: str) -> None:
        self.db.execute("UPDATE calls SET ended_at = ? WHERE id = ?", (self.stamp(), call_id))

    def note_line(self, call_id: str, line: str) -> None:
        """The call's id on its line: a SIP Call-ID, an AudioSocket UUID, a media stream's streamSid."""
        self.db.execute("UPDATE calls SET line = ? WHERE id = ?", (line, call_id))

    def end_stranded(self, silent_since: str, restarted: str | None = None) -> int:
        """Ends the calls still open of the workers not beaten since `silent_since` (a beat stamp) and
        of `restarted` (a worker starting under the id it had before: its calls are from before): their
        worker died with them. How many."""
        return self.db.execute("UPDATE calls SET ended_at = ? WHERE ended_at IS NULL AND (worker = ? OR worker IN "
                               "(SELECT id FROM workers WHERE beat_at < ?))", (self.stamp(), restarted, silent_since))

    def add_turn(self, call_id: str, seq: int, turn: Turn) -> None:
        self.db.execute(
            "INSERT INTO turns (call_id, seq, at, heard, intent, function, awaiting, slots, say, "
            "transaction_json, escalation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (call_id, seq, self.stamp(), turn.heard, turn.intent, turn.function, turn.awaiting,
             _json(turn.slots), turn.say,
             _json(asdict(turn.transaction)) if turn.transaction else None, turn.escalation))

    def stamp(self, moment: datetime | None = None) -> str:
        """A time as the database keeps it (ISO 8601 with the clock's offset, so text order is time order)."""
        return (moment or self.clock()).isoformat(timespec="seconds")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
