"""Callbacks: a person calls the caller back instead of the caller waiting on the line.

The time booked is the earliest the queue can keep: not before the caller's preferred time, not
before an agent of the skill is expected to be free after the calls waiting now (forecast.py), and
not while the skill's staffed agents already have as many callbacks due within one handle time;
rounded up to the minute. The ticket leaves the live queue (status 'callback') and an SMS through the
back end's SMS action (the catalog's `sms`) tells the caller the time. Their reply 1 confirms it, 2 asks to change it,
and a reply naming a time (明天上午十点, 一个小时后) books the earliest time from then on instead.
When due, a callback goes to an available agent with the skill (`dispatch`, or that agent's "take
next"), exactly once: all of it is state in the database, so a restart loses nothing.
"""
from __future__ import annotations

import logging
import unicodedata
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from adapters.base import OK, Backend, run_settled
from assistant.catalog.template import render
from assistant.core.errors import AssistantError
from assistant.nlu.slots import canonical_slots
from assistant.queue.forecast import Forecast
from assistant.queue.routing import CallQueue
from assistant.storage.tickets import WAITING, Entry
from domain.clock import in_beijing
from domain.masking import tail
from domain.vocabulary import Vocabulary

log = logging.getLogger(__name__)

CONFIRM, CHANGE = "1", "2"  # SMS replies
# What an SMS reply did.
CONFIRMED, CHANGE_REQUESTED, REBOOKED, UNCLEAR, NO_CALLBACK = (
    "confirmed", "change_requested", "rebooked", "unclear", "no_callback")
_NO_LOOKUPS = Vocabulary({}, {}, {})  # an SMS reply is read for a time only

SayTime = Callable[[str], str]  # a local ISO time -> how it is said: 1月6日11点5分


class Callbacks:
    def __init__(self, forecast: Forecast, backend: Backend, prompts: dict[str, str], say_time: SayTime,
                 sms_action: str | None) -> None:
        """`sms_action`: the back-end action that sends texts (the catalog's `sms`; None: it books no callbacks)."""
        self.forecast = forecast
        self.queue: CallQueue = forecast.queue
        self.backend = backend
        self.prompts = prompts
        self.say_time = say_time
        self.sms_action = sms_action

    def plan(self, skill: str, preferred: str | None, ticket: int | None = None) -> str:
        """The earliest callback time the queue can keep, as a local ISO time (as `when` slots hold
        times); `ticket`: the caller's own, waiting (it leaves the queue) or booked (being moved)."""
        queue = self.queue
        own = queue.entry(ticket) if ticket is not None else None
        now = start = queue.clock()
        if preferred:
            start = max(start, in_beijing(datetime.fromisoformat(preferred)))
        staffing = self.forecast.staffing(skill)
        free = staffing.free_at(now, leaving=int(own is not None and own.status == WAITING))
        if free is not None:
            start = max(start, free)
        start = _minute_up(start)
        handle = timedelta(seconds=staffing.handle_s)
        booked = [datetime.fromisoformat(due) for due in queue.tickets.callbacks_due(skill, other_than=ticket)]
        while staffing.staffed:
            overlapping = [due for due in booked if abs(due - start) < handle]
            if len(overlapping) < staffing.staffed:
                break
            start = _minute_up(min(overlapping) + handle)
        return _local(start)

    def book(self, ticket: int, phone: str, due: str, preferred: str | None, crm_ticket: str | None) -> bool:
        """The ticket becomes a callback at `due` (a local ISO time); whether the SMS went out."""
        self.queue.tickets.book_callback(ticket, phone, _stamp(self.queue, due), preferred, crm_ticket)
        log.info("ticket %d: callback booked for %s", ticket, due)
        return self._sms(phone, self._booked_text(phone, due))

    def reply(self, phone: str, text: str) -> str:
        """An inbound SMS reply from `phone` to its latest booked callback; what it did."""
        tickets = self.queue.tickets
        booked = tickets.latest_callback(phone)
        if booked is None:
            return NO_CALLBACK
        answer = unicodedata.normalize("NFKC", text).strip()
        ticket, due = booked.ticket, _local(datetime.fromisoformat(booked.due_at))
        if answer in (CONFIRM, CHANGE):
            done = CONFIRMED if answer == CONFIRM else CHANGE_REQUESTED
            tickets.confirm_callback(ticket, done)
            if done == CONFIRMED:
                self._sms(phone, render(self.prompts["sms_confirmed"], {"when": self.say_time(due)}))
            else:
                self._sms(phone, self.prompts["sms_change"])
            return done
        preferred = self._time_in(answer)
        if preferred is None:
            self._sms(phone, self.prompts["sms_unclear"])
            return UNCLEAR
        due = self.plan(booked.skill, preferred, ticket)
        tickets.move_callback(ticket, _stamp(self.queue, due), preferred)
        self._sms(phone, self._booked_text(phone, due))
        return REBOOKED

    def dispatch(self) -> list[Entry]:
        """Hand every due callback to an available agent with its skill (the longest idle first)."""
        queue = self.queue
        handed = []
        for ticket, skill in queue.tickets.due_callbacks():
            try:
                with queue.db.write():
                    agent = queue.available(skill)
                    claimed = agent is not None and queue.claim(ticket, agent.name)
            except AssistantError as error:  # the agent took a call elsewhere meanwhile: the next round
                log.info("callback %d not handed out yet: %s", ticket, error)
                continue
            if claimed:
                handed.append(queue.entry(ticket))
        return handed

    def _booked_text(self, phone: str, due: str) -> str:
        return render(self.prompts["sms_callback"], {"when": self.say_time(due), "phone": tail(phone)})

    def _time_in(self, text: str) -> str | None:
        now = self.queue.clock().replace(tzinfo=None)  # slot times are local
        return canonical_slots([{"entity": "when", "value": text}], text, _NO_LOOKUPS, now).get("when")

    def _sms(self, phone: str, text: str) -> bool:
        if self.sms_action is None:
            return False
        key = f"sms-{uuid.uuid4().hex}"
        outcome = run_settled(self.backend, self.sms_action, {"phone": phone, "text": text}, customer_id=None, key=key)
        if outcome.status != OK:
            log.warning("callback SMS to %s not sent: %s %s", tail(phone), outcome.status, outcome.reason)
        return outcome.status == OK


def _minute_up(moment: datetime) -> datetime:
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


def _local(moment: datetime) -> str:
    return in_beijing(moment).replace(tzinfo=None).isoformat(timespec="seconds")


def _stamp(queue: CallQueue, local: str) -> str:
    return queue.stamp(in_beijing(datetime.fromisoformat(local)))
