"""Understood utterances and key presses → what the dialog of this call says (assistant/dialog/).

The call's first frame, CallStarted, makes the assistant speak first: the catalog's greeting on an
inbound call, or, on an outbound call that names a function, that function's opening.
"""
from __future__ import annotations

from collections.abc import Iterator

from assistant.catalog.catalog import Catalog
from assistant.core.frames import (
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
            intent = self.catalog.functions[call.start_function].intents[0]
            return self.dialog.hear(IntentResult("", intent, 1.0, {}, call.start_function))
        return Turn(heard="", say=self.catalog.prompts["greeting"], intent=None, function=None, awaiting=None, slots={},
                    transaction=None, escalation=None)
