"""Understood utterances and key presses → what the dialog of this call says (assistant/dialog/).

The call's first frame, CallStarted, makes the assistant speak first: the catalog's greeting on an
inbound call, `agent_call_greeting` on an outbound call dialled for an agent, or, on an outbound call that
names a function, that function's opening with the call's slots (a campaign's script, catalog.outbound, is opened as it is). An outbound call whose slots name
a hand-off ticket (a booked callback answered) waits for a person with that ticket from its first
turn on.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from assistant.catalog.catalog import Catalog
from assistant.core.dialing import TICKET
from assistant.core.frames import (
    OUTBOUND,
    CallStarted,
    DialogTurn,
    Dtmf,
    EndOfCall,
    Frame,
    IntentResult,
    ReplyText,
)
from assistant.core.pipeline import Processor
from assistant.core.turn import Turn
from assistant.dialog.dialog import Dialog


class Responder(Processor):
    def __init__(self, dialog: Dialog, catalog: Catalog) -> None:
        self.dialog = dialog
        self.catalog = catalog

    def process(self, frame: Frame) -> Iterator[Frame]:
        yield frame
        turn = None
        if isinstance(frame, CallStarted):
            turn = self._start(frame)
        elif isinstance(frame, IntentResult):
            turn = self.dialog.hear(frame)
        elif isinstance(frame, Dtmf):
            turn = self.dialog.press(frame.digit)
        elif isinstance(frame, EndOfCall):
            self.dialog.close()
        if turn is not None:
            yield DialogTurn(turn)
            yield ReplyText(turn.say)

    def _start(self, call: CallStarted) -> Turn:
        if call.start_function:
            script = self.catalog.outbound.get(call.start_function)
            if script is not None:
                return self.dialog.open(script, dict(call.slots))
            ticket = int(call.slots[TICKET]) if TICKET in call.slots else None
            if ticket is not None:  # the ticket is waiting again: hold, its place, the agent taking it
                self.dialog.handoff.ticket = ticket
            intent = self.catalog.functions[call.start_function].intents[0]
            turn = self.dialog.hear(IntentResult("", intent, 1.0, dict(call.slots), call.start_function))
            return turn if ticket is None else replace(turn, escalation=ticket)
        # An outbound call with no script was dialled for an agent (a preview or progressive campaign):
        # the customer is told who calls while the agent's phone rings, not asked what they want.
        opening = "agent_call_greeting" if call.direction == OUTBOUND else "greeting"
        return Turn(heard="", say=self.catalog.prompts[opening], intent=None, function=None, awaiting=None, slots={},
                    transaction=None, escalation=None)
