"""Dialing a campaign: which contact next, the rules checked at the dial, and what each attempt leaves.

At every decision, in this order: the purpose's calling window must be open now (else nothing is dialed
until it opens); the contact due soonest is claimed; a number on the purpose's or the bank-wide
do-not-call list is closed undialed (put off until the listing ends, if it does); a contact whose
attempts are used up is closed as a final "no answer"; one that had its day's attempts is put off to
the next calling day. The rules are read at the dial, so a number listed or a cap lowered after the
list was loaded still counts.

An answered call opens with the purpose's function (its script in intents/), knowing the contact's
context. After the call: busy, no answer or failed is a provisional "no answer", retried after the outcome's
delay (on the next calling day once the day's attempts are used) until the attempts are used up, when
it becomes final (and, if the purpose says `unreached: sms`, the customer is sent a text, archived as an
attempt of its own); a completed survey is the result (a later success overwrites a provisional no answer),
and an unhappy one opens a complaint ticket; an answered call that did not finish the survey is
"unfinished" and opens one too; a refusal ends the contact and lists the number as the purpose's rule
says; a wrong person ends the contact.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from assistant.campaigns.rules import RETRIED, CallingRules, Purpose
from assistant.campaigns.store import DONE, DUE, NOT_SENT, PHONE, SENT, Attempt, Campaign, CampaignStore, Contact, Progress
from assistant.core.dialing import TICKET, Dialed, Dialer, OutboundCall
from domain.clock import Clock

log = logging.getLogger(__name__)

# Outcomes of an answered call, as the survey's dialog leaves them (answered: it did not finish).
ANSWERED, COMPLETED, REFUSED, WRONG_PERSON = "answered", "completed", "refused", "wrong_person"
ANSWERED_OUTCOMES = (ANSWERED, COMPLETED, REFUSED, WRONG_PERSON)
# Results of a contact besides the outcomes above.
NO_ANSWER, UNFINISHED, DO_NOT_CALL = "no_answer", "unfinished", "do_not_call"
UNHAPPY_REASON, UNFINISHED_REASON = "campaign_unhappy", "campaign_unfinished"  # complaint tickets' reasons
SATISFACTION = "satisfaction"  # the answer (1-5) a survey's satisfaction is read from
# A contact's `ticket` (the complaint followed up) goes to the call under this name: as the call's TICKET
# it would make the answered call wait for a person with that ticket, as an answered callback does.
COMPLAINT_TICKET = "complaint_ticket"
IDLE_POLL_S = 60.0  # a runner waiting for the next due contact looks again at least this often


@dataclass(frozen=True)
class Answered:
    """What an answered call came to."""

    outcome: str  # one of ANSWERED_OUTCOMES
    answers: dict[str, Any] = field(default_factory=dict)
    recording: str | None = None


class AnsweredCalls(Protocol):
    """What the answered call's dialog recorded (results.py reads it from the call store)."""

    def result(self, call_id: str) -> Answered: ...


class Notices(Protocol):
    """How a customer every call missed is told (runtime/campaigns.py: the back end's SMS action)."""

    def send(self, method: str, phone: str) -> bool: ...


class Complaints(Protocol):
    """Where unhappy results go: the hand-off queue (assistant/queue/handoff.py HandOffQueue)."""

    def open_ticket(self, call_id: str, reason: str, skill: str, **details: Any) -> int: ...


class Runner:
    def __init__(self, store: CampaignStore, rules: CallingRules, dialer: Dialer, calls: AnsweredCalls,
                 complaints: Complaints, clock: Clock, ring_timeout_s: float = 30.0,
                 notices: Notices | None = None) -> None:
        self.store = store
        self.rules = rules
        self.dialer = dialer
        self.calls = calls
        self.complaints = complaints
        self.clock = clock
        self.ring_timeout_s = ring_timeout_s
        self.notices = notices

    def next_contact(self, campaign: Campaign) -> Contact | None:
        """The contact to dial now, claimed; None when the window is shut or nobody is due."""
        purpose = self.rules.purpose(campaign.purpose)
        now = self.clock()
        if not self.rules.may_dial(purpose, now):
            return None
        while (contact := self.store.claim_next(campaign.id, _stamp(now))) is not None:
            listing = self.store.listing(contact.phone, purpose.name, _stamp(now))
            if listing is not None and listing.until is None:
                self.store.close(contact.id, DO_NOT_CALL)
            elif listing is not None:  # off the list for a while (a court order, a cooling-off): due again when it ends
                self.store.defer(contact.id, listing.until)
            elif contact.attempts >= purpose.total:  # the cap was lowered since its last attempt
                self.store.close(contact.id, NO_ANSWER)
                self._tell_unreached(purpose, contact, now)
            elif contact.day == now.date().isoformat() and contact.day_attempts >= purpose.per_day:
                self.store.defer(contact.id, _stamp(self.rules.next_day(purpose, now)))
            else:
                return contact
        return None

    def dial(self, campaign: Campaign, contact: Contact) -> Progress:
        """Calls the contact and records the attempt; where the contact stands after it."""
        purpose = self.rules.purpose(campaign.purpose)
        context = {COMPLAINT_TICKET if key == TICKET else key: value for key, value in contact.context.items()}
        call = OutboundCall(contact.phone, purpose.name, purpose.function,
                            {**context, "campaign": campaign.name, "contact": str(contact.id)})
        dialed = self.dialer.originate(call, self.ring_timeout_s)
        answered = self.calls.result(dialed.call_id) if dialed.outcome == ANSWERED else None
        outcome = answered.outcome if answered else dialed.outcome
        attempt = Attempt(PHONE, outcome, answered.answers if answered else {}, dialed.call_id or None,
                          dialed.sip_status, dialed.talked_s, dialed.detail, answered.recording if answered else None)
        now = self.clock()
        progress = self._progress(purpose, contact, attempt, dialed, now)
        self.store.record(contact, attempt, progress, _stamp(now), now.date().isoformat())
        if progress.final and progress.result == NO_ANSWER:
            self._tell_unreached(purpose, contact, now)
        log.info("campaign %s: contact %d %s → %s", campaign.name, contact.id, outcome, progress.result)
        return progress

    def run(self, campaign: Campaign, until_idle: bool, lines: int = 1,
            stop: Callable[[], bool] = lambda: False) -> int:
        """Dials on `lines` lines at once until nothing is due now (`until_idle`) or no contact is left
        to call (waiting for retries and windows in between); the number of calls placed."""
        placed = 0
        count = threading.Lock()

        def line() -> None:
            nonlocal placed
            while not stop():
                contact = self.next_contact(campaign)
                if contact is not None:
                    self.dial(campaign, contact)
                    with count:
                        placed += 1
                elif until_idle or not self._wait(campaign):
                    return

        with ThreadPoolExecutor(lines, thread_name_prefix=f"campaign-{campaign.name}") as pool:
            for future in [pool.submit(line) for _ in range(lines)]:
                future.result()
        return placed

    def _progress(self, purpose: Purpose, contact: Contact, attempt: Attempt, dialed: Dialed, now: datetime) -> Progress:
        outcome = attempt.outcome
        if outcome in RETRIED:
            if contact.attempts + 1 >= purpose.total:
                return Progress(DONE, NO_ANSWER, final=True)
            due = now + self.rules.retry_after[outcome]
            day_attempts = contact.day_attempts + 1 if contact.day == now.date().isoformat() else 1
            if day_attempts >= purpose.per_day:
                due = max(due, self.rules.next_day(purpose, now))
            return Progress(DUE, NO_ANSWER, final=False, next_due_at=_stamp(self.rules.next_window(purpose, due)))
        if outcome == REFUSED:
            self._list_refusal(purpose, contact, now)
            return Progress(DONE, REFUSED, final=True)
        if outcome == WRONG_PERSON:
            return Progress(DONE, WRONG_PERSON, final=True)
        result = COMPLETED if outcome == COMPLETED else UNFINISHED
        reason = UNFINISHED_REASON if result == UNFINISHED else UNHAPPY_REASON if self._unhappy(attempt) else None
        ticket = None
        if reason is not None:
            ticket = self.complaints.open_ticket(
                dialed.call_id, reason, purpose.complaint_skill, caller=contact.phone, customer_id=contact.customer_id,
                verification="unverified", function=None, intent=None,
                slots={**contact.context, **{k: str(v) for k, v in attempt.answers.items()}},
                transcript=[])
        return Progress(DONE, result, final=True, ticket=ticket)

    def _tell_unreached(self, purpose: Purpose, contact: Contact, now: datetime) -> None:
        """A contact every call missed is told by the purpose's `unreached` method, an attempt of its own."""
        if purpose.unreached is None or self.notices is None:
            return
        sent = self.notices.send(purpose.unreached, contact.phone)
        self.store.archive(contact, Attempt(purpose.unreached, SENT if sent else NOT_SENT, {}), _stamp(now))

    def _unhappy(self, attempt: Attempt) -> bool:
        score = attempt.answers.get(SATISFACTION)
        try:
            return score is not None and int(score) <= self.rules.unhappy_at_most
        except (TypeError, ValueError):
            return False

    def _list_refusal(self, purpose: Purpose, contact: Contact, now: datetime) -> None:
        if purpose.refusal_forever:
            self.store.add_do_not_call(contact.phone, purpose.name, REFUSED, _stamp(now), None)
        elif purpose.refusal_days is not None:
            until = now + timedelta(days=purpose.refusal_days)
            self.store.add_do_not_call(contact.phone, purpose.name, REFUSED, _stamp(now), _stamp(until))

    def _wait(self, campaign: Campaign) -> bool:
        """Sleeps until the next contact may be due; False when none is left to call."""
        due = self.store.next_due(campaign.id)
        if due is None:
            return False
        now = self.clock()
        opens = self.rules.next_window(self.rules.purpose(campaign.purpose), max(now, datetime.fromisoformat(due)))
        time.sleep(min(IDLE_POLL_S, max(0.0, (opens - now).total_seconds())) or 0.05)
        return True


def _stamp(moment: datetime) -> str:
    """A time as the database keeps it (ISO 8601, Beijing offset: text order is time order)."""
    return moment.isoformat(timespec="seconds")
