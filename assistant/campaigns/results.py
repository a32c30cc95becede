"""What an answered campaign call came to, read from the turns the call store kept of it.

The call opens with its purpose's function (a script of intents/campaigns.yml), which fills slots as
the customer answers (satisfaction 1-5, and whatever else the script asks) and ends the call with one
of its endings, which its last turn keeps as the slot ENDING: completed, refused (the customer asked
not to be called) or wrong_person (the right-party check failed). A call whose turns never reached an
ending was answered but not finished (hung up mid-survey). Only the turns of the function the call
opened with count (not those of a request made in between); slot values are redacted as every turn's are.
"""
from __future__ import annotations

import json

from assistant.campaigns.runner import ANSWERED, ANSWERED_OUTCOMES, Answered
from assistant.catalog.catalog import ENDING
from assistant.core.errors import AssistantError
from assistant.storage.database import Database


class RecordedCalls:
    def __init__(self, db: Database) -> None:
        """`db`: the call store's database (assistant/storage/calls.py), holding the `turns` table."""
        self.db = db

    def result(self, call_id: str) -> Answered:
        answers: dict[str, str] = {}
        rows = self.db.rows("SELECT slots FROM turns WHERE call_id = ? AND function = (SELECT function FROM turns "
                            "WHERE call_id = ? ORDER BY seq LIMIT 1) ORDER BY seq", (call_id, call_id))
        for row in rows:
            answers.update(json.loads(row["slots"]))
        outcome = answers.pop(ENDING, ANSWERED)
        if outcome not in ANSWERED_OUTCOMES:
            raise AssistantError(f"call {call_id}: ending {outcome!r} is not one of {', '.join(ANSWERED_OUTCOMES)}")
        return Answered(outcome, answers)
