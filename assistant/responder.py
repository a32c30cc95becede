"""IntentResult → the assistant's reply, decided by the dialog policy over the function catalog."""
from __future__ import annotations

from collections.abc import Iterator

from assistant.frames import Frame, IntentResult, ReplyText
from assistant.pipeline import Processor
from assistant.policy import Policy, Turn


class Responder(Processor):
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.last_turn: Turn | None = None

    def process(self, frame: Frame) -> Iterator[Frame]:
        yield frame
        if isinstance(frame, IntentResult):
            self.last_turn = self.policy.respond(frame.intent, frame.confidence, frame.slots)
            yield ReplyText(self.last_turn.say)
