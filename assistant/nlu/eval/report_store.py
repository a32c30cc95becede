"""Test runs on disk: one folder per run, <reports>/<kind>-<name>/<UTC time>/, holding report.json,
report.html and confusion.png; each run is compared with the latest earlier run of the same set.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from assistant.nlu.eval.report_view import confusion_png, html_page
from assistant.nlu.eval.scoring import Outcome, diff, summarize
from domain.config import RUNTIME_DIR

REPORTS = RUNTIME_DIR / "reports" / "nlu"


def save_run(root: Path, kind: str, name: str, meta: dict[str, Any], outcomes: Sequence[Outcome]) -> tuple[Path, dict[str, Any]]:
    """Score the outcomes, compare with the previous run of this set, write the run folder."""
    runs = root / f"{kind}-{name}"
    previous = latest_report(runs)
    created = datetime.now(timezone.utc)
    report: dict[str, Any] = {"kind": kind, "name": name, "created": created.isoformat(timespec="seconds"), **meta}
    report.update(summarize(outcomes))
    report["diff"] = changes(previous, report) if previous else None
    folder = _new_folder(runs, created)
    png = confusion_png(report["confusion"]["labels"], report["confusion"]["matrix"])
    (folder / "confusion.png").write_bytes(png)
    (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (folder / "report.html").write_text(html_page(report, png), encoding="utf-8")
    return folder, report


def latest_report(runs: Path) -> dict[str, Any] | None:
    folders = sorted(p.parent for p in runs.glob("*/report.json"))
    return json.loads((folders[-1] / "report.json").read_text(encoding="utf-8")) if folders else None


def _new_folder(runs: Path, created: datetime) -> Path:
    stamp = created.strftime("%Y%m%dT%H%M%SZ")
    folder, n = runs / stamp, 1
    while folder.exists():  # two runs in one second
        folder, n = runs / f"{stamp}-{n}", n + 1
    folder.mkdir(parents=True)
    return folder


def changes(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Examples fixed and broken since `previous`, with what they got then and now."""
    before = {e["key"]: e for e in previous["examples"]}
    now = {e["key"]: e for e in current["examples"]}
    found = diff({k: e["correct"] for k, e in before.items()}, {k: e["correct"] for k, e in now.items()})

    def entries(keys: list[str]) -> list[dict[str, Any]]:
        return [
            {"key": k, "expected": now[k]["expected"], "before": before[k]["got"], "got": now[k]["got"], "confidence": now[k]["confidence"]}
            for k in keys
        ]

    return {"previous": previous["created"], "summary": str(found), "fixed": entries(found.fixed), "broke": entries(found.broke)}
