"""Telephony workers' heartbeats: the `workers` table, one row per worker id, its latest beat.

Several `assistant telephony` workers may share one PostgreSQL (behind Kamailio, deploy/). Each beats
every few seconds while it runs; one that has not beaten for a while has died, and the callers it left
waiting for a person are called back instead (assistant/runtime/workers.py WorkerWatch). Beats are
stamped by the real clock in UTC, whatever the bank's clock says (a pinned clock would make every
worker look alive or dead alike), so beats compare only with beats.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta, timezone

from assistant.storage.database import Database, Row

WORKER_VARIABLE = "ASSISTANT_WORKER"  # this process's worker id, over config.yml's cluster.worker
SCHEMA = "CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, started_at TEXT NOT NULL, beat_at TEXT NOT NULL)"


def worker_id(configured: str = "") -> str:
    """$ASSISTANT_WORKER, else `configured` (config.yml cluster.worker), else host:pid."""
    return os.environ.get(WORKER_VARIABLE, "").strip() or configured.strip() or f"{socket.gethostname()}:{os.getpid()}"


def beat_stamp(moment: datetime | None = None) -> str:
    """A heartbeat time as the table keeps it (UTC, so text order is time order)."""
    return (moment or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="milliseconds")


class Heartbeats:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.script(SCHEMA)

    def beat(self, worker: str, started: bool = False) -> None:
        """The worker is alive now; `started`: it has just started (a restart under the same id too)."""
        now = beat_stamp()
        kept = "beat_at = excluded.beat_at" + (", started_at = excluded.started_at" if started else "")
        self.db.execute("INSERT INTO workers (id, started_at, beat_at) VALUES (?, ?, ?) "
                        f"ON CONFLICT (id) DO UPDATE SET {kept}", (worker, now, now))

    def silent_since(self, seconds: float) -> str:
        """The beat stamp `seconds` ago: a worker whose latest beat is older has died."""
        return beat_stamp(datetime.now(timezone.utc) - timedelta(seconds=seconds))

    def all(self) -> list[Row]:
        """Every worker that ever beat: id, started_at, beat_at."""
        return self.db.rows("SELECT id, started_at, beat_at FROM workers ORDER BY id")
