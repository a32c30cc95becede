"""One call: what each caller turn (an understood utterance or a key entry) does to its state.

The state is the function in progress (a Task), the ones left for a question in between (resumed
when it is done), the key menu position, the caller's verification, and the misses in a row. Every
function is handled alike, from its catalog entry: fill slots (several at once, corrections at any
time), check the caller's PIN where it says `verify`, confirm, run its action once through the back
end with one idempotency key, and say the outcome. A person takes over when the caller asks, on the
third miss in a row, on a locked PIN, or when the back end broke or left an outcome unknown: the call
waits in the queue (assistant/queue/), told its place and predicted wait, and may book a callback
instead (by voice, or key 2). A callback's time is the earliest the queue can keep, and an SMS says it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from adapters.base import OK, REJECTED, Outcome, action_spec, run_settled
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
    FunctionSpec,
    MenuNode,
    SlotSpec,
)
from assistant.catalog.template import render
from assistant.core.frames import IntentResult
from assistant.core.turn import Transaction, Turn
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
from assistant.dialog.task import CONFIRMATION, Task, heard_values, refused
from assistant.queue.routing import CALLBACK as BOOKED
from domain.masking import mask_numbers, tail
from domain.redaction import HIDDEN, has_digits, redact, says_pin

if TYPE_CHECKING:
    from assistant.dialog.service import Policy

log = logging.getLogger(__name__)

PIN, MENU = "pin", "menu"  # awaited besides slots and CONFIRMATION
YES_KEY, NO_KEY = "1", "2"
CALLER_REQUEST = "caller_request"  # hand-off reason when the caller presses PERSON in the key menu
NO_MATCH = "no_match"
LOCKED = "locked"
CALLBACK = "callback"  # hand-off reason of a callback booked by a caller who was not waiting
CALLBACK_ACTION = "crm.callback"  # the function with this action books callbacks through the queue
CALLBACK_KEY = "2"  # while waiting for a person: book a callback instead


@dataclass
class _Reply:
    """What one turn says and does, gathered while it is decided."""

    parts: list[str] = field(default_factory=list)
    task: Task | None = None  # the first function the turn dealt with
    transaction: Transaction | None = None
    escalation: int | None = None
    missed: bool = False


class Dialog:
    def __init__(self, policy: Policy, caller: str | None) -> None:
        self.policy = policy
        self.catalog = policy.catalog
        self.settings = policy.settings
        self.caller = caller  # the caller id (phone number) of the call, if any
        self.call_id = policy.store.open_call(caller)
        self.customer: str | None = None
        self.identify_tried = False
        self.verifying = False  # a PIN has been asked for
        self.verified = False
        self.locked = False
        self.task: Task | None = None
        self.suspended: list[Task] = []  # left for a question in between, resumed last first
        self.menu: list[MenuNode] | None = None  # the key menu path while it is open
        self.keys = ""  # keys of an entry not finished yet
        self.misses = 0
        self.ticket: int | None = None  # the hand-off ticket while the call waits for a person
        self.callback = next((f for f in self.catalog.functions.values() if f.action == CALLBACK_ACTION), None)
        self._callback_times: tuple[str | None, str] | None = None  # (preferred, planned) of one being booked
        self.transcript: list[str] = []  # redacted, for hand-off tickets
        self._seq = 0
        self._keys_made = 0
        self._reply = _Reply()
        self._intent: str | None = None

    @property
    def awaiting(self) -> str | None:
        if self.verifying:
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
        heard = "按键" + (HIDDEN if entry.secret else keys)
        self._begin(heard, None)
        self._keys_entered(keys, entry)
        return self._end(heard, None)

    def close(self) -> None:
        if self.ticket is not None:
            self.policy.queue.abandon(self.ticket)  # hung up while waiting (a no-op once taken)
        self.policy.store.close_call(self.call_id)

    # What a turn does.

    def _understand(self, result: IntentResult, heard: str, secret: bool) -> None:
        """`heard`: the utterance redacted, which is all free-text slots ever get."""
        understood = result.intent != FALLBACK and result.confidence >= self.settings.threshold
        intent = result.intent if understood else FALLBACK
        function = self.catalog.function_for(intent)
        if self.ticket is not None and not self._books_callback(function):
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
            self.task, self.suspended, self.menu, self.verifying = None, [], None, False
            self._say(self.catalog.replies[GOODBYE])
        else:
            self._say(self.catalog.replies.get(intent, self.catalog.replies[UNKNOWN_INTENT]))
            self._ask_again()

    def _keys_entered(self, keys: str, entry: Entry) -> None:
        if self.ticket is not None and self.task is None:
            if keys == CALLBACK_KEY and self.callback is not None:
                self._start(self.callback, {}, "")
            else:
                self._say(self.catalog.prompts["handoff"])
        elif self.verifying:
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
        if self.ticket is None and self.verifying:
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
        self.verifying = False  # a PIN asked for the function left behind is asked again when it resumes
        task = Task(function)
        self.task = task
        values = heard_values(function, entities, text, None)
        if function.action == CALLBACK_ACTION:
            self._callback_times = None
            number = _param_slot(function, "phone")
            if self.ticket is not None and number and self.caller:
                values.setdefault(number, self.caller)  # waiting callers are called back on their own line
        refused_slot = self._take(task, values)
        self._note(task)
        self._say(render(function.opening, self.policy.wording.slots(function, task.values)))
        self._advance(task, refused_slot)

    def _fill(self, task: Task, values: dict[str, Any]) -> None:
        self._note(task)
        self._advance(task, self._take(task, values))

    def _take(self, task: Task, values: dict[str, Any]) -> SlotSpec | None:
        """Keep the values the slots' checks allow; the first refused slot, if any."""
        first_refused = None
        for name, value in values.items():
            slot = task.function.slot(name)
            if refused(slot, value, {**task.values, **values}):
                task.clear(slot.same_as or name)  # a mismatched repeat asks for both again
                first_refused = first_refused or slot
            else:
                task.values[name] = value
        if first_refused:
            task.asking = first_refused.same_as or first_refused.name
        elif task.asking in task.values:
            task.asking = None
        return first_refused

    def _advance(self, task: Task, refused_slot: SlotSpec | None = None) -> None:
        """Say what a refused value broke, then ask what is missing, confirm, or carry it out."""
        if refused_slot is not None:
            self._say(refused_slot.invalid or self.catalog.prompts["invalid"])
        function = task.function
        if function.hours and not function.hours.open_at(self.policy.clock()):
            self._say(function.hours.closed)
            self._finish_task()
            return
        if not self._identified(function):
            return
        if function.verify and not self.verified:
            self.verifying = True
            self._say(self._pin_prompt())
            return
        slot = task.next_slot()
        if slot is not None:
            task.awaiting = slot.name
            self._say(slot.prompt)
            return
        if function.action == CALLBACK_ACTION:
            self._plan_callback(task)
        if function.confirm is not None:
            task.awaiting = CONFIRMATION
            task.key = self._new_key()
            self._say(self._confirmation(task))
        else:
            self._carry_out(task)

    def _carry_out(self, task: Task) -> None:
        self._note(task)
        function = task.function
        if function.handoff:
            self._escalate(function.handoff)
            return
        outcome = self._run(function.action, task.params(), task.key or self._new_key())
        if function.action == CALLBACK_ACTION and outcome.status == OK:
            outcome = self._book_callback(task, outcome)
        self._conclude(task, outcome)

    def _conclude(self, task: Task | None, outcome: Outcome) -> None:
        """Say the outcome, then go on as its reply says."""
        function = task.function if task else None
        reply = self.catalog.outcome_reply(function, outcome.status, outcome.reason)
        self._say(self.policy.wording.outcome(function, reply, outcome, task.values if task else {}))
        if outcome.reason == LOCKED:
            self.locked = True
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
        self.verifying = False
        if self.suspended:
            self.task = self.suspended.pop()
            self._say(render(self.catalog.prompts["resume"], {"title": self.task.function.title}))
            self._advance(self.task)
        elif self.ticket is not None:
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
        need = action_spec(function.action).customer if function.action else "none"
        need = "required" if function.verify else need
        if need != "none" and self.customer is None and self.caller and not self.identify_tried:
            outcome = self._run("banking.identify", {"phone": self.caller}, self._new_key())
            if outcome.status == OK:
                self.customer = outcome.data["customer_id"]
            self.identify_tried = outcome.status in (OK, REJECTED)
            if not self.identify_tried and need == "required":
                self._conclude(None, outcome)  # the back end broke: a person takes over
                return False
        if need == "required" and self.customer is None:
            self._say(self.catalog.prompts["unidentified"])
            self._finish_task()
            return False
        return True

    def _pin_entered(self, pin: str) -> None:
        if self._pin_too_short(pin):
            return
        outcome = self._run("banking.verify_pin", {"pin": pin}, self._new_key())
        if outcome.status == OK:
            self.verifying, self.verified = False, True
            self._say(self.catalog.prompts["verified"])
            if self.task:
                self._advance(self.task)
        elif outcome.reason == "wrong_pin":
            attempts = self.policy.wording.value(outcome.data.get("attempts_left", ""))
            self._say(render(self.catalog.prompts["pin_wrong"], {"attempts_left": attempts}))
        else:
            self.verifying = False
            self._conclude(None, outcome)

    def _pin_prompt(self) -> str:
        return render(self.catalog.prompts["pin"], {"length": str(self.settings.pin_length)})

    def _pin_too_short(self, keys: str) -> bool:
        """Says so when `keys` are not a whole PIN (that costs no attempt)."""
        if len(keys) == self.settings.pin_length:
            return False
        self._say(render(self.catalog.prompts["pin_short"], {"length": str(self.settings.pin_length)}))
        return True

    def _confirmation(self, task: Task) -> str:
        return render(task.function.confirm, self.policy.wording.slots(task.function, task.values))

    def _verification(self) -> str:
        if self.locked:
            return "locked"
        if self.verified:
            return "verified"
        return "unidentified" if self.identify_tried and self.customer is None else "unverified"

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
        if self.verifying:
            self._say(self._pin_prompt())
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
        if self.ticket is not None:  # already waiting (a callback could not be booked): it keeps its place
            self.task, self.suspended = None, []
            self._say(self.catalog.prompts["handoff"])
            return
        self.ticket = self._open_ticket(reason)
        self._reply.escalation = self.ticket
        self.task, self.suspended, self.menu, self.verifying = None, [], None, False
        log.info("call %s: put through to a person (%s), ticket %d", self.call_id, reason, self.ticket)
        prompts = self.catalog.prompts
        told = self.queue_notice(self.ticket)
        self._say(prompts["handoff"] + told + (prompts["callback_offer"] if self.callback else ""))

    def queue_notice(self, ticket: int) -> str:
        """The caller's place in the queue and predicted wait now, as said on escalation and on hold."""
        prompts = self.catalog.prompts
        wait = self.policy.forecast.wait(ticket)
        ahead = {"ahead": str(wait.ahead)} if wait.ahead else {}
        if wait.seconds is None:
            return render(prompts["queue_busy"], ahead)
        return render(prompts["queue_wait"], {**ahead, "minutes": str(max(1, round(wait.seconds / 60)))})

    def _open_ticket(self, reason: str, status: str = "waiting") -> int:
        """A hand-off ticket holding what a person needs, in the skill group of what the caller was doing."""
        # What the caller was doing: not asking for a person, but what came before.
        tasks = (self.task, *reversed(self.suspended), self._reply.task)
        task = next((t for t in tasks if t is not None and not t.function.handoff), None)
        if task:
            self._note(task)
        skill, priority = self.policy.queue.route(reason, self._skill(task))
        return self.policy.store.add_handoff(
            self.call_id, reason=reason, caller=self.caller, customer_id=self.customer,
            verification=self._verification(), function=task.function.id if task else None,
            intent=self._intent, slots=_shown(task), transcript=list(self.transcript),
            skill=skill, priority=priority, status=status)

    def _skill(self, task: Task | None) -> str:
        function = task.function if task else self.catalog.function_for(self._intent or "")
        return function.skill if function else DEFAULT_SKILL

    # Callbacks.

    def _books_callback(self, function: FunctionSpec | None) -> bool:
        """Whether a turn of a caller waiting for a person goes to booking a callback (all else waits)."""
        if self.task is not None:  # the callback being booked: its answers, yes, no
            return function is None or function is self.task.function
        return function is not None and function is self.callback

    def _plan_callback(self, task: Task) -> None:
        """The preferred time (or none: as soon as possible) becomes the earliest the queue can keep."""
        when = _param_slot(task.function, "when")
        if when is None:
            return
        said = task.values.get(when)
        if self._callback_times and said == self._callback_times[1]:
            said = self._callback_times[0]  # no new time: planned again from the one the caller said
        skill = self.policy.queue.entry(self.ticket).skill if self.ticket is not None else self._skill(task)
        planned = self.policy.callbacks.plan(skill, said, self.ticket)
        self._callback_times = (said, planned)
        task.values[when] = planned

    def _book_callback(self, task: Task, outcome: Outcome) -> Outcome:
        """The back end took the booking: the queue books it (the caller waits no more) and texts the
        time; the outcome gains `sms_phone` when the SMS went out."""
        params = task.params()
        preferred, due = self._callback_times or (None, self.policy.callbacks.plan(self._skill(task), None))
        ticket = self.ticket if self.ticket is not None else self._open_ticket(CALLBACK, status=BOOKED)
        phone = str(params["phone"])
        sent = self.policy.callbacks.book(ticket, phone, due, preferred, outcome.id)
        self.ticket, self._callback_times = None, None
        return replace(outcome, data={**outcome.data, "sms_phone": tail(phone)}) if sent else outcome

    # Running actions; turn bookkeeping.

    def _run(self, action: str, params: dict[str, Any], key: str) -> Outcome:
        customer_id = None if action_spec(action).customer == "none" else self.customer
        outcome = run_settled(self.policy.backend, action, params, customer_id=customer_id, key=key)
        self._reply.transaction = Transaction(action, outcome.status, outcome.id, outcome.reason)
        log.info("call %s: %s -> %s %s", self.call_id, action, outcome.status, outcome.reason or outcome.id or "")
        return outcome

    def _new_key(self) -> str:
        self._keys_made += 1
        return f"{self.call_id}-{self._keys_made}"

    def _note(self, task: Task) -> None:
        self._reply.task = self._reply.task or task

    def _say(self, text: str) -> None:
        self._reply.parts.append(text)

    def _begin(self, heard: str, intent: str | None) -> None:
        self._reply = _Reply()
        self._intent = intent or self._intent
        self.transcript.append(f"caller: {heard}")

    def _end(self, heard: str, intent: str | None) -> Turn:
        reply = self._reply
        if not reply.missed:
            self.misses = 0
        shown_task = reply.task or self.task
        turn = Turn(
            heard=heard, say="".join(reply.parts), intent=intent,
            function=shown_task.function.id if shown_task else None, awaiting=self.awaiting,
            slots=_shown(shown_task), transaction=reply.transaction, escalation=reply.escalation)
        self.transcript.append(f"assistant: {turn.say}")
        self._seq += 1
        self.policy.store.add_turn(self.call_id, self._seq, turn)
        log.info("call %s #%d: %s -> %s", self.call_id, self._seq, heard, turn.say)
        return turn


def _param_slot(function: FunctionSpec, param: str) -> str | None:
    """The slot that feeds an action param, if one does."""
    spec = function.params.get(param)
    return spec.slot if spec else None


def _shown(task: Task | None) -> dict[str, Any]:
    """A function's values as they may be shown and stored: PINs hidden, long numbers cut."""
    if task is None:
        return {}
    shown = {}
    for name, value in task.values.items():
        if task.function.slot(name).secret:
            shown[name] = HIDDEN
        else:
            shown[name] = mask_numbers(value) if isinstance(value, str) else value
    return shown
