"""Spoken test sets: a folder of WAV recordings and an index.tsv that says what each one asks for.

index.tsv has a header and the columns file (relative to the folder), utterance (what is said),
expected_intent and expected_slots (a JSON object of canonical slot values). tools/voice_set.py writes
such folders; banking_dev in the staged models folder is one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core.errors import AssistantError
from assistant.nlu.eval.tsvfile import json_object, read_tsv

COLUMNS = ("file", "utterance", "expected_intent", "expected_slots")


@dataclass(frozen=True)
class SpokenRequest:
    path: Path
    file: str  # as the index names it, relative to the set's folder
    utterance: str
    intent: str
    slots: dict[str, Any]

    @property
    def channel(self) -> str:
        """The subfolder it was recorded into (clean, phone)."""
        return self.path.parent.name


def read_spoken_set(folder: Path) -> list[SpokenRequest]:
    index = folder / "index.tsv"
    if not index.is_file():
        raise AssistantError(f"{index}: no such file; a spoken set is a folder with WAVs and an index.tsv ({', '.join(COLUMNS)})")
    requests = []
    for line, row in read_tsv(index, COLUMNS):
        path = folder / row["file"]
        if not path.is_file():
            raise AssistantError(f"{index}:{line}: {row['file']}: no such file")
        slots = json_object(index, line, "expected_slots", row["expected_slots"])
        requests.append(SpokenRequest(path, row["file"], row["utterance"], row["expected_intent"], slots))
    if not requests:
        raise AssistantError(f"{index}: lists no recordings")
    return requests
