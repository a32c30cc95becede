"""Putting a call through to a person: its hand-off ticket, and what the caller hears of the queue.

The ticket holds what a person needs (the caller, how far verification got, the function, intent and
slots shown masked, the redacted transcript) and waits in the skill group of what the caller was doing.
"""
from __future__ import annotations

from typing import Any, Protocol

from assistant.catalog.template import render
from assistant.dialog.record import CallRecord
from assistant.dialog.task import Task
from assistant.queue.forecast import Wait
from assistant.storage.tickets import WAITING

class HandOffPort(Protocol):
    """The hand-off queue as a call's dialog uses it (assistant/queue/handoff.py HandOffQueue)."""

    def open_ticket(self, call_id: str, reason: str, skill: str, **details: Any) -> int: ...
    def abandon(self, ticket: int) -> bool: ...
    def wait(self, ticket: int) -> Wait: ...
    def skill(self, ticket: int) -> str: ...


class HandOff:
    def __init__(self, port: HandOffPort, prompts: dict[str, str], record: CallRecord, caller: str | None) -> None:
        self.port = port
        self.prompts = prompts
        self.record = record
        self.caller = caller
        self.ticket: int | None = None  # while the call waits for a person

    def open(self, reason: str, skill: str, task: Task | None, intent: str | None, customer: str | None,
             verification: str, status: str = WAITING) -> int:
        """A ticket for `reason`; `task`: what the caller was doing (not asking for a person)."""
        return self.port.open_ticket(
            self.record.call_id, reason, skill, caller=self.caller, customer_id=customer,
            verification=verification, function=task.function.id if task else None, intent=intent,
            slots=task.shown() if task else {}, transcript=list(self.record.transcript), status=status)

    def notice(self, ticket: int) -> str:
        """The caller's place in the queue and predicted wait now, as said on escalation and on hold."""
        wait = self.port.wait(ticket)
        ahead = {"ahead": str(wait.ahead)} if wait.ahead else {}
        if wait.seconds is None:
            return render(self.prompts["queue_busy"], ahead)
        return render(self.prompts["queue_wait"], {**ahead, "minutes": str(max(1, round(wait.seconds / 60)))})

    def skill(self) -> str | None:
        """The skill group of the ticket the call waits with, if it waits."""
        return self.port.skill(self.ticket) if self.ticket is not None else None

    def hung_up(self) -> None:
        if self.ticket is not None:
            self.port.abandon(self.ticket)  # hung up while waiting (a no-op once taken)
