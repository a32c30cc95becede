"""What one caller turn says and does, gathered while it is decided by the parts of the dialog."""
from __future__ import annotations

from dataclasses import dataclass, field

from assistant.dialog.task import Task


@dataclass
class Reply:
    """One per call, begun afresh at every caller turn; each part of the dialog adds to it."""

    parts: list[str] = field(default_factory=list)
    task: Task | None = None  # the first function the turn dealt with
    escalation: int | None = None  # the hand-off ticket the turn opened
    missed: bool = False  # the turn was not understood
    hangs_up: bool = False  # the turn ends the call (a function's ending was said)

    def begin(self) -> None:
        self.parts, self.task, self.escalation, self.missed, self.hangs_up = [], None, None, False, False

    def say(self, text: str) -> None:
        self.parts.append(text)

    def note(self, task: Task) -> None:
        self.task = self.task or task

    @property
    def text(self) -> str:
        return "".join(self.parts)
