"""Scores shared by tests, benchmarks and reports."""
from __future__ import annotations

import os
import resource
from collections.abc import Sequence
from pathlib import Path

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


def process_with(*words: str) -> int | None:
    """Pid of a process whose command line holds every word, if one runs (the resident NLU process)."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and all(word in cmdline for word in words):
            return int(proc.name)
    return None


def peak_rss_mb(pid: int | None) -> float | None:
    """Peak resident memory of `pid` (None: this process)."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return int(kb) / 1024 if kb else None


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) `pid` has used so far (None: this process)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
