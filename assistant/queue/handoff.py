"""What a call's dialog asks of the people behind the assistant: a ticket in the queue, the caller's
place and predicted wait, and a callback booked instead of waiting."""
from __future__ import annotations

from typing import Any

from assistant.queue.callbacks import Callbacks
from assistant.queue.forecast import Wait


class HandOffQueue:
    def __init__(self, callbacks: Callbacks) -> None:
        self.callbacks = callbacks
        self.forecast = callbacks.forecast
        self.queue = callbacks.queue

    def open_ticket(self, call_id: str, reason: str, skill: str, **details: Any) -> int:
        """A ticket for `reason` about a function of `skill`, routed by config.yml `queue: reasons:`;
        `details`: what an agent needs (assistant/storage/tickets.py `Tickets.add`)."""
        routed, priority = self.queue.route(reason, skill)
        return self.queue.tickets.add(call_id, reason=reason, skill=routed, priority=priority, **details)

    def abandon(self, ticket: int) -> bool:
        return self.queue.abandon(ticket)

    def wait(self, ticket: int) -> Wait:
        return self.forecast.wait(ticket)

    def skill(self, ticket: int) -> str:
        return self.queue.entry(ticket).skill

    def plan_callback(self, skill: str, preferred: str | None, ticket: int | None = None) -> str:
        return self.callbacks.plan(skill, preferred, ticket)

    def book_callback(self, ticket: int, phone: str, due: str, preferred: str | None, crm_ticket: str | None) -> bool:
        return self.callbacks.book(ticket, phone, due, preferred, crm_ticket)
