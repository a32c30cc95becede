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
it becomes final (and the customer is told by the purpose's `unreached` methods, channels.py: a text,
an e-mail, a letter, each archived as an attempt of its own); a completed survey is the result (a later
success overwrites a provisional no answer), and an unhappy one opens a complaint ticket; an answered
call that did not finish the survey is "unfinished" and opens one too; a refusal ends the contact and
lists the number as the purpose's rule says; a wrong person ends the contact.
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

from assistant.campaigns.agents import AGENT, DIAL, FOR_AGENTS, PREVIEW, SKIP, AgentDesks
from assistant.campaigns.rules import RETRIED, CallingRules, Purpose
from assistant.campaigns.store import DONE, DUE, NOT_SENT, PHONE, Attempt, Campaign, CampaignStore, Contact, Progress
from assistant.core.dialing import TICKET, Dialed, Dialer, OutboundCall
from assistant.core.errors import AssistantError
from assistant.queue.routing import AVAILABLE, AWAY
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
# Campaigns dialled for agents (agents.py): a preview's attempt (method), the agent skipped it or left it
# undecided (outcomes); the result of a contact whose answered call went to the agent.
PREVIEWED, SKIPPED, HANDED_BACK, TO_AGENT = "preview", "skipped", "handed_back", "to_agent"
STALE_MARGIN_S = 120.0  # a reservation this long past its preview and ring time: its runner stopped
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
    """How a customer every call missed is told (channels.py Channels): the attempt a method came to."""

    def send(self, method: str, contact: Contact) -> Attempt: ...


class Complaints(Protocol):
    """Where unhappy results go: the hand-off queue (assistant/queue/handoff.py HandOffQueue)."""

    def open_ticket(self, call_id: str, reason: str, skill: str, **details: Any) -> int: ...


class Runner:
    def __init__(self, store: CampaignStore, rules: CallingRules, dialer: Dialer, calls: AnsweredCalls,
                 complaints: Complaints, clock: Clock, ring_timeout_s: float = 30.0,
                 notices: Notices | None = None, desks: AgentDesks | None = None) -> None:
        self.store = store
        self.rules = rules
        self.dialer = dialer
        self.calls = calls
        self.complaints = complaints
        self.clock = clock
        self.ring_timeout_s = ring_timeout_s
        self.notices = notices
        self.desks = desks  # the agents preview and progressive campaigns are dialled for

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

    def dial(self, campaign: Campaign, contact: Contact, agent: str | None = None) -> Progress:
        """Calls the contact and records the attempt; where the contact stands after it. Dialled for a
        reserved `agent`, the answered call is the agent's (no script), as a ticket with the contact's context."""
        purpose = self.rules.purpose(campaign.purpose)
        context = {COMPLAINT_TICKET if key == TICKET else key: value for key, value in contact.context.items()}
        call = OutboundCall(contact.phone, purpose.name, None if agent else purpose.function,
                            {**context, "campaign": campaign.name, "contact": str(contact.id)}
                            | ({AGENT: agent} if agent else {}))
        dialed = self.dialer.originate(call, self.ring_timeout_s)
        answered = self.calls.result(dialed.call_id) if dialed.outcome == ANSWERED else None
        outcome = answered.outcome if answered else dialed.outcome
        attempt = Attempt(PHONE, outcome, answered.answers if answered else {}, dialed.call_id or None,
                          dialed.sip_status, dialed.talked_s, dialed.detail, answered.recording if answered else None)
        now = self.clock()
        if agent is not None and self.desks is not None and answered is not None:
            # handed over as the call was opened; a dialer that could not do it leaves it to now: the agent
            # calls the customer back with the context rather than nobody seeing it
            if self.desks.ticket(agent) is None:
                self.desks.hand_over(dialed.call_id, call.slots)
            progress = Progress(DONE, TO_AGENT, final=True, ticket=self.desks.ticket(agent))
        else:
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
        if self.desks is not None and campaign.mode in FOR_AGENTS:
            # what a runner that stopped left reserved: long past any preview and ring
            self.desks.release_stale(campaign, self.desks.settings.preview_s + self.ring_timeout_s + STALE_MARGIN_S)
        placed = 0
        count = threading.Lock()

        def line() -> None:
            nonlocal placed
            while not stop():
                dialled = self.turn(campaign)
                if dialled is not None:
                    with count:
                        placed += dialled
                elif until_idle or not self._wait(campaign):
                    return

        with ThreadPoolExecutor(lines, thread_name_prefix=f"campaign-{campaign.name}") as pool:
            for future in [pool.submit(line) for _ in range(lines)]:
                future.result()
        return placed

    def turn(self, campaign: Campaign) -> int | None:
        """One dial decision in the campaign's mode: the calls placed (0: a preview skipped or handed back),
        None when nothing is to be dialled now (nobody due, or no agent of the purpose's skill free)."""
        if campaign.mode not in FOR_AGENTS:
            contact = self.next_contact(campaign)
            if contact is None:
                return None
            self.dial(campaign, contact)
            return 1
        if self.desks is None:
            raise AssistantError(f"campaign {campaign.name} is dialled for agents ({campaign.mode}): no desk given")
        skill = self.desks.settings.skill(self.rules.purpose(campaign.purpose))
        if not self.desks.free(skill):
            return None
        contact = self.next_contact(campaign)
        if contact is None:
            return None
        agent = self.desks.reserve(skill, campaign, contact)
        if agent is None:  # a desk or another runner had the agent first
            self.store.defer(contact.id, _stamp(self.clock()))
            return None
        after = AVAILABLE
        try:
            decision = self.desks.decision(agent) if campaign.mode == PREVIEW else DIAL
            if decision == DIAL:
                self.dial(campaign, contact, agent)
                return 1
            after = self._not_dialled(contact, agent, decision)
            return 0
        finally:
            self.desks.release(agent, after)

    def _not_dialled(self, contact: Contact, agent: str, decision: str) -> str:
        """A preview skipped: the contact is closed as `skipped` (the agent judged the customer is not to be
        called, e.g. the complaint was settled meanwhile), the agent available. Left undecided: handed back,
        due again for the next free agent, and the agent away (not at the desk). The agent's state after it."""
        now = _stamp(self.clock())
        with self.store.db.write():
            self.store.archive(contact, Attempt(PREVIEWED, SKIPPED if decision == SKIP else HANDED_BACK,
                                                {AGENT: agent}), now)
            if decision == SKIP:
                self.store.close(contact.id, SKIPPED)
            else:
                self.store.defer(contact.id, now)
        log.info("campaign contact %d: %s by %s", contact.id, "skipped" if decision == SKIP else "handed back", agent)
        return AVAILABLE if decision == SKIP else AWAY

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
        """A contact every call missed is told by each of the purpose's `unreached` methods, an attempt each."""
        if self.notices is None:
            return
        for method in purpose.unreached:
            attempt = self.notices.send(method, contact)
            self.store.archive(contact, attempt, _stamp(now))
            if attempt.outcome == NOT_SENT:
                log.warning("campaign contact %d: %s not sent: %s", contact.id, method, attempt.detail)

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
        # dialled for agents, a contact due now waits for one to be free: looked for every poll_s
        floor = self.desks.settings.poll_s if self.desks and campaign.mode in FOR_AGENTS else 0.05
        time.sleep(min(IDLE_POLL_S, max(0.0, (opens - now).total_seconds())) or floor)
        return True


def _stamp(moment: datetime) -> str:
    """A time as the database keeps it (ISO 8601, Beijing offset: text order is time order)."""
    return moment.isoformat(timespec="seconds")
