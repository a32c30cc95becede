"""The functions of one call: the one in progress and those left for a question in between (resumed
last first), each taken from its opening through its slots, the caller's identity and PIN, the
confirmation and its one back-end action to the outcome said, or to the ending that ends the call
(a function with `ends`: a campaign's script)."""
from __future__ import annotations

from typing import Any, Protocol

from adapters.base import OK, Outcome
from assistant.catalog.catalog import Catalog, FunctionSpec, SlotSpec
from assistant.catalog.template import render
from assistant.dialog.actions import Actions
from assistant.dialog.callback import CallbackBooking
from assistant.dialog.confirmation import confirmation
from assistant.dialog.record import CallRecord
from assistant.dialog.reply import Reply
from assistant.dialog.task import CONFIRMATION, Task, heard_values
from assistant.dialog.verification import LOCKED, WRONG_PIN, Verification
from assistant.dialog.wording import Wording
from domain.clock import Clock


class People(Protocol):
    """The hand-off to a person as the functions of a call use it (escalation.py Escalation)."""

    @property
    def waiting(self) -> bool: ...
    @property
    def ticket(self) -> int | None: ...
    def escalate(self, reason: str) -> None: ...
    def skill(self, task: Task | None) -> str: ...
    def waiting_skill(self) -> str | None: ...
    def callback_ticket(self) -> int: ...
    def booked(self) -> None: ...


class Agenda:
    def __init__(self, catalog: Catalog, wording: Wording, clock: Clock, reply: Reply, record: CallRecord,
                 actions: Actions, verification: Verification, callbacks: CallbackBooking, people: People) -> None:
        self.catalog = catalog
        self.wording = wording
        self.clock = clock
        self.reply = reply
        self.record = record
        self.actions = actions
        self.verification = verification
        self.callbacks = callbacks
        self.people = people
        self.task: Task | None = None
        self.suspended: list[Task] = []  # left for a question in between, resumed last first
        self.finished: Task | None = None  # the function finished last: whose people a later "转人工" goes to

    def start(self, function: FunctionSpec, entities: dict[str, Any], text: str) -> None:
        """`function` begins with the values in `entities` and `text` (a request said in one breath)."""
        self.verification.verifying = False  # a PIN asked for the function left behind is asked again when it resumes
        task = Task(function)
        self.task = task
        values = heard_values(function, entities, text, None)
        if self.callbacks.books(function):
            self.callbacks.start(values, waiting=self.people.waiting)
        refused_slot = task.take(values)
        self.reply.note(task)
        self.reply.say(render(function.opening, self.wording.slots(function, task.values)))
        self.advance(task, refused_slot)

    def put_aside(self) -> None:
        """The function in progress waits for one begun in between."""
        if self.task:
            self.suspended.append(self.task)
            self.task = None

    def fill(self, task: Task, values: dict[str, Any]) -> None:
        self.reply.note(task)
        self.advance(task, task.take(values))

    def advance(self, task: Task, refused_slot: SlotSpec | None = None) -> None:
        """Say what a refused value broke, then ask what is missing, confirm, or carry it out."""
        say = self.reply.say
        if refused_slot is not None:
            say(refused_slot.invalid or self.catalog.prompts["invalid"])
        function = task.function
        if function.hours and not function.hours.open_at(self.clock()):
            say(function.hours.closed)
            self.finish()
            return
        if not self._identified(function):
            return
        if function.verify and not self.verification.verified:
            self.verification.verifying = True
            say(self.verification.prompt())
            return
        ending = task.answered_ending()
        if ending is not None:
            self.end(task, ending)
            return
        slot = task.next_slot()
        if slot is not None:
            task.awaiting = slot.name
            say(slot.prompt)
            return
        if self.callbacks.books(function):
            self.callbacks.plan(task, self.people.waiting_skill() or self.people.skill(task), self.people.ticket)
        if function.confirm is not None:
            task.awaiting = CONFIRMATION
            task.key = self.record.new_key()
            say(confirmation(task, self.wording))
        else:
            self.carry_out(task)

    def carry_out(self, task: Task) -> None:
        self.reply.note(task)
        function = task.function
        if function.handoff:
            self.people.escalate(function.handoff)
            return
        if function.ends:
            self.end(task, next(iter(function.ends)))
            return
        outcome = self.actions.run(function.action, task.params(), self.verification.customer, task.key)
        if self.callbacks.books(function) and outcome.status == OK:
            outcome = self.callbacks.book(task, outcome, self.people.skill(task), self.people.callback_ticket)
            self.people.booked()
        self.conclude(task, outcome)

    def conclude(self, task: Task | None, outcome: Outcome) -> None:
        """Say the outcome, then go on as its reply says."""
        function = task.function if task else None
        reply = self.catalog.outcome_reply(function, outcome.status, outcome.reason)
        self.reply.say(self.wording.outcome(function, reply, outcome, task.values if task else {}))
        if outcome.reason == LOCKED:
            self.verification.locked = True
        if reply.handoff:
            self.people.escalate(reply.handoff)
        elif reply.ask and task:
            task.clear(reply.ask)
            task.asking = reply.ask
            task.key = None
            self.advance(task)
        else:
            self.finish()

    def finish(self) -> None:
        """The function in progress is over: back to the one left for it, if any."""
        if self.task is not None and not self.task.function.handoff:
            self.finished = self.task
        self.task = None
        self.verification.verifying = False
        prompts = self.catalog.prompts
        if self.suspended:
            self.task = self.suspended.pop()
            self.reply.say(render(prompts["resume"], {"title": self.task.function.title}))
            self.advance(self.task)
        elif self.people.waiting:
            self.reply.say(prompts["handoff"])  # still waiting for a person
        else:
            self.reply.say(prompts["anything_else"])

    def end(self, task: Task, ending: str) -> None:
        """The function ends the call with `ending`, said; nothing is left to do or resume: the turn
        hangs up."""
        task.ending = ending
        self.reply.note(task)
        self.reply.say(render(task.function.ends[ending], self.wording.slots(task.function, task.values)))
        self.reply.hangs_up = True
        self.finished = task
        self.leave()
        self.verification.verifying = False

    def leave(self) -> None:
        """Every function is dropped (the call goes to a person, the key menu, or it is over)."""
        self.task, self.suspended = None, []

    def done(self) -> Task | None:
        """The function the call finished last, if any."""
        return self.finished

    def doing(self) -> Task | None:
        """What the caller was doing, not asking for a person: the function in progress, else the
        latest one left, else the first this turn dealt with."""
        tasks = (self.task, *reversed(self.suspended), self.reply.task)
        return next((t for t in tasks if t is not None and not t.function.handoff), None)

    # The caller.

    def pin(self, pin: str) -> None:
        """A PIN typed for the function in progress."""
        if self.pin_too_short(pin):
            return
        outcome = self.verification.check(pin)
        if outcome.status == OK:
            self.reply.say(self.catalog.prompts["verified"])
            if self.task:
                self.advance(self.task)
        elif outcome.reason == WRONG_PIN:
            self.reply.say(self.verification.wrong(outcome))
        else:
            self.conclude(None, outcome)

    def pin_too_short(self, keys: str) -> bool:
        """Says so when `keys` are not a whole PIN (that costs no attempt)."""
        said = self.verification.too_short(keys)
        if said is not None:
            self.reply.say(said)
        return said is not None

    def _identified(self, function: FunctionSpec) -> bool:
        """Whether the function can go on as far as the caller's identity goes; if not, says why.

        The caller id is looked up once, when a function first needs or can use the customer.
        """
        need = self.verification.need(function)
        broke = self.verification.identify(need)
        if broke is not None and need == "required":
            self.conclude(None, broke)  # the back end broke: a person takes over
            return False
        if need == "required" and self.verification.customer is None:
            self.reply.say(self.catalog.prompts["unidentified"])
            self.finish()
            return False
        return True
