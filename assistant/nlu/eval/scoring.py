"""Scores of an NLU test run: pure functions from outcomes to the numbers in a report.

Every ratio is rounded to 4 decimals here, once, so the terminal, the HTML page and report.json
show the same numbers. A slot counts as found when its name and canonical value both match; a
wrong value is a false positive and a false negative at once, as in entity scoring. What a report
writes down of an example never holds a PIN or password, and card numbers only by their last 4 digits.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.catalog.catalog import FALLBACK
from domain.masking import SECRET_PARAMS, mask_cards

DIGITS = 4


@dataclass(frozen=True)
class Outcome:
    """One test example as the assistant handled it."""

    text: str  # the held-out line, or what the recording says
    expected: str
    got: str
    confidence: float
    expected_slots: dict[str, Any] = field(default_factory=dict)
    slots: dict[str, Any] = field(default_factory=dict)
    file: str | None = None  # recordings only: the file, what ASR heard, VAD segments, CER
    transcript: str | None = None
    segments: int | None = None
    cer: float | None = None

    @property
    def key(self) -> str:
        """What identifies it across runs: the recording (one utterance may be recorded twice), else the text."""
        return self.file or self.text

    @property
    def correct(self) -> bool:
        return self.got == self.expected

    @property
    def slots_exact(self) -> bool:
        return self.slots == self.expected_slots

    def as_json(self) -> dict[str, Any]:
        """As a report writes it down: with secrets masked."""
        fields = {k: _masked(k, v) for k, v in asdict(self).items() if v is not None}
        return {"key": mask_cards(self.key), **fields, "correct": self.correct, "slots_exact": self.slots_exact}


def _masked(name: str, value: Any) -> Any:
    if name in SECRET_PARAMS:
        return "******"
    if isinstance(value, dict):
        return {k: _masked(k, v) for k, v in value.items()}
    return mask_cards(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    support: int  # how many times it was expected


def ratio(part: float, whole: float) -> float:
    """part / whole, and 0 when whole is 0 (a precision of nothing found, as scikit-learn has it)."""
    return round(part / whole, DIGITS) if whole else 0.0


def share(part: int, whole: int) -> float | None:
    """A rate over examples, None when there were none (no out-of-scope examples: no rejection rate)."""
    return ratio(part, whole) if whole else None


def scores(true_positives: int, false_positives: int, false_negatives: int) -> Scores:
    precision = ratio(true_positives, true_positives + false_positives)
    recall = ratio(true_positives, true_positives + false_negatives)
    f1 = ratio(2 * true_positives, 2 * true_positives + false_positives + false_negatives)
    return Scores(precision, recall, f1, true_positives + false_negatives)


def intent_scores(pairs: Sequence[tuple[str, str]]) -> dict[str, Scores]:
    """Per intent, from (expected, got) pairs; sorted by name."""
    hits = Counter(e for e, g in pairs if e == g)
    expected = Counter(e for e, _ in pairs)
    got = Counter(g for _, g in pairs)
    return {
        label: scores(hits[label], got[label] - hits[label], expected[label] - hits[label])
        for label in sorted(expected.keys() | got.keys())
    }


def confusion(pairs: Sequence[tuple[str, str]]) -> tuple[list[str], list[list[int]]]:
    """Labels (intents by name, nlu_fallback last) and counts[expected][got]."""
    labels = sorted({label for pair in pairs for label in pair}, key=lambda label: (label == FALLBACK, label))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for expected, got in pairs:
        matrix[index[expected]][index[got]] += 1
    return labels, matrix


def slot_scores(pairs: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> dict[str, Scores]:
    """Per slot name, from (expected slots, found slots) pairs; sorted by name."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for expected, found in pairs:
        for name, value in found.items():
            if name in expected and expected[name] == value:
                tp[name] += 1
            else:
                fp[name] += 1
        fn.update(name for name, value in expected.items() if name not in found or found[name] != value)
    return {name: scores(tp[name], fp[name], fn[name]) for name in sorted(tp.keys() | fp.keys() | fn.keys())}


@dataclass(frozen=True)
class Diff:
    fixed: list[str]  # keys wrong in the previous run and right now
    broke: list[str]  # keys right in the previous run and wrong now

    def __str__(self) -> str:
        return f"fixed {len(self.fixed)}, broke {len(self.broke)}"


def diff(previous: Mapping[str, bool], current: Mapping[str, bool]) -> Diff:
    """Compare two runs' right/wrong verdicts by key; keys in only one run are left out."""
    shared = [key for key in current if key in previous]
    return Diff(
        fixed=[key for key in shared if current[key] and not previous[key]],
        broke=[key for key in shared if previous[key] and not current[key]],
    )


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """All the numbers of a run, JSON-ready."""
    pairs = [(o.expected, o.got) for o in outcomes]
    in_scope = [o for o in outcomes if o.expected != FALLBACK]
    out_of_scope = [o for o in outcomes if o.expected == FALLBACK]
    intents = intent_scores(pairs)
    labels, matrix = confusion(pairs)
    correct = sum(o.correct for o in outcomes)
    exact = sum(o.slots_exact for o in outcomes)
    rejected = sum(o.got == FALLBACK for o in out_of_scope)
    refused = sum(o.got == FALLBACK for o in in_scope)
    summary: dict[str, Any] = {
        "examples": len(outcomes),
        "accuracy": {"correct": correct, "rate": share(correct, len(outcomes))},
        "macro_f1": ratio(sum(s.f1 for s in intents.values()), len(intents)),
        "out_of_scope_rejected": {"rejected": rejected, "expected": len(out_of_scope), "rate": share(rejected, len(out_of_scope))},
        "in_scope_rejected": {"rejected": refused, "expected": len(in_scope), "rate": share(refused, len(in_scope))},
        "slots_exact": {"exact": exact, "rate": share(exact, len(outcomes))},
    }
    cers = [o.cer for o in outcomes if o.cer is not None]
    if cers:
        summary["mean_cer"] = round(sum(cers) / len(cers), DIGITS)
    return {
        "summary": summary,
        "intents": {label: asdict(s) for label, s in intents.items()},
        "slots": {name: asdict(s) for name, s in slot_scores((o.expected_slots, o.slots) for o in outcomes).items()},
        "confusion": {"labels": labels, "matrix": matrix},
        "examples": [o.as_json() for o in outcomes],
    }
