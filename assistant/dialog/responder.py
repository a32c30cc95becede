"""Understood utterances and key presses → what the dialog of this call says (assistant/dialog/)."""
from __future__ import annotations

from collections.abc import Iterator

from assistant.core.frames import DialogTurn, Dtmf, EndOfCall, Frame, IntentResult, ReplyText
from assistant.core.pipeline import Processor
from assistant.dialog.dialog import Dialog


class Responder(Processor):
    def __init__(self, dialog: Dialog) -> None:
        self.dialog = dialog

    def process(self, frame: Frame) -> Iterator[Frame]:
        yield frame
        turn = None
        if isinstance(frame, IntentResult):
            turn = self.dialog.hear(frame)
        elif isinstance(frame, Dtmf):
            turn = self.dialog.press(frame.digit)
        elif isinstance(frame, EndOfCall):
            self.dialog.close()
        if turn is not None:
            yield DialogTurn(turn)
            yield ReplyText(turn.say)
