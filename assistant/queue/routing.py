"""The hand-off queue: tickets waiting for a person, and the agents who take them.

A ticket (assistant/store.py `handoffs`) waits with a skill group and a priority. An agent has skills
and a state: available, on_call, wrap_up or away. "Take next" gives an available agent the first due
callback their skills cover, else the waiting ticket of the highest priority, oldest first, and puts
the agent on the call. Both happen in one write transaction, and a ticket is claimed only while it is
still waiting or booked, so no ticket is handed out twice, even by two processes on the same file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from assistant.core.errors import AssistantError
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from assistant.storage.database import Row

AVAILABLE, ON_CALL, WRAP_UP, AWAY = "available", "on_call", "wrap_up", "away"
STATES = (AVAILABLE, ON_CALL, WRAP_UP, AWAY)
WAITING, CALLBACK, TAKEN = "waiting", "callback", "taken"  # statuses the code branches on (SQL names the others)

SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (name TEXT PRIMARY KEY, skills TEXT NOT NULL, state TEXT NOT NULL,
    since TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS callbacks (ticket INTEGER PRIMARY KEY REFERENCES handoffs, phone TEXT NOT NULL,
    preferred_at TEXT, due_at TEXT NOT NULL, booked_at TEXT NOT NULL, crm_ticket TEXT,
    confirmation TEXT NOT NULL DEFAULT 'unconfirmed');
CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks (due_at);
"""
# Routing order: due callbacks first (by their time: they were promised), then waiting tickets by
# priority, oldest first.
_ORDER = "h.status = 'callback' DESC, c.due_at, h.priority DESC, h.created_at, h.id"
# An agent's call: the one they are on; the one they are wrapping up (the latest ended without a
# disposition: an agent's calls may end within one second, and times are to the second).
_TAKEN_BY = "h.agent = ? AND h.status = 'taken'"
_WRAPPING_UP_BY = ("h.agent = ? AND h.status = 'done' AND h.disposition IS NULL "
                   "ORDER BY h.ended_at DESC, h.id DESC LIMIT 1")
_ENTRY = ("SELECT h.*, c.phone AS callback_phone, c.due_at, c.confirmation FROM handoffs h "
          "LEFT JOIN callbacks c ON c.ticket = h.id")


@dataclass(frozen=True)
class Agent:
    name: str
    skills: tuple[str, ...]
    state: str
    since: str  # when the state began

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "skills": list(self.skills), "state": self.state, "since": self.since}


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
    callback: dict[str, Any] | None  # {phone, due_at, confirmation}

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_row(cls, row: Row) -> Entry:
        callback = None
        if row["due_at"] is not None:
            callback = {"phone": row["callback_phone"], "due_at": row["due_at"], "confirmation": row["confirmation"]}
        return cls(row["id"], row["created_at"], row["skill"], row["priority"], row["status"], row["reason"],
                   row["caller"], row["customer_id"], row["verification"], row["function"], row["intent"],
                   json.loads(row["slots"]), json.loads(row["transcript"]), row["agent"], row["disposition"],
                   callback)


class CallQueue:
    def __init__(self, store: CallStore, settings: QueueSettings) -> None:
        self.db = store.db
        self.clock = store.clock
        self.stamp = store.stamp
        self.settings = settings
        self.db.script(SCHEMA)

    # Tickets.

    def route(self, reason: str, skill: str) -> tuple[str, int]:
        """The skill group and priority of a ticket for `reason` about a function of `skill`."""
        rule = self.settings.rule(reason)
        return rule.skill or skill, rule.priority

    def waiting(self, skill: str | None = None) -> list[Entry]:
        """Tickets waiting for a person, in the order agents get them."""
        if skill is None:
            return self.entries(f"h.status = 'waiting' ORDER BY {_ORDER}")
        return self.entries(f"h.status = 'waiting' AND h.skill = ? ORDER BY {_ORDER}", (skill,))

    def booked(self) -> list[Entry]:
        """Callbacks not handed to an agent yet, the soonest first."""
        return self.entries("h.status = 'callback' ORDER BY c.due_at, h.id")

    def entries(self, where: str, args: tuple[Any, ...] = ()) -> list[Entry]:
        """Tickets with their callbacks, chosen and ordered by `where` (the SQL after WHERE)."""
        return [Entry.from_row(row) for row in self.db.rows(f"{_ENTRY} WHERE {where}", args)]

    def entry(self, ticket: int) -> Entry:
        row = self.db.row(f"{_ENTRY} WHERE h.id = ?", (ticket,))
        if row is None:
            raise AssistantError(f"no hand-off ticket {ticket}")
        return Entry.from_row(row)

    def ahead(self, ticket: int) -> int:
        """Waiting tickets of the same skill group that agents get before this one."""
        return int(self.db.value(
            "SELECT COUNT(*) FROM handoffs h, handoffs t WHERE t.id = ? AND h.status = 'waiting' "
            "AND h.skill = t.skill AND h.id != t.id AND (h.priority > t.priority OR (h.priority = t.priority "
            "AND (h.created_at, h.id) < (t.created_at, t.id)))", (ticket,)))

    def abandon(self, ticket: int) -> bool:
        """The caller hung up; False if the ticket was no longer waiting."""
        return self.db.execute("UPDATE handoffs SET status = 'abandoned', ended_at = ? WHERE id = ? "
                               "AND status = 'waiting'", (self.stamp(), ticket)) == 1

    # Agents.

    def set_agent(self, name: str, skills: list[str] | None = None, state: str | None = None) -> Agent:
        """Add an agent (skills needed; available unless told) or change one's skills or state."""
        if state is not None and state not in STATES:
            raise AssistantError(f"agent state must be one of {', '.join(STATES)}, not {state!r}")
        if skills is not None and not skills:
            raise AssistantError(f"agent {name}: give at least one skill")
        with self.db.write():
            known = self._agent(name)
            if known is None and skills is None:
                raise AssistantError(f"no agent {name!r}: give --skills to add one")
            if known is None:
                self.db.execute("INSERT INTO agents VALUES (?, ?, ?, ?)",
                                (name, json.dumps(skills), state or AVAILABLE, self.stamp()))
            else:
                if skills is not None:
                    self.db.execute("UPDATE agents SET skills = ? WHERE name = ?", (json.dumps(skills), name))
                if state is not None and state != known.state:
                    if known.state == ON_CALL:
                        raise AssistantError(f"agent {name} is on a call: finish it first")
                    self.db.execute("UPDATE agents SET state = ?, since = ? WHERE name = ?",
                                    (state, self.stamp(), name))
        return self.agent(name)

    def agents(self) -> list[Agent]:
        return [_agent(row) for row in self.db.rows("SELECT * FROM agents ORDER BY name")]

    def agent(self, name: str) -> Agent:
        agent = self._agent(name)
        if agent is None:
            raise AssistantError(f"no agent {name!r} (assistant queue agent {name} --skills ... adds one)")
        return agent

    def _agent(self, name: str) -> Agent | None:
        row = self.db.row("SELECT * FROM agents WHERE name = ?", (name,))
        return _agent(row) if row else None

    # Taking and finishing calls.

    def take_next(self, name: str) -> Entry | None:
        """The next ticket for an available agent, now theirs; None if nothing their skills cover waits."""
        with self.db.write():
            agent = self.agent(name)
            if agent.state != AVAILABLE:
                raise AssistantError(f"agent {name} is {agent.state}, not available")
            skills = ", ".join("?" * len(agent.skills))
            row = self.db.row(
                f"SELECT h.id FROM handoffs h LEFT JOIN callbacks c ON c.ticket = h.id WHERE h.skill IN ({skills}) "
                f"AND (h.status = 'waiting' OR (h.status = 'callback' AND c.due_at <= ?)) ORDER BY {_ORDER} LIMIT 1"
                f"{self.db.claim_clause('h')}", (*agent.skills, self.stamp()))
            if row is None or not self.claim(row["id"], name):
                return None
        return self.entry(row["id"])

    def claim(self, ticket: int, name: str) -> bool:
        """Inside a write transaction: the ticket to the agent if it still waits (or is a booked
        callback) and the agent is available; False if either is no longer so."""
        now = self.stamp()
        taken = self.db.execute("UPDATE handoffs SET status = 'taken', agent = ?, taken_at = ? WHERE id = ? "
                                "AND status IN ('waiting', 'callback')", (name, now, ticket))
        if not taken:
            return False
        busy = self.db.execute("UPDATE agents SET state = 'on_call', since = ? WHERE name = ? "
                               "AND state = 'available'", (now, name))
        if not busy:
            raise AssistantError(f"agent {name} is no longer available")  # rolls the claim back
        return True

    def current(self, name: str) -> Entry | None:
        """The agent's call: the one they are on, or the one they are wrapping up."""
        where = {ON_CALL: _TAKEN_BY, WRAP_UP: _WRAPPING_UP_BY}.get(self.agent(name).state)
        found = self.entries(where, (name,)) if where else []
        return found[0] if found else None

    def finish(self, name: str) -> Entry:
        """The agent's call is over: the ticket is done and the agent wraps up."""
        with self.db.write():
            found = self.entries(_TAKEN_BY, (name,))
            if not found:
                raise AssistantError(f"agent {name} has no call to finish")
            now = self.stamp()
            self.db.execute("UPDATE handoffs SET status = 'done', ended_at = ? WHERE id = ?", (now, found[0].ticket))
            self.db.execute("UPDATE agents SET state = 'wrap_up', since = ? WHERE name = ?", (now, name))
        return self.entry(found[0].ticket)

    def wrap_up(self, name: str, disposition: str, note: str = "") -> Entry:
        """The agent records how their last call ended and is available again."""
        if disposition not in self.settings.dispositions:
            raise AssistantError(f"disposition must be one of {', '.join(self.settings.dispositions)}, "
                                 f"not {disposition!r}")
        with self.db.write():
            current = self.current(name)
            if current is None or current.status != "done":
                raise AssistantError(f"agent {name} has no call to wrap up")
            self.db.execute("UPDATE handoffs SET disposition = ?, wrap_note = ? WHERE id = ?",
                            (disposition, note.strip() or None, current.ticket))
            self.db.execute("UPDATE agents SET state = 'available', since = ? WHERE name = ?", (self.stamp(), name))
        return self.entry(current.ticket)


def _agent(row: Row) -> Agent:
    return Agent(row["name"], tuple(json.loads(row["skills"])), row["state"], row["since"])
