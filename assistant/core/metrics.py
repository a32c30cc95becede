"""Scores shared by tests, benchmarks and reports."""
from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edits needed to turn the hypothesis into the reference, per reference character."""
    return Levenshtein.distance(reference, hypothesis) / max(1, len(reference))


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) by linear interpolation, as numpy computes it."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
