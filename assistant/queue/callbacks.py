"""Callbacks: a person calls the caller back instead of the caller waiting on the line.

The time booked is the earliest the queue can keep: not before the caller's preferred time, not
before an agent of the skill is expected to be free after the calls waiting now (forecast.py), and
not while the skill's staffed agents already have as many callbacks due within one handle time;
rounded up to the minute. The ticket leaves the live queue (status 'callback') and an SMS through the
back end's SMS action (the catalog's `sms`) tells the caller the time. Their reply 1 confirms it, 2 asks to change it,
and a reply naming a time (明天上午十点, 一个小时后) books the earliest time from then on instead.
When due, a callback goes to an available agent with the skill (`dispatch`, or that agent's "take
next"), exactly once: all of it is state in the database, so a restart loses nothing.

Where a telephony worker has a SIP trunk, it dials the customer instead (assistant/runtime/workers.py):
`start_dial` takes the callback off the desks while it rings, `answered` puts the customer in the
queue with the ticket (to an available agent of its skill at once, if there is one), and `dialed`
records the outcome: busy or no answer is dialled again later while tries are left; a failed dial,
or the last try, leaves the callback on the desk, for a person to call.

A caller left waiting by a telephony worker that died is called back too (`call_back_stranded`, swept
by the live workers: assistant/runtime/workers.py WorkerWatch): booked for now, to the caller id.
"""
from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from adapters.base import OK, Backend, run_settled
from assistant.catalog.template import render
from assistant.core.dialing import TICKET, Dialed, OutboundCall
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
PURPOSE = "callback"  # an outbound call's purpose when it is a booked callback
# What became of a callback once dialled: the customer waits for (or talks to) an agent, it is
# dialled again later, or it is left on the desk.
AfterDial = Literal["connected", "redial", "desk"]

CUT_OFF = "cut_off"  # the disposition of a ticket whose caller was cut off with no number to call back
_DIALLABLE = re.compile(r"\+?\d{5,15}")  # a caller id that can be called back (95588 to +8613800138000)
_NO_NUMBER = "cut off: the worker carrying the call stopped, and the caller's number is unknown"

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
        if free is None:  # nobody of the skill is on duty: not now, but when its next shift starts
            free = queue.settings.next_shift(skill, now)
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
        return self.send_sms(phone, self._booked_text(phone, due))

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
                self.send_sms(phone, render(self.prompts["sms_confirmed"], {"when": self.say_time(due)}))
            else:
                self.send_sms(phone, self.prompts["sms_change"])
            return done
        preferred = self._time_in(answer)
        if preferred is None:
            self.send_sms(phone, self.prompts["sms_unclear"])
            return UNCLEAR
        due = self.plan(booked.skill, preferred, ticket)
        tickets.move_callback(ticket, _stamp(self.queue, due), preferred)
        self.send_sms(phone, self._booked_text(phone, due))
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

    def to_dial(self, tries: int) -> list[int]:
        """Due callbacks to dial now (fewer than `tries` dials so far, none failed), the soonest first."""
        return self.queue.tickets.to_dial(tries)

    def start_dial(self, ticket: int, tries: int, start_function: str) -> tuple[int, OutboundCall] | None:
        """The callback taken off the desks while it is dialled: the dial's number and the call to place
        (answered, its dialog opens with `start_function`, waiting with the ticket); None when it is no
        longer to be dialled."""
        attempt = self.queue.tickets.start_dial(ticket, tries)
        if attempt is None:
            return None
        booked = self.queue.entry(ticket).callback or {}
        return attempt, OutboundCall(booked["phone"], PURPOSE, start_function, {TICKET: str(ticket)})

    def answered(self, ticket: int) -> Entry:
        """The customer answered: the ticket waits for a person again and goes to an available agent
        of its skill at once, if there is one (as `dispatch` hands callbacks out)."""
        queue = self.queue
        if queue.tickets.answered(ticket):
            skill = queue.entry(ticket).skill
            try:
                with queue.db.write():
                    agent = queue.available(skill)
                    if agent is not None:
                        queue.claim(ticket, agent.name)
            except AssistantError as error:  # the agent took a call elsewhere: the ticket waits
                log.info("callback %d: waiting for an agent: %s", ticket, error)
        return queue.entry(ticket)

    def dialed(self, ticket: int, attempt: int, dialed: Dialed, tries: int, retry_s: float) -> AfterDial:
        """Records how dial `attempt` went, and what comes of it: busy or no answer is dialled again
        `retry_s` from now while fewer than `tries` dials were made; a failed dial or the last try is
        left on the desk (due as booked)."""
        queue = self.queue
        again = dialed.outcome in ("busy", "no_answer") and attempt < tries
        due = queue.stamp(queue.clock() + timedelta(seconds=retry_s)) if again else None
        queue.tickets.dialed(ticket, attempt, dialed.outcome, dialed.sip_status, dialed.detail, dialed.call_id, due)
        after: AfterDial = "connected" if dialed.outcome == "answered" else "redial" if again else "desk"
        log.info("callback %d dial %d: %s%s -> %s", ticket, attempt, dialed.outcome,
                 f" ({dialed.detail})" if dialed.detail else "", after)
        return after

    def release_dials(self, stale_s: float) -> list[int]:
        """Callbacks a stopped worker left being dialled for more than `stale_s`: back on the desk."""
        return self.queue.tickets.release_dials(self.queue.stamp(self.queue.clock() - timedelta(seconds=stale_s)))

    def call_back_stranded(self, silent_since: str, restarted: str | None = None) -> list[Entry]:
        """Callers a dead worker left waiting for a person (Tickets.stranded): each one's ticket becomes
        a callback to their number due now, first among the due (the SMS goes out as for any booking);
        with no number to call, the ticket is abandoned with the disposition CUT_OFF. The tickets swept."""
        tickets = self.queue.tickets
        swept = []
        for row in tickets.stranded(silent_since, restarted):
            ticket, phone = row["id"], row["phone"] or ""
            now = self.queue.clock()
            if _DIALLABLE.fullmatch(phone):
                if tickets.call_back_cut_off(ticket, phone, self.queue.stamp(now)):
                    log.warning("ticket %d: the caller was cut off (their worker stopped): callback to %s booked now",
                                ticket, tail(phone))
                    self.send_sms(phone, self._booked_text(phone, _local(now)))
                    swept.append(ticket)
            elif tickets.cut_off(ticket, _NO_NUMBER):
                log.warning("ticket %d: the caller was cut off (their worker stopped) and cannot be called back: "
                            "no number", ticket)
                swept.append(ticket)
        return [self.queue.entry(ticket) for ticket in swept]

    def _booked_text(self, phone: str, due: str) -> str:
        return render(self.prompts["sms_callback"], {"when": self.say_time(due), "phone": tail(phone)})

    def _time_in(self, text: str) -> str | None:
        now = self.queue.clock().replace(tzinfo=None)  # slot times are local
        return canonical_slots([{"entity": "when", "value": text}], text, _NO_LOOKUPS, now).get("when")

    def send_sms(self, phone: str, text: str) -> bool:
        """A text through the back end's SMS action; whether it went out."""
        if self.sms_action is None:
            return False
        key = f"sms-{uuid.uuid4().hex}"
        outcome = run_settled(self.backend, self.sms_action, {"phone": phone, "text": text}, customer_id=None, key=key)
        if outcome.status != OK:
            log.warning("SMS to %s not sent: %s %s", tail(phone), outcome.status, outcome.reason)
        return outcome.status == OK


def _minute_up(moment: datetime) -> datetime:
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


def _local(moment: datetime) -> str:
    return in_beijing(moment).replace(tzinfo=None).isoformat(timespec="seconds")


def _stamp(queue: CallQueue, local: str) -> str:
    return queue.stamp(in_beijing(datetime.fromisoformat(local)))
