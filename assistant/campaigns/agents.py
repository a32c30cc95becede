"""Campaigns dialled for agents (modes preview and progressive): a contact is dialled only once an agent
with the purpose's skill is free and reserved for it, so no answered customer waits for a person.

    progressive  the agent is reserved (on_call, with no ticket yet) and the contact dialled; answered,
                 the call becomes the agent's ticket with the contact's context (`hand_over`, as the
                 call is opened); not answered, the agent is available again at once
    preview      the same, but first the reserved agent sees the contact on the desk and decides: dial or
                 skip. Not decided within `preview_s`, the preview is handed back: the contact is due again
                 and the agent away (not at the desk, as when their phone does not answer: runtime/bridging.py)

`campaign_desks` holds one row per reserved agent: the campaign, the contact and the customer's name, the
mode, when the contact was offered and until when, the agent's decision and, once answered, the call's ticket.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Optional

from assistant.campaigns.rules import Purpose
from assistant.campaigns.store import Campaign, CampaignStore, Contact
from assistant.core.errors import AssistantError
from assistant.core.settings import numbers_above_zero
from assistant.queue.routing import AVAILABLE, CallQueue, Entry

PREVIEW, PROGRESSIVE = "preview", "progressive"
FOR_AGENTS = (PREVIEW, PROGRESSIVE)  # the modes dialled for agents (store.py MODES: and agentless)
DIAL, SKIP, TIMED_OUT = "dial", "skip", "timed_out"  # a preview's decisions (the last: nobody decided in time)
AGENT = "agent"  # OutboundCall.slots: the agent reserved for the call, who gets it once answered
NAME = "name"  # a list's column with the customer's name (else the bank's customer data is asked)
CAMPAIGN_CALL = "campaign_call"  # the reason of the ticket an answered call becomes

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaign_desks (agent TEXT PRIMARY KEY, campaign INTEGER NOT NULL REFERENCES campaigns,
    contact INTEGER NOT NULL REFERENCES campaign_contacts, name TEXT, mode TEXT NOT NULL, skill TEXT NOT NULL,
    offered_at TEXT NOT NULL, expires_at TEXT NOT NULL, decision TEXT, ticket INTEGER);
"""


@dataclass(frozen=True)
class DeskSettings:
    """config.yml `campaign_desks:`."""

    preview_s: float = 120.0  # a preview not decided in this long is handed back
    poll_s: float = 2.0  # how often a runner waiting for a free agent, or for a decision, looks again
    skills: dict[str, str] = field(default_factory=dict)  # purpose → the agents' skill (default: its complaint_skill)

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> DeskSettings:
        skills = section.get("skills") or {}
        if not isinstance(skills, dict):
            raise AssistantError("config.yml: campaign_desks: skills: give purpose: skill pairs")
        timing = {name: value for name, value in section.items() if name != "skills"}
        return numbers_above_zero(cls, timing, "campaign_desks", skills={str(k): str(v) for k, v in skills.items()})

    def skill(self, purpose: Purpose) -> str:
        """The skill of the agents `purpose`'s calls are dialled for."""
        return self.skills.get(purpose.name, purpose.complaint_skill)


@dataclass(frozen=True)
class Preview:
    """A contact offered to an agent before the dial: who, why, and what the call follows up."""

    agent: str
    campaign: str
    purpose: str
    contact: int
    customer_id: Optional[str]
    name: Optional[str]  # as the list or the bank's customer data gives it; None: unknown
    phone: str
    context: dict[str, str]  # the list's columns: the complaint followed up, the overdue bill, ...
    offered_at: str
    expires_at: str  # not decided by then: handed back

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class AgentDesks:
    def __init__(self, queue: CallQueue, store: CampaignStore, settings: DeskSettings | None = None,
                 names: Callable[[str], str | None] | None = None) -> None:
        """`names`: a customer's name by their id (the bank's customer data), for contacts whose list has none."""
        self.queue = queue
        self.store = store
        self.db = queue.db
        self.settings = settings or DeskSettings()
        self.names = names
        self.db.script(SCHEMA)

    def free(self, skill: str) -> bool:
        return self.queue.available(skill) is not None

    def reserve(self, skill: str, campaign: Campaign, contact: Contact) -> str | None:
        """The available agent of `skill` idle the longest, now on a call for `contact`; None if none is."""
        name = contact.context.get(NAME) or (self.names(contact.customer_id)
                                             if self.names is not None and contact.customer_id else None)
        now = self.queue.clock()
        with self.db.write():
            agent = self.queue.available(skill)
            # the state checked again as it changes: another runner or a desk may have had the agent first
            if agent is None or not self.db.execute(
                    "UPDATE agents SET state = 'on_call', since = ? WHERE name = ? AND state = 'available'",
                    (self.queue.stamp(now), agent.name)):
                return None
            self.db.execute("DELETE FROM campaign_desks WHERE agent = ?", (agent.name,))
            self.db.execute("INSERT INTO campaign_desks (agent, campaign, contact, name, mode, skill, offered_at, "
                            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (agent.name, campaign.id, contact.id, name, campaign.mode, skill, self.queue.stamp(now),
                             self.queue.stamp(now + timedelta(seconds=self.settings.preview_s))))
        return agent.name

    def release(self, agent: str, state: str = AVAILABLE) -> None:
        """The reservation is over: the agent `state` again, unless the call became their ticket (then
        the desk ends and wraps it up, as any other call)."""
        with self.db.write():
            self.db.execute("DELETE FROM campaign_desks WHERE agent = ?", (agent,))
            if self.queue.tickets.taken_by(agent) is None:
                self.db.execute("UPDATE agents SET state = ?, since = ? WHERE name = ? AND state = 'on_call'",
                                (state, self.queue.stamp(), agent))

    def release_stale(self, campaign: Campaign, older_than_s: float) -> list[int]:
        """Reservations for `campaign` a stopped runner left (made over `older_than_s` ago, no answered call
        handed over): the agent available again, the contact due now; those contacts."""
        now = self.queue.clock()
        with self.db.write():
            rows = self.db.rows("SELECT agent, contact FROM campaign_desks WHERE campaign = ? AND ticket IS NULL "
                                "AND offered_at < ?",
                                (campaign.id, self.queue.stamp(now - timedelta(seconds=older_than_s))))
            for row in rows:
                self.db.execute("DELETE FROM campaign_desks WHERE agent = ?", (row["agent"],))
                self.db.execute("UPDATE agents SET state = 'available', since = ? WHERE name = ? AND state = 'on_call'",
                                (self.queue.stamp(now), row["agent"]))
        for row in rows:  # the campaigns' tables may be on a connection of their own
            self.store.defer(row["contact"], self.queue.stamp(now))
        return [row["contact"] for row in rows]

    # The preview, on the agent's desk.

    def offered(self, agent: str) -> Preview | None:
        """The contact waiting for the agent's decision, if any."""
        row = self.db.row("SELECT d.contact, d.name AS customer, d.offered_at, d.expires_at, c.name, c.purpose "
                          "FROM campaign_desks d "
                          "JOIN campaigns c ON c.id = d.campaign WHERE d.agent = ? AND d.mode = ? "
                          "AND d.decision IS NULL", (agent, PREVIEW))
        if row is None:
            return None
        contact = self.store.contact(row["contact"])
        return Preview(agent, row["name"], row["purpose"], contact.id, contact.customer_id, row["customer"],
                       contact.phone, dict(contact.context), row["offered_at"], row["expires_at"])

    def decide(self, agent: str, decision: str) -> bool:
        """The agent's dial or skip; False when no preview waits for them (none offered, or handed back)."""
        if decision not in (DIAL, SKIP):
            raise AssistantError(f"a preview's decision is {DIAL} or {SKIP}, not {decision!r}")
        return self.db.execute("UPDATE campaign_desks SET decision = ? WHERE agent = ? AND mode = ? "
                               "AND decision IS NULL", (decision, agent, PREVIEW)) == 1

    def decision(self, agent: str) -> str:
        """Waits (at most `preview_s`) for the agent's decision: dial, skip, or timed_out (then no decision
        can come any more)."""
        deadline = time.monotonic() + self.settings.preview_s
        while True:
            row = self.db.row("SELECT decision FROM campaign_desks WHERE agent = ?", (agent,))
            if row is None:  # released meanwhile (as stale, by a runner starting)
                return TIMED_OUT
            if row["decision"] is not None:
                return str(row["decision"])
            if time.monotonic() >= deadline and self.db.execute(
                    "UPDATE campaign_desks SET decision = ? WHERE agent = ? AND decision IS NULL", (TIMED_OUT, agent)):
                return TIMED_OUT
            time.sleep(max(0.0, min(self.settings.poll_s, deadline - time.monotonic())))

    # The answered call.

    def hand_over(self, call_id: str, slots: dict[str, str]) -> Entry | None:
        """An answered call dialled for an agent (`slots`: the OutboundCall's, naming the AGENT; `call_id`:
        the call's record in the call store): a ticket with the contact's context, taken by that agent at
        once; None if the call was dialled for no agent, or the agent holds no reservation any more."""
        agent = slots.get(AGENT)
        if agent is None:
            return None
        with self.db.write():
            row = self.db.row("SELECT d.skill, d.ticket, d.name, d.mode, c.purpose FROM campaign_desks d "
                              "JOIN campaigns c ON c.id = d.campaign WHERE d.agent = ?", (agent,))
            if row is None:
                return None
            ticket = row["ticket"]
            if ticket is None:
                contact = self.store.contact(int(slots["contact"]))
                skill, priority = self.queue.route(CAMPAIGN_CALL, row["skill"])
                ticket = self.queue.tickets.add(
                    call_id, reason=CAMPAIGN_CALL, caller=contact.phone, customer_id=contact.customer_id,
                    verification="unverified", function=None, intent=None,
                    slots={**{key: value for key, value in slots.items() if key != AGENT}, "purpose": row["purpose"],
                           "mode": row["mode"], **({NAME: row["name"]} if row["name"] else {})},
                    transcript=[], skill=skill, priority=priority)
                if not self.queue.tickets.claim(ticket, agent, self.queue.stamp()):
                    raise AssistantError(f"ticket {ticket} could not be given to agent {agent}")
                self.db.execute("UPDATE campaign_desks SET ticket = ? WHERE agent = ?", (ticket, agent))
        return self.queue.entry(int(ticket))

    def ticket(self, agent: str) -> int | None:
        """The ticket the reserved agent's answered call became, if it did."""
        found = self.db.value("SELECT ticket FROM campaign_desks WHERE agent = ?", (agent,))
        return None if found is None else int(found)
