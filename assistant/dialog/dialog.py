"""One call: which part of the dialog each caller turn (an understood utterance or a key entry) goes to.

The parts keep their own state: the functions in progress (agenda.py, slots in task.py), the
caller's verification (verification.py), the key menu (menu.py), turns not understood (nomatch.py),
a question which of two functions was meant (askback.py), the hand-off to a person (escalation.py,
handoff.py) and a callback being booked (callback.py). Every function is handled alike, from its
catalog entry: fill slots (several at once, corrections at any time), check the caller's PIN where
it says `verify`, confirm, run its action once through the back end with one idempotency key, and
say the outcome; a campaign's script (opened by an outbound call) ends the call instead. A person takes over when the caller asks, on the third miss in a row, on a locked
PIN, or when the back end broke or left an outcome unknown: the call waits in the queue
(assistant/queue/), told its place and predicted wait, and may book a callback instead (by voice,
or key 2). A callback's time is the earliest the queue can keep, and an SMS says it.
"""
from __future__ import annotations

from typing import Any

from assistant.catalog.catalog import AFFIRM, DENY, FALLBACK, GOODBYE, INFORM, KEY_MENU, UNKNOWN_INTENT, Catalog, FunctionSpec
from assistant.core.frames import IntentResult
from assistant.core.turn import Turn
from assistant.dialog.actions import Actions
from assistant.dialog.agenda import Agenda
from assistant.dialog.askback import FUNCTION, AskBack
from assistant.dialog.callback import KEY as CALLBACK_KEY
from assistant.dialog.callback import CallbackBooking
from assistant.dialog.confirmation import answer, confirmation
from assistant.dialog.escalation import Escalation
from assistant.dialog.handoff import HandOff
from assistant.dialog.keypad import CLEAR, END, POINT, SINGLE_KEY, STAR, VOICE_ONLY, Entry, entry_for, value_from_keys
from assistant.dialog.menu import KeyMenu
from assistant.dialog.nomatch import MENU, NoMatch
from assistant.dialog.record import CallRecord
from assistant.dialog.reply import Reply
from assistant.dialog.settings import DialogSettings
from assistant.dialog.task import CONFIRMATION, Task, heard_values, yes_or_no
from assistant.dialog.verification import Verification
from assistant.dialog.wording import Wording
from domain.clock import Clock
from domain.redaction import has_digits, redact, says_pin

PIN = "pin"  # awaited besides slots, CONFIRMATION, MENU and FUNCTION


class Dialog:
    def __init__(self, catalog: Catalog, wording: Wording, settings: DialogSettings, clock: Clock,
                 record: CallRecord, actions: Actions, verification: Verification, handoff: HandOff,
                 callbacks: CallbackBooking) -> None:
        self.catalog = catalog
        self.wording = wording
        self.settings = settings
        self.record = record
        self.actions = actions
        self.verification = verification
        self.handoff = handoff
        self.callbacks = callbacks
        self.reply = Reply()
        self.people = Escalation(handoff, verification, callbacks, catalog, self.reply, self)
        self.agenda = Agenda(catalog, wording, clock, self.reply, record, actions, verification, callbacks,
                             self.people)
        self.menu = KeyMenu(catalog, self.reply, self)
        self.no_match = NoMatch(catalog.prompts, catalog.replies[FALLBACK], settings.misses, self.reply, self)
        self.asking = AskBack(catalog, settings, self.reply)
        self.keys = ""  # keys of an entry not finished yet
        self._intent: str | None = None

    @property
    def task(self) -> Task | None:
        """The function in progress."""
        return self.agenda.task

    @property
    def awaiting(self) -> str | None:
        if self.verification.verifying:
            return PIN
        if self.menu.open:
            return MENU
        if self.asking.question:
            return FUNCTION
        return self.task.awaiting if self.task else None

    def hear(self, result: IntentResult) -> Turn:
        """The reply to an understood utterance."""
        self.keys = ""
        secret = self._entry().secret
        heard = redact(result.text, secret)
        self._begin(heard, result.intent)
        self._understand(result, heard, secret)
        return self._end(heard, result.intent)

    def open(self, function: FunctionSpec, entities: dict[str, Any]) -> Turn:
        """The first turn of an outbound call that opens with `function`, knowing `entities`."""
        self._begin("", None)
        self._start(function, entities, "")
        return self._end("", None)

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

    # What a turn goes to.

    def _understand(self, result: IntentResult, heard: str, secret: bool) -> None:
        """`heard`: the utterance redacted, which is all free-text slots ever get."""
        understood = result.intent != FALLBACK and result.confidence >= self.settings.threshold
        intent = result.intent if understood else FALLBACK
        function = self.catalog.function_for(intent)
        if self.people.waiting and not self._books_callback(function):
            self._say(self.catalog.prompts["handoff"])
            return
        if says_pin(result.text) or (secret and has_digits(result.text)):
            self._say(self.catalog.prompts["pin_spoken"])  # typed, never said: refused, never used
            if not secret:
                self.ask_again()
            return
        if self.asking.question and self._answered(result, heard, intent, function):
            return
        task = self.task
        if task is None:
            torn = self.asking.torn(result)
            if torn:
                self.menu.close()
                self.asking.ask(torn, result.slots, heard)
                return
        else:
            awaited = task.awaited_slot()
            values = heard_values(task.function, result.slots, heard, awaited) or yes_or_no(awaited, intent)
            leaving = intent == DENY or (function is not None and function.handoff is not None)
            if leaving and awaited and awaited.type == "text":
                values.pop(awaited.name, None)  # "算了" cancels; it is not the complaint
            other = function is not None and function is not task.function
            if other and (result.confidence >= self.settings.switch_confidence or not values):
                if not (awaited and awaited.name in values):  # a choice phrase answering the question
                    self.agenda.put_aside()
                    self._start(function, result.slots, heard)
                    return
            if values:
                self.agenda.fill(task, values)
                return
            if function is task.function:
                self.ask_again()
                return
        self._act(intent, function, result.slots, heard)

    def _answered(self, result: IntentResult, heard: str, intent: str, function: FunctionSpec | None) -> bool:
        """An answer to which function was meant: True if it picked one. Another request or a no
        drops the question; anything else leaves it asked."""
        question = self.asking.question
        picked = self.asking.by_voice(result.text, function)
        if picked is not None:
            self._start(picked, {**question.entities, **result.slots}, "，".join((question.heard, heard)))
            return True
        if function is not None or intent in (DENY, GOODBYE, KEY_MENU):
            self.asking.drop()
        return False

    def _act(self, intent: str, function: FunctionSpec | None, entities: dict[str, Any], heard: str) -> None:
        """An utterance that gave no values for the function in progress."""
        if intent == AFFIRM:
            self._affirm()
        elif intent == DENY:
            self._deny()
        elif intent == KEY_MENU:
            self.open_menu()
        elif function is not None:
            self.agenda.put_aside()
            self._start(function, entities, heard)
        elif intent in (FALLBACK, INFORM):
            self.no_match.miss()
        elif intent == GOODBYE:  # the call is over: nothing is left waiting
            self.leave()
            self._say(self.catalog.replies[GOODBYE])
        else:
            self._say(self.catalog.replies.get(intent, self.catalog.replies[UNKNOWN_INTENT]))
            self.ask_again()

    def _keys_entered(self, keys: str, entry: Entry) -> None:
        task = self.task
        if self.people.waiting and task is None:
            if keys == CALLBACK_KEY and self.callbacks.function is not None:
                self._start(self.callbacks.function, {}, "")
            else:
                self._say(self.catalog.prompts["handoff"])
        elif self.verification.verifying:
            self.agenda.pin(keys)
        elif self.asking.question:
            question, picked = self.asking.question, self.asking.by_key(keys)
            if picked is None:
                self.no_match.miss()
            else:
                self._start(picked, question.entities, question.heard)
        elif self.menu.open or task is None:
            self.menu.key(keys)
        elif task.awaiting == CONFIRMATION:
            yes = answer(keys)
            if yes:
                self.agenda.carry_out(task)
            elif yes is None:
                self.no_match.miss()
            else:
                self._deny()
        elif entry.voice_only:
            self._say(self.catalog.prompts["voice_only"])
            self.ask_again()
        else:
            slot = task.awaited_slot()
            if slot.secret and self.agenda.pin_too_short(keys):
                return
            value = value_from_keys(slot, keys)
            if value is None:
                self.no_match.miss()
            else:
                self.agenda.fill(task, {slot.name: value})

    def _entry(self) -> Entry:
        """How keys are read now."""
        if not self.people.waiting and self.verification.verifying:
            return Entry(self.settings.pin_length, CLEAR, secret=True)
        if self.menu.open or self.task is None:
            return SINGLE_KEY
        slot = self.task.awaited_slot()
        if slot is None:
            return SINGLE_KEY  # yes / no
        return entry_for(slot, self.settings.pin_length) or VOICE_ONLY

    def _start(self, function: FunctionSpec, entities: dict[str, Any], text: str) -> None:
        self.menu.close()
        self.asking.drop()
        self.agenda.start(function, entities, text)

    def _affirm(self) -> None:
        task = self.task
        if task and task.awaiting == CONFIRMATION:
            self.agenda.carry_out(task)
        elif task or self.menu.open or self.asking.question:
            self.ask_again()  # "好的" answers no question but yes/no
        else:
            self._say(self.catalog.replies[AFFIRM])

    def _deny(self) -> None:
        if self.task:
            self._say(self.catalog.prompts["cancelled"])
            self.agenda.finish()
        else:
            self.menu.close()
            self._say(self.catalog.replies[DENY])

    def _books_callback(self, function: FunctionSpec | None) -> bool:
        """Whether a turn of a caller waiting for a person goes to booking a callback (all else waits)."""
        if self.task is not None:  # the callback being booked: its answers, yes, no
            return function is None or function is self.task.function
        return function is not None and self.callbacks.books(function)

    # What the parts ask of the call (nomatch.py Asking, menu.py Choosing, escalation.py Doing).

    def ask_again(self) -> None:
        """Say again what is awaited, if anything."""
        task = self.task
        if self.verification.verifying:
            self._say(self.verification.prompt())
        elif self.menu.open:
            self._say(self.menu.prompt())
        elif self.asking.question:
            self._say(self.asking.prompt())
        elif task and task.awaiting == CONFIRMATION:
            self._say(confirmation(task, self.wording))
        elif task and task.awaiting:
            self._say(task.function.slot(task.awaiting).prompt)

    def open_menu(self) -> None:
        self.agenda.leave()
        self.asking.drop()
        self.menu.show()

    def escalate(self, reason: str) -> None:
        self.people.escalate(reason)

    def keys_type_value(self) -> bool:
        entry = self._entry()
        return not (entry.voice_only or entry.secret or entry.length == 1)

    def start(self, function: FunctionSpec) -> None:
        self._start(function, {}, "")

    def doing(self) -> Task | None:
        return self.agenda.doing()

    def done(self) -> Task | None:
        return self.agenda.done()

    def intent(self) -> str | None:
        return self._intent

    def leave(self) -> None:
        self.agenda.leave()
        self.menu.close()
        self.asking.drop()
        self.verification.verifying = False

    # Turn bookkeeping.

    def _say(self, text: str) -> None:
        self.reply.say(text)

    def _begin(self, heard: str, intent: str | None) -> None:
        self.reply.begin()
        self.actions.transaction = None
        self._intent = intent or self._intent
        self.record.heard(heard)

    def _end(self, heard: str, intent: str | None) -> Turn:
        self.no_match.end_turn()
        shown_task = self.reply.task or self.task
        turn = Turn(
            heard=heard, say=self.reply.text, intent=intent,
            function=shown_task.function.id if shown_task else None, awaiting=self.awaiting,
            slots=shown_task.shown() if shown_task else {}, transaction=self.actions.transaction,
            escalation=self.reply.escalation, hangs_up=self.reply.hangs_up)
        self.record.said(turn)
        return turn
