"""`assistant campaign create / report / run` on their own database."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def campaign(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSISTANT_DATABASE": str(tmp_path / "calls.sqlite")}
    return subprocess.run([str(ROOT / ".venv/bin/assistant"), "campaign", *args], capture_output=True, text=True,
                          env=env, timeout=120, cwd=ROOT)


@pytest.mark.slow  # six CLI starts, ~5 s each
def test_create_report_and_mistakes(tmp_path: Path) -> None:
    made = campaign(tmp_path, "create", "spring", "--purpose", "service_followup", "--csv",
                    "tests/data/campaigns/list.csv")
    assert made.returncode == 0, made.stderr
    figures = json.loads(campaign(tmp_path, "report", "spring", "--json").stdout)
    assert figures["contacts"] == 2 and figures["outcomes"] == {
        key: 0 for key in ("answered", "busy", "no_answer", "failed", "completed", "refused", "wrong_person")}
    for args, says in ((("create", "x", "--purpose", "nope", "--csv", "tests/data/campaigns/list.csv"), "unknown purpose"),
                       (("create", "x", "--purpose", "marketing", "--where", "drop table"), "unknown criteria"),
                       (("create", "spring", "--purpose", "marketing", "--csv", "tests/data/campaigns/list.csv"), "exists"),
                       (("report", "nope", "--json"), "no campaign")):
        failed = campaign(tmp_path, *args)
        assert failed.returncode == 1 and says in failed.stderr and "Traceback" not in failed.stderr
