"""One call: what each caller turn (an understood utterance or a key entry) does to its state.

The state is the function in progress (a Task, task.py), the ones left for a question in between
(resumed when it is done), the key menu position, the caller's verification (verification.py), the
hand-off ticket (handoff.py), a callback being booked (callback.py) and the misses in a row. Every
function is handled alike, from its catalog entry: fill slots (several at once, corrections at any
time), check the caller's PIN where it says `verify`, confirm, run its action once through the back
end with one idempotency key, and say the outcome. A person takes over when the caller asks, on the
third miss in a row, on a locked PIN, or when the back end broke or left an outcome unknown: the call
waits in the queue (assistant/queue/), told its place and predicted wait, and may book a callback
instead (by voice, or key 2). A callback's time is the earliest the queue can keep, and an SMS says it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from adapters.base import OK, Outcome
from assistant.catalog.catalog import (
    AFFIRM,
    DEFAULT_SKILL,
    DENY,
    FALLBACK,
    GOODBYE,
    INFORM,
    KEY_MENU,
    MENU_KEYS,
    UNKNOWN_INTENT,
    Catalog,
    FunctionSpec,
    MenuNode,
    SlotSpec,
)
from assistant.catalog.template import render
from assistant.core.frames import IntentResult
from assistant.core.turn import Turn
from assistant.dialog.actions import Actions
from assistant.dialog.callback import KEY as CALLBACK_KEY
from assistant.dialog.callback import CallbackBooking
from assistant.dialog.handoff import HandOff
from assistant.dialog.keypad import (
    CLEAR,
    END,
    PERSON,
    POINT,
    SINGLE_KEY,
    STAR,
    VOICE_ONLY,
    Entry,
    entry_for,
    menu_prompt,
    value_from_keys,
)
from assistant.dialog.record import CallRecord
from assistant.dialog.settings import DialogSettings
from assistant.dialog.task import CONFIRMATION, Task, heard_values
from assistant.dialog.verification import WRONG_PIN, Verification
from assistant.dialog.wording import Wording
from assistant.storage.tickets import CALLBACK as BOOKED
from assistant.storage.tickets import WAITING
from domain.clock import Clock
from domain.redaction import has_digits, redact, says_pin

log = logging.getLogger(__name__)

PIN, MENU = "pin", "menu"  # awaited besides slots and CONFIRMATION
YES_KEY, NO_KEY = "1", "2"
CALLER_REQUEST = "caller_request"  # hand-off reason when the caller presses PERSON in the key menu
NO_MATCH = "no_match"
LOCKED = "locked"
CALLBACK = "callback"  # hand-off reason of a callback booked by a caller who was not waiting


@dataclass
class _Reply:
    """What one turn says and does, gathered while it is decided."""

    parts: list[str] = field(default_factory=list)
    task: Task | None = None  # the first function the turn dealt with
    escalation: int | None = None
    missed: bool = False


class Dialog:
    """The coordinator of one call: each part keeps its own state (verification.py, handoff.py,
    callback.py, task.py for slots), and the dialog decides which one a turn goes to."""

    def __init__(self, catalog: Catalog, wording: Wording, settings: DialogSettings, clock: Clock,
                 record: CallRecord, actions: Actions, verification: Verification, handoff: HandOff,
                 callbacks: CallbackBooking) -> None:
        self.catalog = catalog
        self.wording = wording
        self.settings = settings
        self.clock = clock
        self.record = record
        self.actions = actions
        self.verification = verification
        self.handoff = handoff
        self.callbacks = callbacks
        self.task: Task | None = None
        self.suspended: list[Task] = []  # left for a question in between, resumed last first
        self.menu: list[MenuNode] | None = None  # the key menu path while it is open
        self.keys = ""  # keys of an entry not finished yet
        self.misses = 0
        self._reply = _Reply()
        self._intent: str | None = None

    @property
    def awaiting(self) -> str | None:
        if self.verification.verifying:
            return PIN
        if self.menu is not None:
            return MENU
        return self.task.awaiting if self.task else None

    def hear(self, result: IntentResult) -> Turn:
        """The reply to an understood utterance."""
        self.keys = ""
        secret = self._entry().secret
        heard = redact(result.text, secret)
        self._begin(heard, result.intent)
        self._understand(result, heard, secret)
        return self._end(heard, result.intent)

    def press(self, key: str) -> Turn | None:
        """One key pressed; the reply once it ends an entry, else None."""
        entry = self._entry()
        if key == END:
            if not self.keys:
                return None
        elif key == STAR and entry.star == POINT:
            self.keys += "."
        elif key == STAR and entry.star == CLEAR:
            self.keys = ""
        else:
            self.keys += key
        if key != END and (entry.length is None or len(self.keys) < entry.length):
            return None
        keys, self.keys = self.keys, ""
        heard = "按键" + redact(keys, entry.secret)  # keyed numbers masked as said ones are
        self._begin(heard, None)
        self._keys_entered(keys, entry)
        return self._end(heard, None)

    def close(self) -> None:
        self.handoff.hung_up()
        self.record.close()

    def queue_notice(self, ticket: int) -> str:
        """The caller's place in the queue and predicted wait now (said again on hold)."""
        return self.handoff.notice(ticket)

    # What a turn does.

    def _understand(self, result: IntentResult, heard: str, secret: bool) -> None:
        """`heard`: the utterance redacted, which is all free-text slots ever get."""
        understood = result.intent != FALLBACK and result.confidence >= self.settings.threshold
        intent = result.intent if understood else FALLBACK
        function = self.catalog.function_for(intent)
        if self.handoff.ticket is not None and not self._books_callback(function):
            self._say(self.catalog.prompts["handoff"])
            return
        if says_pin(result.text) or (secret and has_digits(result.text)):
            self._say(self.catalog.prompts["pin_spoken"])  # typed, never said: refused, never used
            if not secret:
                self._ask_again()
            return
        task = self.task
        if task:
            awaited = task.awaited_slot()
            values = heard_values(task.function, result.slots, heard, awaited)
            leaving = intent == DENY or (function is not None and function.handoff is not None)
            if leaving and awaited and awaited.type == "text":
                values.pop(awaited.name, None)  # "算了" cancels; it is not the complaint
            other = function is not None and function is not task.function
            if other and (result.confidence >= self.settings.switch_confidence or not values):
                if not (awaited and awaited.name in values):  # a choice phrase answering the question
                    self.suspended.append(task)
                    self.task = None
                    self._start(function, result.slots, heard)
                    return
            if values:
                self._fill(task, values)
                return
            if function is task.function:
                self._ask_again()
                return
        self._act(intent, function, result.slots, heard)

    def _act(self, intent: str, function: FunctionSpec | None, entities: dict[str, Any], heard: str) -> None:
        """An utterance that gave no values for the function in progress."""
        if intent == AFFIRM:
            self._affirm()
        elif intent == DENY:
            self._deny()
        elif intent == KEY_MENU:
            self._open_menu()
        elif function is not None:
            if self.task:
                self.suspended.append(self.task)
            self._start(function, entities, heard)
        elif intent in (FALLBACK, INFORM):
            self._miss()
        elif intent == GOODBYE:  # the call is over: nothing is left waiting
            self.task, self.suspended, self.menu, self.verification.verifying = None, [], None, False
            self._say(self.catalog.replies[GOODBYE])
        else:
            self._say(self.catalog.replies.get(intent, self.catalog.replies[UNKNOWN_INTENT]))
            self._ask_again()

    def _keys_entered(self, keys: str, entry: Entry) -> None:
        if self.handoff.ticket is not None and self.task is None:
            if keys == CALLBACK_KEY and self.callbacks.function is not None:
                self._start(self.callbacks.function, {}, "")
            else:
                self._say(self.catalog.prompts["handoff"])
        elif self.verification.verifying:
            self._pin_entered(keys)
        elif self.menu is not None or self.task is None:
            self._menu_key(keys)
        elif self.task.awaiting == CONFIRMATION:
            if keys == YES_KEY:
                self._carry_out(self.task)
            elif keys == NO_KEY:
                self._deny()
            else:
                self._miss()
        elif entry.voice_only:
            self._say(self.catalog.prompts["voice_only"])
            self._ask_again()
        else:
            slot = self.task.awaited_slot()
            if slot.secret and self._pin_too_short(keys):
                return
            value = value_from_keys(slot, keys)
            if value is None:
                self._miss()
            else:
                self._fill(self.task, {slot.name: value})

    def _entry(self) -> Entry:
        """How keys are read now."""
        if self.handoff.ticket is None and self.verification.verifying:
            return Entry(self.settings.pin_length, CLEAR, secret=True)
        if self.menu is not None or self.task is None:
            return SINGLE_KEY
        slot = self.task.awaited_slot()
        if slot is None:
            return SINGLE_KEY  # yes / no
        return entry_for(slot, self.settings.pin_length) or VOICE_ONLY

    # Functions.

    def _start(self, function: FunctionSpec, entities: dict[str, Any], text: str) -> None:
        self.menu = None
        self.verification.verifying = False  # a PIN asked for the function left behind is asked again when it resumes
        task = Task(function)
        self.task = task
        values = heard_values(function, entities, text, None)
        if self.callbacks.books(function):
            self.callbacks.start(values, waiting=self.handoff.ticket is not None)
        refused_slot = task.take(values)
        self._note(task)
        self._say(render(function.opening, self.wording.slots(function, task.values)))
        self._advance(task, refused_slot)

    def _fill(self, task: Task, values: dict[str, Any]) -> None:
        self._note(task)
        self._advance(task, task.take(values))

    def _advance(self, task: Task, refused_slot: SlotSpec | None = None) -> None:
        """Say what a refused value broke, then ask what is missing, confirm, or carry it out."""
        if refused_slot is not None:
            self._say(refused_slot.invalid or self.catalog.prompts["invalid"])
        function = task.function
        if function.hours and not function.hours.open_at(self.clock()):
            self._say(function.hours.closed)
            self._finish_task()
            return
        if not self._identified(function):
            return
        if function.verify and not self.verification.verified:
            self.verification.verifying = True
            self._say(self.verification.prompt())
            return
        slot = task.next_slot()
        if slot is not None:
            task.awaiting = slot.name
            self._say(slot.prompt)
            return
        if self.callbacks.books(function):
            self.callbacks.plan(task, self.handoff.skill() or self._skill(task), self.handoff.ticket)
        if function.confirm is not None:
            task.awaiting = CONFIRMATION
            task.key = self.record.new_key()
            self._say(self._confirmation(task))
        else:
            self._carry_out(task)

    def _carry_out(self, task: Task) -> None:
        self._note(task)
        function = task.function
        if function.handoff:
            self._escalate(function.handoff)
            return
        outcome = self.actions.run(function.action, task.params(), self.verification.customer, task.key)
        if self.callbacks.books(function) and outcome.status == OK:
            outcome = self.callbacks.book(task, outcome, self._skill(task), self._callback_ticket)
            self.handoff.ticket = None  # booked: the caller waits no more
        self._conclude(task, outcome)

    def _conclude(self, task: Task | None, outcome: Outcome) -> None:
        """Say the outcome, then go on as its reply says."""
        function = task.function if task else None
        reply = self.catalog.outcome_reply(function, outcome.status, outcome.reason)
        self._say(self.wording.outcome(function, reply, outcome, task.values if task else {}))
        if outcome.reason == LOCKED:
            self.verification.locked = True
        if reply.handoff:
            self._escalate(reply.handoff)
        elif reply.ask and task:
            task.clear(reply.ask)
            task.asking = reply.ask
            task.key = None
            self._advance(task)
        else:
            self._finish_task()

    def _finish_task(self) -> None:
        """The function in progress is over: back to the one left for it, if any."""
        self.task = None
        self.verification.verifying = False
        if self.suspended:
            self.task = self.suspended.pop()
            self._say(render(self.catalog.prompts["resume"], {"title": self.task.function.title}))
            self._advance(self.task)
        elif self.handoff.ticket is not None:
            self._say(self.catalog.prompts["handoff"])  # still waiting for a person
        else:
            self._say(self.catalog.prompts["anything_else"])

    def _affirm(self) -> None:
        if self.task and self.task.awaiting == CONFIRMATION:
            self._carry_out(self.task)
        elif self.task or self.menu is not None:
            self._ask_again()  # "好的" answers no question but yes/no
        else:
            self._say(self.catalog.replies[AFFIRM])

    def _deny(self) -> None:
        if self.task:
            self._say(self.catalog.prompts["cancelled"])
            self._finish_task()
        else:
            self.menu = None
            self._say(self.catalog.replies[DENY])

    # The caller.

    def _identified(self, function: FunctionSpec) -> bool:
        """Whether the function can go on as far as the caller's identity goes; if not, says why.

        The caller id is looked up once, when a function first needs or can use the customer.
        """
        need = self.verification.need(function)
        broke = self.verification.identify(need)
        if broke is not None and need == "required":
            self._conclude(None, broke)  # the back end broke: a person takes over
            return False
        if need == "required" and self.verification.customer is None:
            self._say(self.catalog.prompts["unidentified"])
            self._finish_task()
            return False
        return True

    def _pin_entered(self, pin: str) -> None:
        if self._pin_too_short(pin):
            return
        outcome = self.verification.check(pin)
        if outcome.status == OK:
            self._say(self.catalog.prompts["verified"])
            if self.task:
                self._advance(self.task)
        elif outcome.reason == WRONG_PIN:
            self._say(self.verification.wrong(outcome))
        else:
            self._conclude(None, outcome)

    def _pin_too_short(self, keys: str) -> bool:
        """Says so when `keys` are not a whole PIN (that costs no attempt)."""
        said = self.verification.too_short(keys)
        if said is not None:
            self._say(said)
        return said is not None

    def _confirmation(self, task: Task) -> str:
        return render(task.function.confirm, self.wording.slots(task.function, task.values))

    # Misses, the key menu, people.

    def _miss(self) -> None:
        self.misses += 1
        self._reply.missed = True
        prompts = self.catalog.prompts
        if self.misses >= self.settings.misses:
            self._say(prompts["sorry"])
            self._escalate(NO_MATCH)
            return
        awaiting = self.awaiting
        if self.misses == 1:
            if awaiting is None:
                self._say(self.catalog.replies[FALLBACK])
            else:
                self._say(prompts["sorry"])
                self._ask_again()
            return
        # The second miss in a row: offer keys.
        if awaiting == CONFIRMATION:
            self._say(prompts["sorry"] + prompts["confirm_again"])
        elif awaiting in (None, MENU):
            self._say(prompts["sorry"])
            self._open_menu()
        else:
            self._say(prompts["sorry"])
            self._ask_again()
            entry = self._entry()
            if not (entry.voice_only or entry.secret or entry.length == 1):
                self._say(prompts["key_entry"])

    def _ask_again(self) -> None:
        """Say again what is awaited, if anything."""
        task = self.task
        if self.verification.verifying:
            self._say(self.verification.prompt())
        elif self.menu is not None:
            self._say(menu_prompt(self.catalog, self.menu[-1]))
        elif task and task.awaiting == CONFIRMATION:
            self._say(self._confirmation(task))
        elif task and task.awaiting:
            self._say(task.function.slot(task.awaiting).prompt)

    def _open_menu(self) -> None:
        self.task, self.suspended, self.menu = None, [], [self.catalog.menu]
        self._say(menu_prompt(self.catalog, self.catalog.menu))

    def _menu_key(self, key: str) -> None:
        self.menu = self.menu or [self.catalog.menu]
        node = self.menu[-1]
        index = MENU_KEYS.find(key) if len(key) == 1 else -1
        if key == PERSON:
            self._escalate(CALLER_REQUEST)
        elif key == STAR:
            if len(self.menu) > 1:
                self.menu.pop()
            self._say(menu_prompt(self.catalog, self.menu[-1]))
        elif 0 <= index < len(node.children):
            child = node.children[index]
            if child.function:
                self._start(self.catalog.functions[child.function], {}, "")
            else:
                self.menu.append(child)
                self._say(menu_prompt(self.catalog, child))
        else:
            self._say(self.catalog.prompts["menu_invalid"] + menu_prompt(self.catalog, node))

    def _escalate(self, reason: str) -> None:
        """Put the call through to a person: it waits in the queue, told its place and predicted wait."""
        if self.handoff.ticket is not None:  # already waiting (a callback could not be booked): it keeps its place
            self.task, self.suspended = None, []
            self._say(self.catalog.prompts["handoff"])
            return
        ticket = self.handoff.ticket = self._open_ticket(reason)
        self._reply.escalation = ticket
        self.task, self.suspended, self.menu, self.verification.verifying = None, [], None, False
        log.info("call %s: put through to a person (%s), ticket %d", self.record.call_id, reason, ticket)
        prompts = self.catalog.prompts
        told = self.handoff.notice(ticket)
        self._say(prompts["handoff"] + told + (prompts["callback_offer"] if self.callbacks.function else ""))

    def _open_ticket(self, reason: str, status: str = WAITING) -> int:
        """A hand-off ticket in the skill group of what the caller was doing: not asking for a person,
        but what came before."""
        tasks = (self.task, *reversed(self.suspended), self._reply.task)
        task = next((t for t in tasks if t is not None and not t.function.handoff), None)
        if task:
            self._note(task)
        verification = self.verification
        return self.handoff.open(reason, self._skill(task), task, self._intent, verification.customer,
                                 verification.status, status)

    def _skill(self, task: Task | None) -> str:
        function = task.function if task else self.catalog.function_for(self._intent or "")
        return function.skill if function else DEFAULT_SKILL

    def _books_callback(self, function: FunctionSpec | None) -> bool:
        """Whether a turn of a caller waiting for a person goes to booking a callback (all else waits)."""
        if self.task is not None:  # the callback being booked: its answers, yes, no
            return function is None or function is self.task.function
        return function is not None and self.callbacks.books(function)

    def _callback_ticket(self) -> int:
        """The ticket a booked callback goes with: the caller's own if they wait, else a new one."""
        if self.handoff.ticket is not None:
            return self.handoff.ticket
        return self._open_ticket(CALLBACK, status=BOOKED)

    # Turn bookkeeping.

    def _note(self, task: Task) -> None:
        self._reply.task = self._reply.task or task

    def _say(self, text: str) -> None:
        self._reply.parts.append(text)

    def _begin(self, heard: str, intent: str | None) -> None:
        self._reply = _Reply()
        self.actions.transaction = None
        self._intent = intent or self._intent
        self.record.heard(heard)

    def _end(self, heard: str, intent: str | None) -> Turn:
        reply = self._reply
        if not reply.missed:
            self.misses = 0
        shown_task = reply.task or self.task
        turn = Turn(
            heard=heard, say="".join(reply.parts), intent=intent,
            function=shown_task.function.id if shown_task else None, awaiting=self.awaiting,
            slots=shown_task.shown() if shown_task else {}, transaction=self.actions.transaction,
            escalation=reply.escalation)
        self.record.said(turn)
        return turn
