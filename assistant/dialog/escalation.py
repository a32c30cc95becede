"""Putting the call through to a person: the hand-off ticket opened in the skill group of what the
caller was doing, and what the caller hears of the queue (handoff.py keeps the ticket)."""
from __future__ import annotations

import logging
from typing import Protocol

from assistant.catalog.catalog import DEFAULT_SKILL, Catalog
from assistant.dialog.callback import CallbackBooking
from assistant.dialog.handoff import HandOff
from assistant.dialog.reasons import CALLBACK
from assistant.dialog.reply import Reply
from assistant.dialog.task import Task
from assistant.dialog.verification import Verification
from assistant.storage.tickets import CALLBACK as BOOKED
from assistant.storage.tickets import WAITING

log = logging.getLogger(__name__)


class Doing(Protocol):
    """What the caller was doing, as a ticket shows it, and leaving it for a person."""

    def doing(self) -> Task | None:
        """The function the caller was doing (not asking for a person), if any."""
    def done(self) -> Task | None:
        """The function the call finished last, if any."""
    def intent(self) -> str | None:
        """The latest intent understood."""
    def leave(self) -> None:
        """Drop everything in progress: functions, the key menu, a PIN asked for."""


class Escalation:
    def __init__(self, handoff: HandOff, verification: Verification, callbacks: CallbackBooking, catalog: Catalog,
                 reply: Reply, call: Doing) -> None:
        self.handoff = handoff
        self.verification = verification
        self.callbacks = callbacks
        self.catalog = catalog
        self.reply = reply
        self.call = call

    @property
    def waiting(self) -> bool:
        """Whether the call waits for a person."""
        return self.handoff.ticket is not None

    @property
    def ticket(self) -> int | None:
        """The ticket the call waits with."""
        return self.handoff.ticket

    def escalate(self, reason: str) -> None:
        """Put the call through to a person: it waits in the queue, told its place and predicted wait."""
        prompts = self.catalog.prompts
        if self.waiting:  # already waiting (a callback could not be booked): it keeps its place
            self.call.leave()
            self.reply.say(prompts["handoff"])
            return
        ticket = self.handoff.ticket = self.open_ticket(reason)
        self.reply.escalation = ticket
        self.call.leave()
        log.info("call %s: put through to a person (%s), ticket %d", self.handoff.record.call_id, reason, ticket)
        told = self.handoff.notice(ticket)
        self.reply.say(prompts["handoff"] + told + (prompts["callback_offer"] if self.callbacks.function else ""))

    def open_ticket(self, reason: str, status: str = WAITING) -> int:
        """A hand-off ticket in the skill group of what the caller was doing: not asking for a person,
        but what came before."""
        task = self.call.doing()
        if task:
            self.reply.note(task)
        verification = self.verification
        return self.handoff.open(reason, self.skill(task), task, self.call.intent(), verification.customer,
                                 verification.status, status)

    def skill(self, task: Task | None) -> str:
        """The skill group of `task`, else of what the caller asked for; a bare "转人工" after a function
        is over goes to that function's group, who know what the caller just did."""
        function = task.function if task else self.catalog.function_for(self.call.intent() or "")
        done = self.call.done()
        if (function is None or function.skill == DEFAULT_SKILL) and done is not None:
            function = done.function
        return function.skill if function else DEFAULT_SKILL

    def waiting_skill(self) -> str | None:
        """The skill group of the ticket the call waits with, if it waits."""
        return self.handoff.skill()

    def callback_ticket(self) -> int:
        """The ticket a booked callback goes with: the caller's own if they wait, else a new one."""
        if self.handoff.ticket is not None:
            return self.handoff.ticket
        return self.open_ticket(CALLBACK, status=BOOKED)

    def booked(self) -> None:
        """A callback was booked: the caller waits no more."""
        self.handoff.ticket = None
