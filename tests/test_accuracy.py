"""Understanding accuracy on the held-out text set (tests/data/nlu_holdout.tsv, never trained on).

The NLU model is trained with a fixed seed, so these are the figures the README reports, give or take
nothing; the thresholds sit a little below them so that a real regression fails, not a rounding.
Scored as `assistant nlu test --holdout` scores it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from assistant.nlu.eval.evaluate import progress, understand_all
from assistant.nlu.eval.examples import read_holdout
from assistant.nlu.eval.scoring import summarize

HOLDOUT = Path(__file__).parent / "data" / "nlu_holdout.tsv"


@pytest.mark.slow
def test_held_out_text_is_understood(assistant: Any) -> None:
    examples = read_holdout(HOLDOUT)
    with progress(Console(stderr=True)) as bar:
        outcomes = understand_all(assistant.understanding, examples, bar, "holdout")
    for o in outcomes:
        if not o.correct:
            print(f"MISS {o.text}: {o.expected} → {o.got} {o.confidence}")
    summary = summarize(outcomes)["summary"]
    n, oos = summary["examples"], summary["out_of_scope_rejected"]
    print(f"intent {summary['accuracy']['correct']}/{n}, out of scope rejected {oos['rejected']}/{oos['expected']}, "
          f"slots exact {summary['slots_exact']['exact']}/{n}")
    assert n >= 150 and oos["expected"] >= 20
    assert summary["accuracy"]["correct"] >= 0.96 * n
    assert oos["rejected"] >= 0.90 * oos["expected"]
    assert summary["slots_exact"]["exact"] >= 0.90 * n
