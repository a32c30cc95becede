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


@pytest.mark.slow  # nine CLI starts, ~5 s each
def test_create_report_and_mistakes(tmp_path: Path) -> None:
    made = campaign(tmp_path, "create", "spring", "--purpose", "service_followup", "--csv",
                    "tests/data/campaigns/list.csv")
    assert made.returncode == 0, made.stderr
    figures = json.loads(campaign(tmp_path, "report", "spring", "--json").stdout)
    assert figures["contacts"] == 2 and figures["outcomes"] == {
        key: 0 for key in ("answered", "busy", "no_answer", "failed", "completed", "refused", "wrong_person")}
    listed = campaign(tmp_path, "do-not-call", "add", "138 0013 8000", "--purpose", "marketing", "--days", "180")
    assert listed.returncode == 0, listed.stderr
    assert "not called for marketing until" in listed.stdout
    assert [(row["phone"], row["purpose"], row["reason"]) for row in
            json.loads(campaign(tmp_path, "do-not-call", "list", "--json").stdout)] == [("13800138000", "marketing", "asked")]
    for args, says in ((("create", "x", "--purpose", "nope", "--csv", "tests/data/campaigns/list.csv"), "unknown purpose"),
                       (("create", "x", "--purpose", "marketing", "--where", "drop table"), "unknown criteria"),
                       (("create", "spring", "--purpose", "marketing", "--csv", "tests/data/campaigns/list.csv"), "exists"),
                       (("report", "nope", "--json"), "no campaign"),
                       (("do-not-call", "add", "13800138000", "--purpose", "lottery"), "unknown purpose")):
        failed = campaign(tmp_path, *args)
        assert failed.returncode == 1 and says in failed.stderr and "Traceback" not in failed.stderr
