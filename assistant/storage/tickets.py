"""Hand-off tickets: every statement on the `handoffs` table and on the callbacks booked for them.

A hand-off ticket is a call put through to a person, with what an agent needs to pick it up: the
reason, the caller, how far verification got, the function, intent and slots, and the transcript.
It is also the call's entry in the queue (assistant/queue/): a skill group and a priority, and a
status: 'waiting' until an agent takes it ('taken', then 'done' with `ended_at`), 'abandoned' when the
caller hangs up first, or 'callback' when a callback was booked instead ('dialing' while the
assistant dials the customer for it: answered, it is 'waiting' again; each dial is a row of
`callback_dials` with its outcome). The agent's wrap-up adds a
disposition and a note. PINs and card numbers never reach this table (callers pass redacted text only).

Whoever reads or changes tickets does it through `Tickets`, so the statuses, the routing order and
the SQL (one for SQLite and PostgreSQL, assistant/storage/database.py) live here only.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant.catalog.catalog import DEFAULT_SKILL
from assistant.core.errors import AssistantError
from assistant.storage.database import Database, Row

WAITING, CALLBACK, TAKEN, DONE, ABANDONED = "waiting", "callback", "taken", "done", "abandoned"
DIALING = "dialing"

SCHEMA = """
CREATE TABLE IF NOT EXISTS handoffs (id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL REFERENCES calls, created_at TEXT NOT NULL, reason TEXT NOT NULL,
    caller TEXT, customer_id TEXT, verification TEXT NOT NULL, function TEXT, intent TEXT,
    slots TEXT NOT NULL, transcript TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'waiting', agent TEXT, taken_at TEXT);
CREATE TABLE IF NOT EXISTS callbacks (ticket INTEGER PRIMARY KEY REFERENCES handoffs, phone TEXT NOT NULL,
    preferred_at TEXT, due_at TEXT NOT NULL, booked_at TEXT NOT NULL, crm_ticket TEXT,
    confirmation TEXT NOT NULL DEFAULT 'unconfirmed');
CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks (due_at);
CREATE TABLE IF NOT EXISTS callback_dials (ticket INTEGER NOT NULL REFERENCES handoffs, attempt INTEGER NOT NULL,
    started_at TEXT NOT NULL, outcome TEXT, sip_status INTEGER, detail TEXT, call_id TEXT,
    PRIMARY KEY (ticket, attempt));
"""
# Columns added to `handoffs` after its first release: made on open in a database that lacks them.
QUEUE_COLUMNS = {"skill": f"TEXT NOT NULL DEFAULT '{DEFAULT_SKILL}'", "priority": "INTEGER NOT NULL DEFAULT 0",
                 "ended_at": "TEXT", "disposition": "TEXT", "wrap_note": "TEXT"}
INDEXES = """
CREATE INDEX IF NOT EXISTS handoffs_queue ON handoffs (status, skill, priority, created_at);
CREATE INDEX IF NOT EXISTS handoffs_arrivals ON handoffs (skill, created_at);
"""
# Routing order: due callbacks first (by their time: they were promised), then waiting tickets by
# priority, oldest first.
_ORDER = "h.status = 'callback' DESC, c.due_at, h.priority DESC, h.created_at, h.id"
_ENTRY = ("SELECT h.*, c.phone AS callback_phone, c.due_at, c.confirmation, "
          "(SELECT COUNT(*) FROM callback_dials d WHERE d.ticket = h.id) AS dials, "
          "(SELECT d.outcome FROM callback_dials d WHERE d.ticket = h.id ORDER BY d.attempt DESC LIMIT 1) AS last_dial "
          "FROM handoffs h LEFT JOIN callbacks c ON c.ticket = h.id")
# A booked callback the assistant may dial now: due, fewer dials than allowed (`?`), none of them failed.
_TO_DIAL = ("h.status = 'callback' AND c.due_at <= ? "
            "AND (SELECT COUNT(*) FROM callback_dials d WHERE d.ticket = h.id) < ? "
            "AND NOT EXISTS (SELECT 1 FROM callback_dials d WHERE d.ticket = h.id AND d.outcome = 'failed')")
# Every ticket status change moves a count (statuses move forward: waiting → taken → done,
# waiting → callback → taken, waiting → abandoned; a dial goes callback → dialing → callback or
# waiting), and booked callbacks are few.
_FINGERPRINT = (
    "SELECT status, COUNT(*) AS n FROM handoffs GROUP BY status ORDER BY status",
    ("SELECT c.ticket, c.due_at, c.confirmation FROM callbacks c JOIN handoffs h ON h.id = c.ticket "
     "WHERE h.status = 'callback' ORDER BY c.ticket"),
)

Stamp = Callable[..., str]  # a time (default: now) as the database keeps it


@dataclass(frozen=True)
class Entry:
    """A ticket as an agent gets it: the call's context, and its callback if one was booked."""

    ticket: int
    created_at: str
    skill: str
    priority: int
    status: str
    reason: str
    caller: str | None
    customer_id: str | None
    verification: str
    function: str | None
    intent: str | None
    slots: dict[str, Any]
    transcript: list[str]
    agent: str | None
    disposition: str | None  # recorded at wrap-up
    callback: dict[str, Any] | None  # {phone, due_at, confirmation}, and once dialled {dials, last_dial}

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_row(cls, row: Row) -> Entry:
        callback = None
        if row["due_at"] is not None:
            callback = {"phone": row["callback_phone"], "due_at": row["due_at"], "confirmation": row["confirmation"]}
            if row["dials"]:  # how many times the assistant dialled the customer, and the latest outcome
                callback.update(dials=row["dials"], last_dial=row["last_dial"])
        return cls(row["id"], row["created_at"], row["skill"], row["priority"], row["status"], row["reason"],
                   row["caller"], row["customer_id"], row["verification"], row["function"], row["intent"],
                   json.loads(row["slots"]), json.loads(row["transcript"]), row["agent"], row["disposition"],
                   callback)


@dataclass(frozen=True)
class Booked:
    """A booked callback as its SMS replies reach it."""

    ticket: int
    skill: str
    due_at: str  # a database time stamp


class Tickets:
    def __init__(self, db: Database, stamp: Stamp) -> None:
        """`db` already holds the `calls` table the tickets refer to."""
        self.db = db
        self.stamp = stamp
        db.script(SCHEMA)
        db.add_columns("handoffs", QUEUE_COLUMNS)
        db.script(INDEXES)

    def add(self, call_id: str, *, reason: str, caller: str | None, customer_id: str | None,
            verification: str, function: str | None, intent: str | None, slots: dict[str, Any],
            transcript: list[str], skill: str = DEFAULT_SKILL, priority: int = 0, status: str = WAITING) -> int:
        """A ticket, waiting unless told otherwise; returns its number."""
        return self.db.insert(
            "INSERT INTO handoffs (call_id, created_at, reason, caller, customer_id, verification, "
            "function, intent, slots, transcript, skill, priority, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (call_id, self.stamp(), reason, caller, customer_id, verification, function, intent,
             _json(slots), _json(transcript), skill, priority, status))

    # Reading tickets.

    def entry(self, ticket: int) -> Entry:
        row = self.db.row(f"{_ENTRY} WHERE h.id = ?", (ticket,))
        if row is None:
            raise AssistantError(f"no hand-off ticket {ticket}")
        return Entry.from_row(row)

    def waiting(self, skill: str | None = None) -> list[Entry]:
        """Tickets waiting for a person (of one skill group, if given), in the order agents get them."""
        if skill is None:
            return self._entries(f"h.status = 'waiting' ORDER BY {_ORDER}")
        return self._entries(f"h.status = 'waiting' AND h.skill = ? ORDER BY {_ORDER}", (skill,))

    def booked(self) -> list[Entry]:
        """Callbacks not handed to an agent yet, the soonest first."""
        return self._entries("h.status = 'callback' ORDER BY c.due_at, h.id")

    def taken_by(self, agent: str) -> Entry | None:
        """The call the agent is on."""
        found = self._entries("h.agent = ? AND h.status = 'taken'", (agent,))
        return found[0] if found else None

    def wrapping_up_by(self, agent: str) -> Entry | None:
        """The call the agent is wrapping up: the latest ended without a disposition (an agent's calls
        may end within one second, and times are to the second)."""
        found = self._entries("h.agent = ? AND h.status = 'done' AND h.disposition IS NULL "
                              "ORDER BY h.ended_at DESC, h.id DESC LIMIT 1", (agent,))
        return found[0] if found else None

    def ahead(self, ticket: int) -> int:
        """Waiting tickets of the same skill group that agents get before this one."""
        return int(self.db.value(
            "SELECT COUNT(*) FROM handoffs h, handoffs t WHERE t.id = ? AND h.status = 'waiting' "
            "AND h.skill = t.skill AND h.id != t.id AND (h.priority > t.priority OR (h.priority = t.priority "
            "AND (h.created_at, h.id) < (t.created_at, t.id)))", (ticket,)))

    def _entries(self, where: str, args: tuple[Any, ...] = ()) -> list[Entry]:
        return [Entry.from_row(row) for row in self.db.rows(f"{_ENTRY} WHERE {where}", args)]

    # A ticket's way through the queue.

    def abandon(self, ticket: int) -> bool:
        """The caller hung up; False if the ticket was no longer waiting."""
        return self.db.execute("UPDATE handoffs SET status = 'abandoned', ended_at = ? WHERE id = ? "
                               "AND status = 'waiting'", (self.stamp(), ticket)) == 1

    def next_for(self, skills: tuple[str, ...]) -> int | None:
        """Inside a write transaction: the first ticket in routing order that `skills` cover, waiting or
        a callback due now, locked against other takers."""
        marks = ", ".join("?" * len(skills))
        row = self.db.row(
            f"SELECT h.id FROM handoffs h LEFT JOIN callbacks c ON c.ticket = h.id WHERE h.skill IN ({marks}) "
            f"AND (h.status = 'waiting' OR (h.status = 'callback' AND c.due_at <= ?)) ORDER BY {_ORDER} LIMIT 1"
            f"{self.db.claim_clause('h')}", (*skills, self.stamp()))
        return row["id"] if row else None

    def claim(self, ticket: int, agent: str, now: str) -> bool:
        """The ticket to the agent if it still waits or is a booked callback."""
        return self.db.execute("UPDATE handoffs SET status = 'taken', agent = ?, taken_at = ? WHERE id = ? "
                               "AND status IN ('waiting', 'callback')", (agent, now, ticket)) == 1

    def finish(self, ticket: int, now: str) -> None:
        self.db.execute("UPDATE handoffs SET status = 'done', ended_at = ? WHERE id = ?", (now, ticket))

    def wrap_up(self, ticket: int, disposition: str, note: str | None) -> None:
        self.db.execute("UPDATE handoffs SET disposition = ?, wrap_note = ? WHERE id = ?",
                        (disposition, note, ticket))

    # Figures of a skill group (assistant/queue/forecast.py).

    def arrivals(self, skill: str, since: str) -> int:
        return int(self.db.value("SELECT COUNT(*) FROM handoffs WHERE skill = ? AND created_at >= ?",
                                 (skill, since)))

    def handled(self, skill: str, latest: int) -> list[tuple[str, str]]:
        """(taken_at, ended_at) of the skill's `latest` finished calls."""
        rows = self.db.rows("SELECT taken_at, ended_at FROM handoffs WHERE skill = ? AND status = 'done' "
                            "ORDER BY ended_at DESC LIMIT ?", (skill, latest))
        return [(row["taken_at"], row["ended_at"]) for row in rows]

    def waiting_count(self, skill: str) -> int:
        return int(self.db.value("SELECT COUNT(*) FROM handoffs WHERE skill = ? AND status = 'waiting'", (skill,)))

    # Callbacks.

    def book_callback(self, ticket: int, phone: str, due: str, preferred: str | None, crm_ticket: str | None) -> None:
        """The ticket becomes a callback due at `due` (a database time stamp); `preferred` as the caller said it."""
        with self.db.write():
            self.db.execute(
                "INSERT INTO callbacks (ticket, phone, preferred_at, due_at, booked_at, crm_ticket) "
                "VALUES (?, ?, ?, ?, ?, ?)", (ticket, phone, preferred, due, self.stamp(), crm_ticket))
            self.db.execute("UPDATE handoffs SET status = 'callback' WHERE id = ? AND status = 'waiting'", (ticket,))

    def callbacks_due(self, skill: str, other_than: int | None) -> list[str]:
        """When the skill's booked callbacks are due (database time stamps), but `other_than`'s."""
        rows = self.db.rows("SELECT c.due_at, c.ticket FROM callbacks c JOIN handoffs h ON h.id = c.ticket "
                            "WHERE h.status = 'callback' AND h.skill = ?", (skill,))
        return [row["due_at"] for row in rows if row["ticket"] != other_than]

    def latest_callback(self, phone: str) -> Booked | None:
        """The latest booked callback to `phone`."""
        row = self.db.row("SELECT c.ticket, c.due_at, h.skill FROM callbacks c JOIN handoffs h ON h.id = c.ticket "
                          "WHERE c.phone = ? AND h.status = 'callback' ORDER BY c.booked_at DESC, c.ticket DESC "
                          "LIMIT 1", (phone,))
        return Booked(row["ticket"], row["skill"], row["due_at"]) if row else None

    def confirm_callback(self, ticket: int, confirmation: str) -> None:
        self.db.execute("UPDATE callbacks SET confirmation = ? WHERE ticket = ?", (confirmation, ticket))

    def move_callback(self, ticket: int, due: str, preferred: str) -> None:
        """A new time (`due`: a database time stamp), to be confirmed again."""
        self.db.execute("UPDATE callbacks SET due_at = ?, preferred_at = ?, confirmation = 'unconfirmed' "
                        "WHERE ticket = ?", (due, preferred, ticket))

    def due_callbacks(self) -> list[tuple[int, str]]:
        """(ticket, skill) of the booked callbacks due now, the soonest first."""
        rows = self.db.rows("SELECT c.ticket, h.skill FROM callbacks c JOIN handoffs h ON h.id = c.ticket "
                            "WHERE h.status = 'callback' AND c.due_at <= ? ORDER BY c.due_at, c.ticket",
                            (self.stamp(),))
        return [(row["ticket"], row["skill"]) for row in rows]

    # Dialling booked callbacks (assistant/runtime/workers.py CallbackDialer).

    def to_dial(self, tries: int) -> list[int]:
        """Booked callbacks due now that may be dialled (fewer than `tries` dials, none failed), the soonest first."""
        rows = self.db.rows(f"SELECT h.id FROM handoffs h JOIN callbacks c ON c.ticket = h.id WHERE {_TO_DIAL} "
                            "ORDER BY c.due_at, h.id", (self.stamp(), tries))
        return [row["id"] for row in rows]

    def start_dial(self, ticket: int, tries: int) -> int | None:
        """The callback is being dialled (status 'dialing', so no desk hands it out meanwhile): the
        dial's number, or None when it is no longer to be dialled (taken, dialled elsewhere)."""
        with self.db.write():
            row = self.db.row(f"SELECT h.id FROM handoffs h JOIN callbacks c ON c.ticket = h.id WHERE h.id = ? "
                              f"AND {_TO_DIAL}{self.db.claim_clause('h')}", (ticket, self.stamp(), tries))
            if row is None or not self.db.execute(
                    "UPDATE handoffs SET status = 'dialing' WHERE id = ? AND status = 'callback'", (ticket,)):
                return None
            attempt = 1 + int(self.db.value("SELECT COUNT(*) FROM callback_dials WHERE ticket = ?", (ticket,)))
            self.db.execute("INSERT INTO callback_dials (ticket, attempt, started_at) VALUES (?, ?, ?)",
                            (ticket, attempt, self.stamp()))
        return attempt

    def answered(self, ticket: int) -> bool:
        """The customer answered: the ticket waits for a person again, first in its skill's order
        (it is older than the calls waiting now); False if it was not being dialled."""
        return self.db.execute("UPDATE handoffs SET status = 'waiting' WHERE id = ? AND status = 'dialing'",
                               (ticket,)) == 1

    def dialed(self, ticket: int, attempt: int, outcome: str, sip_status: int | None, detail: str, call_id: str,
               due: str | None) -> None:
        """How dial `attempt` went; a ticket still 'dialing' is a booked callback again, due at `due`
        (a database time stamp; None: when it was)."""
        with self.db.write():
            self.db.execute("UPDATE callback_dials SET outcome = ?, sip_status = ?, detail = ?, call_id = ? "
                            "WHERE ticket = ? AND attempt = ?", (outcome, sip_status, detail, call_id, ticket, attempt))
            if self.db.execute("UPDATE handoffs SET status = 'callback' WHERE id = ? AND status = 'dialing'",
                               (ticket,)) and due is not None:
                self.db.execute("UPDATE callbacks SET due_at = ? WHERE ticket = ?", (due, ticket))

    def release_dials(self, before: str) -> list[int]:
        """Callbacks left 'dialing' by a worker that stopped (a dial started before `before` with no
        outcome): booked again, that dial failed, so a person calls them; their tickets."""
        with self.db.write():
            rows = self.db.rows("SELECT h.id FROM handoffs h JOIN callback_dials d ON d.ticket = h.id "
                                "WHERE h.status = 'dialing' AND d.outcome IS NULL AND d.started_at < ?", (before,))
            tickets = [row["id"] for row in rows]
            for ticket in tickets:
                self.db.execute("UPDATE callback_dials SET outcome = 'failed', detail = ? WHERE ticket = ? "
                                "AND outcome IS NULL", ("the dialling worker stopped before the call's outcome", ticket))
                self.db.execute("UPDATE handoffs SET status = 'callback' WHERE id = ?", (ticket,))
        return tickets

    def dials(self, ticket: int) -> list[Row]:
        """The callback's dials, first first: attempt, started_at, outcome, sip_status, detail, call_id."""
        return self.db.rows("SELECT attempt, started_at, outcome, sip_status, detail, call_id FROM callback_dials "
                            "WHERE ticket = ? ORDER BY attempt", (ticket,))

    # What supervisors and desks see (assistant/desktop/).

    def entered(self, since: str, until: str) -> list[Row]:
        """Tickets that entered the queue in [since, until): created_at, status, taken_at, ended_at,
        disposition and callback (the ticket number if a callback was booked for it, else None)."""
        return self.db.rows(
            "SELECT h.created_at, h.status, h.taken_at, h.ended_at, h.disposition, c.ticket AS callback "
            "FROM handoffs h LEFT JOIN callbacks c ON c.ticket = h.id WHERE h.created_at >= ? AND h.created_at < ?",
            (since, until))

    def callbacks_falling_due(self, since: str, until: str, now: str) -> list[Row]:
        """due_at and taken_at of the callbacks due in [since, until) by `now`."""
        return self.db.rows("SELECT c.due_at, h.taken_at FROM callbacks c JOIN handoffs h ON h.id = c.ticket "
                            "WHERE c.due_at >= ? AND c.due_at < ? AND c.due_at <= ?", (since, until, now))

    def calls_started(self, since: str, until: str) -> list[Row]:
        """Calls started in [since, until): id, ended_at and how many hand-off tickets each made."""
        return self.db.rows("SELECT c.id, c.ended_at, COUNT(h.id) AS handoffs FROM calls c LEFT JOIN handoffs h "
                            "ON h.call_id = c.id WHERE c.started_at >= ? AND c.started_at < ? "
                            "GROUP BY c.id, c.ended_at", (since, until))

    def fingerprint(self) -> tuple[tuple[tuple[Any, ...], ...], ...]:
        """A few aggregates that change whenever a ticket's status or a booked callback does."""
        return tuple(tuple(tuple(row.values()) for row in self.db.rows(sql)) for sql in _FINGERPRINT)

    # An agent's phone taking the voice (assistant/runtime/bridging.py).

    def taken_in(self, call_ids: list[str]) -> list[Row]:
        """id, call_id, agent and taken_at of the tickets taken now whose call is one of `call_ids`."""
        if not call_ids:
            return []
        marks = ", ".join("?" * len(call_ids))
        return self.db.rows(f"SELECT id, call_id, agent, taken_at FROM handoffs WHERE status = 'taken' "
                            f"AND call_id IN ({marks}) ORDER BY taken_at, id", tuple(call_ids))

    def release(self, ticket: int, agent: str) -> bool:
        """The agent's take is undone: the ticket waits again, in its old place; False if it was not theirs."""
        return self.db.execute("UPDATE handoffs SET status = 'waiting', agent = NULL, taken_at = NULL "
                               "WHERE id = ? AND status = 'taken' AND agent = ?", (ticket, agent)) == 1

    # Callers cut off by a worker that died (assistant/runtime/workers.py WorkerWatch).

    def stranded(self, silent_since: str, restarted: str | None = None) -> list[Row]:
        """Tickets waiting for a person whose call's worker has not beaten since `silent_since` (a beat
        stamp, storage/workers.py) or is `restarted` (started again under the same id): their callers
        were cut off. id and phone (the caller id; None if unknown), the oldest first. A ticket with a
        callback booked is left out: once answered, another call carries it."""
        return self.db.rows(
            "SELECT h.id, COALESCE(h.caller, c.caller) AS phone FROM handoffs h JOIN calls c ON c.id = h.call_id "
            "WHERE h.status = 'waiting' AND NOT EXISTS (SELECT 1 FROM callbacks b WHERE b.ticket = h.id) "
            "AND (c.worker = ? OR c.worker IN (SELECT w.id FROM workers w WHERE w.beat_at < ?)) "
            "ORDER BY h.created_at, h.id", (restarted, silent_since))

    def call_back_cut_off(self, ticket: int, phone: str, due: str) -> bool:
        """A stranded ticket becomes a callback to `phone` due at `due` (a database time stamp); False
        if it no longer waited (another worker's sweep, or an agent, had it first)."""
        with self.db.write():
            if not self.db.execute("UPDATE handoffs SET status = 'callback' WHERE id = ? AND status = 'waiting'",
                                   (ticket,)):
                return False
            self.db.execute("INSERT INTO callbacks (ticket, phone, due_at, booked_at) VALUES (?, ?, ?, ?)",
                            (ticket, phone, due, self.stamp()))
        return True

    def cut_off(self, ticket: int, note: str) -> bool:
        """A stranded ticket with no number to call back: abandoned (the caller never reached a person),
        its disposition 'cut_off' and `note` why; False if it no longer waited."""
        return self.db.execute("UPDATE handoffs SET status = 'abandoned', ended_at = ?, disposition = 'cut_off', "
                               "wrap_note = ? WHERE id = ? AND status = 'waiting'", (self.stamp(), note, ticket)) == 1


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)

