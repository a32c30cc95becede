"""Labelled examples to test the NLU on: a held-out TSV file, or intents in Rasa NLU YAML.

TSV: a header and the columns text, intent, slots_json (a JSON object of canonical slot values,
compared as written) and optionally now: the moment relative times are counted from (empty: when
the test runs). Write `when` as the assistant does, an ISO 8601 local datetime to the second:
一个小时以后 said at 2026-01-05T09:00:00 is 2026-01-05T10:00:00.

Rasa YAML: intents with their examples, entities annotated as in nlu_data/ ([茅台](stock),
[两千]{"entity": "amount", "value": "2000"}). The expected slots are the annotations made canonical
by the assistant's own rules (slots.py) when the example is tested, so a relative time such as
[半小时以后](when) means half an hour after the test.

`out_of_scope` is expected as nlu_fallback, which is how the assistant reports it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.catalog.catalog import FALLBACK, OUT_OF_SCOPE
from assistant.core.errors import AssistantError
from assistant.nlu.eval.tsvfile import json_object, read_tsv
from assistant.nlu.slots import canonical_slots
from domain.nlu_data import Entry, parse_example, read_items
from domain.vocabulary import Vocabulary
from domain.yamlfile import file_error

TSV_COLUMNS = ("text", "intent", "slots_json")


@dataclass(frozen=True)
class Example:
    """A text and the intent and slots the assistant should find in it."""

    text: str
    intent: str
    slots: dict[str, Any] = field(default_factory=dict)  # as written (TSV)
    entities: tuple[dict[str, Any], ...] = ()  # as annotated (YAML): made canonical when tested
    now: datetime | None = None  # when it is said; None: at the test

    def expected_slots(self, vocabulary: Vocabulary, now: datetime) -> dict[str, Any]:
        if not self.entities:
            return dict(self.slots)
        # no text: the annotations only, not what the assistant's backstop would find in the text
        return canonical_slots([dict(e) for e in self.entities], "", vocabulary, now)


def read_holdout(path: Path) -> list[Example]:
    if not path.is_file():
        raise AssistantError(f"{path}: no such file")
    if path.suffix in (".yml", ".yaml"):
        examples = [annotated(item.name, entry) for item in read_items(path, path) if item.kind == "intent" for entry in item.entries]
    else:
        examples = [_written(path, line, row) for line, row in read_tsv(path, TSV_COLUMNS)]
    if not examples:
        raise AssistantError(f"{path}: holds no examples")
    return examples


def _written(path: Path, line: int, row: dict[str, str]) -> Example:
    slots = json_object(path, line, "slots_json", row["slots_json"])
    try:
        now = datetime.fromisoformat(row["now"]) if row.get("now") else None
    except ValueError as error:
        raise AssistantError(f"{path}:{line}: now must be an ISO 8601 datetime such as 2026-01-05T09:00:00") from error
    return Example(row["text"], _expected(row["intent"]), slots, now=now)


def annotated(intent: str, entry: Entry) -> Example:
    """An intent's example as written in Rasa YAML, annotations and all."""
    try:
        example = parse_example(intent, entry)
    except ValueError as error:
        raise file_error(entry.place.path, entry.place.line, str(error)) from error
    entities = tuple({"entity": e.name, "value": e.value, "start": e.start, "end": e.end} for e in example.entities)
    return Example(example.text, _expected(intent), entities=entities)


def _expected(intent: str) -> str:
    return FALLBACK if intent == OUT_OF_SCOPE else intent
