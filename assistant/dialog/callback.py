"""Booking a callback: a person calls the caller back instead of the caller waiting on the line.

The function whose action is the catalog's `callback` (dialogue.yml `actions:`) books it, by voice or
with key 2 while waiting. Its time is the earliest the queue can keep from the one the caller
prefers (or as soon as possible); once the back end took the booking, the queue books it (the
caller's ticket, or a new one, leaves the live queue) and an SMS tells the time.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from adapters.base import Outcome
from assistant.catalog.catalog import Catalog, FunctionSpec
from assistant.dialog.task import Task, param_slot
from domain.masking import tail

KEY = "2"  # while waiting for a person: book a callback instead


class CallbackPort(Protocol):
    """The queue's callbacks as a call's dialog books them (assistant/queue/handoff.py HandOffQueue)."""

    def plan_callback(self, skill: str, preferred: str | None, ticket: int | None = None) -> str: ...
    def book_callback(self, ticket: int, phone: str, due: str, preferred: str | None,
                      crm_ticket: str | None) -> bool: ...


class CallbackBooking:
    def __init__(self, port: CallbackPort, catalog: Catalog, caller: str | None) -> None:
        self.port = port
        self.caller = caller
        action = catalog.actions.callback
        self.function = next((f for f in catalog.functions.values() if action and f.action == action), None)
        self._times: tuple[str | None, str] | None = None  # (preferred, planned) of the one being booked

    def books(self, function: FunctionSpec) -> bool:
        return function is self.function

    def start(self, values: dict[str, Any], waiting: bool) -> None:
        """A booking begins with `values` heard; a waiting caller is called back on their own line."""
        self._times = None
        number = param_slot(self.function, "phone")
        if waiting and number and self.caller:
            values.setdefault(number, self.caller)

    def plan(self, task: Task, skill: str, ticket: int | None) -> None:
        """The preferred time (or none: as soon as possible) becomes the earliest the queue can keep;
        `ticket`: the caller's, if they wait."""
        when = param_slot(task.function, "when")
        if when is None:
            return
        said = task.values.get(when)
        if self._times and said == self._times[1]:
            said = self._times[0]  # no new time: planned again from the one the caller said
        planned = self.port.plan_callback(skill, said, ticket)
        self._times = (said, planned)
        task.values[when] = planned

    def book(self, task: Task, outcome: Outcome, skill: str, ticket: Callable[[], int]) -> Outcome:
        """The back end took the booking: the queue books the caller's `ticket()` and texts the time;
        the outcome gains `sms_phone` when the SMS went out."""
        phone = str(task.params()["phone"])
        preferred, due = self._times or (None, self.port.plan_callback(skill, None))
        sent = self.port.book_callback(ticket(), phone, due, preferred, outcome.id)
        self._times = None
        return replace(outcome, data={**outcome.data, "sms_phone": tail(phone)}) if sent else outcome
