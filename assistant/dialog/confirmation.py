"""Yes or no to a function put to the caller before its action runs: by voice (affirm, deny) or keys."""
from __future__ import annotations

from assistant.catalog.template import render
from assistant.dialog.task import Task
from assistant.dialog.wording import Wording

YES_KEY, NO_KEY = "1", "2"


def confirmation(task: Task, wording: Wording) -> str:
    """The function's confirmation, naming what it does and the values it does it with."""
    return render(task.function.confirm, wording.slots(task.function, task.values))


def answer(keys: str) -> bool | None:
    """Yes, no, or neither by keys."""
    return {YES_KEY: True, NO_KEY: False}.get(keys)
