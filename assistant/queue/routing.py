"""The hand-off queue: tickets waiting for a person, and the agents who take them.

A ticket (assistant/storage/tickets.py) waits with a skill group and a priority. An agent has skills
and a state: available, on_call, wrap_up or away. "Take next" gives an available agent the first due
callback their skills cover, else the waiting ticket of the highest priority, oldest first, and puts
the agent on the call. Both happen in one write transaction, and a ticket is claimed only while it is
still waiting or booked, so no ticket is handed out twice, even by two processes on the same file.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from assistant.core.errors import AssistantError
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from assistant.storage.database import Row
from assistant.storage.tickets import DONE, TAKEN, Entry  # noqa: F401  (TAKEN: for the desk, beside the agent states)

AVAILABLE, ON_CALL, WRAP_UP, AWAY = "available", "on_call", "wrap_up", "away"
STATES = (AVAILABLE, ON_CALL, WRAP_UP, AWAY)

SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (name TEXT PRIMARY KEY, skills TEXT NOT NULL, state TEXT NOT NULL,
    since TEXT NOT NULL);
"""
# Columns added to `agents` after its first release: made on open in a database that lacks them.
AGENT_COLUMNS = {"phone": "TEXT"}  # the SIP URI of the agent's extension or softphone; NULL: none
PHONE = re.compile(r"sips?:[^\s<>\"@]+@[^\s<>\"@;]+(;[^\s<>\"]*)?", re.IGNORECASE)


@dataclass(frozen=True)
class Agent:
    name: str
    skills: tuple[str, ...]
    state: str
    since: str  # when the state began
    phone: str | None = None  # where a SIP call the agent takes is put through (a SIP URI)

    def to_json(self) -> dict[str, Any]:
        shown = {"name": self.name, "skills": list(self.skills), "state": self.state, "since": self.since}
        return shown | ({"phone": self.phone} if self.phone else {})


@dataclass(frozen=True)
class PhoneTake:
    """A ticket just taken by an agent with a phone: its call gets the agent's voice."""

    ticket: int
    call_id: str  # the ticket's call
    agent: str
    phone: str
    taken_at: str


class CallQueue:
    def __init__(self, store: CallStore, settings: QueueSettings) -> None:
        self.db = store.db
        self.tickets = store.tickets
        self.clock = store.clock
        self.stamp = store.stamp
        self.settings = settings
        self.db.script(SCHEMA)
        self.db.add_columns("agents", AGENT_COLUMNS)

    # Tickets.

    def route(self, reason: str, skill: str) -> tuple[str, int]:
        """The skill group and priority of a ticket for `reason` about a function of `skill`."""
        rule = self.settings.rule(reason)
        return rule.skill or skill, rule.priority

    def waiting(self, skill: str | None = None) -> list[Entry]:
        """Tickets waiting for a person, in the order agents get them."""
        return self.tickets.waiting(skill)

    def booked(self) -> list[Entry]:
        """Callbacks not handed to an agent yet, the soonest first."""
        return self.tickets.booked()

    def entry(self, ticket: int) -> Entry:
        return self.tickets.entry(ticket)

    def ahead(self, ticket: int) -> int:
        """Waiting tickets of the same skill group that agents get before this one."""
        return self.tickets.ahead(ticket)

    def abandon(self, ticket: int) -> bool:
        """The caller hung up; False if the ticket was no longer waiting."""
        return self.tickets.abandon(ticket)

    # Agents.

    def set_agent(self, name: str, skills: list[str] | None = None, state: str | None = None,
                  phone: str | None = None) -> Agent:
        """Add an agent (skills needed; available unless told) or change one's skills, state or phone
        (a SIP URI such as sip:agent1@10.0.0.7:5060; "" takes it away)."""
        if phone and not PHONE.fullmatch(phone):
            raise AssistantError(f"agent {name}: the phone is a SIP URI (sip:USER@HOST[:PORT]), not {phone!r}")
        if state is not None and state not in STATES:
            raise AssistantError(f"agent state must be one of {', '.join(STATES)}, not {state!r}")
        if skills is not None and not skills:
            raise AssistantError(f"agent {name}: give at least one skill")
        with self.db.write():
            known = self._agent(name)
            if known is None and skills is None:
                raise AssistantError(f"no agent {name!r}: give --skills to add one")
            if known is None:
                self.db.execute("INSERT INTO agents (name, skills, state, since) VALUES (?, ?, ?, ?)",
                                (name, json.dumps(skills), state or AVAILABLE, self.stamp()))
            else:
                if skills is not None:
                    self.db.execute("UPDATE agents SET skills = ? WHERE name = ?", (json.dumps(skills), name))
                if state is not None and state != known.state:
                    if known.state == ON_CALL:
                        raise AssistantError(f"agent {name} is on a call: finish it first")
                    self.db.execute("UPDATE agents SET state = ?, since = ? WHERE name = ?",
                                    (state, self.stamp(), name))
            if phone is not None:
                self.db.execute("UPDATE agents SET phone = ? WHERE name = ?", (phone or None, name))
        return self.agent(name)

    def agents(self) -> list[Agent]:
        return [_agent(row) for row in self.db.rows("SELECT * FROM agents ORDER BY name")]

    def agent(self, name: str) -> Agent:
        agent = self._agent(name)
        if agent is None:
            raise AssistantError(f"no agent {name!r} (assistant queue agent {name} --skills ... adds one)")
        return agent

    def available(self, skill: str) -> Agent | None:
        """The available agent with `skill` idle the longest."""
        rows = self.db.rows("SELECT * FROM agents WHERE state = 'available' ORDER BY since, name")
        return next((agent for agent in map(_agent, rows) if skill in agent.skills), None)

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
            ticket = self.tickets.next_for(agent.skills)
            if ticket is None or not self.claim(ticket, name):
                return None
        return self.entry(ticket)

    def claim(self, ticket: int, name: str) -> bool:
        """Inside a write transaction: the ticket to the agent if it still waits (or is a booked
        callback) and the agent is available; False if either is no longer so."""
        now = self.stamp()
        if not self.tickets.claim(ticket, name, now):
            return False
        busy = self.db.execute("UPDATE agents SET state = 'on_call', since = ? WHERE name = ? "
                               "AND state = 'available'", (now, name))
        if not busy:
            raise AssistantError(f"agent {name} is no longer available")  # rolls the claim back
        return True

    def current(self, name: str) -> Entry | None:
        """The agent's call: the one they are on, or the one they are wrapping up."""
        state = self.agent(name).state
        if state == ON_CALL:
            return self.tickets.taken_by(name)
        return self.tickets.wrapping_up_by(name) if state == WRAP_UP else None

    def finish(self, name: str) -> Entry:
        """The agent's call is over: the ticket is done and the agent wraps up."""
        with self.db.write():
            taken = self.tickets.taken_by(name)
            if taken is None:
                raise AssistantError(f"agent {name} has no call to finish")
            now = self.stamp()
            self.tickets.finish(taken.ticket, now)
            self.db.execute("UPDATE agents SET state = 'wrap_up', since = ? WHERE name = ?", (now, name))
        return self.entry(taken.ticket)

    def wrap_up(self, name: str, disposition: str, note: str = "") -> Entry:
        """The agent records how their last call ended and is available again."""
        if disposition not in self.settings.dispositions:
            raise AssistantError(f"disposition must be one of {', '.join(self.settings.dispositions)}, "
                                 f"not {disposition!r}")
        with self.db.write():
            current = self.current(name)
            if current is None or current.status != DONE:
                raise AssistantError(f"agent {name} has no call to wrap up")
            self.tickets.wrap_up(current.ticket, disposition, note.strip() or None)
            self.db.execute("UPDATE agents SET state = 'available', since = ? WHERE name = ?", (self.stamp(), name))
        return self.entry(current.ticket)

    # The agent's phone (assistant/runtime/bridging.py).

    def phone_takes(self, call_ids: list[str]) -> list[PhoneTake]:
        """Tickets taken now by agents with a phone, whose call is one of `call_ids`."""
        takes = []
        for row in self.tickets.taken_in(call_ids):
            phone = self.db.value("SELECT phone FROM agents WHERE name = ?", (row["agent"],))
            if phone:
                takes.append(PhoneTake(row["id"], row["call_id"], row["agent"], phone, row["taken_at"]))
        return takes

    def give_back(self, ticket: int, name: str) -> bool:
        """The agent's phone did not take the call: the ticket waits again (first in its order, as
        before) and the agent is away; False if the ticket was no longer theirs."""
        with self.db.write():
            if not self.tickets.release(ticket, name):
                return False
            self.db.execute("UPDATE agents SET state = 'away', since = ? WHERE name = ? AND state = 'on_call'",
                            (self.stamp(), name))
        return True

def _agent(row: Row) -> Agent:
    return Agent(row["name"], tuple(json.loads(row["skills"])), row["state"], row["since"], row["phone"])
