"""Understanding accuracy on the held-out text set (tests/data/nlu_holdout.tsv, never trained on).

The NLU model is trained with a fixed seed, so these are the figures the README reports, give or take
nothing; the thresholds sit a little below them so that a real regression fails, not a rounding.
"""
from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from assistant.catalog import FALLBACK

HOLDOUT = Path(__file__).parent / "data" / "nlu_holdout.tsv"


@pytest.mark.slow
def test_held_out_text_is_understood(assistant: Any) -> None:
    with HOLDOUT.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    intents = oos = oos_rejected = slots = 0
    for row in rows:
        now = datetime.fromisoformat(row["now"]) if row["now"] else None
        result = assistant.understanding.understand(row["text"], now=now)
        intents += result.intent == row["intent"]
        slots += result.slots == json.loads(row["slots_json"])
        if row["intent"] == FALLBACK:
            oos += 1
            oos_rejected += result.intent == FALLBACK
        if result.intent != row["intent"]:
            print(f"MISS {row['text']}: {row['intent']} → {result.intent} {result.confidence}")
    print(f"intent {intents}/{len(rows)}, out of scope rejected {oos_rejected}/{oos}, slots exact {slots}/{len(rows)}")
    assert len(rows) >= 150 and oos >= 20
    assert intents >= 0.96 * len(rows)
    assert oos_rejected >= 0.90 * oos
    assert slots >= 0.90 * len(rows)
