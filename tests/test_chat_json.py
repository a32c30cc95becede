"""`assistant chat --text --json`: scripted caller lines in, one JSON object per turn out.

Each run is a real subprocess of the installed command in a project folder of its own: the repo's
intents/, nlu_data/ and adapters/ linked in, its own sandbox bank (clock pinned in trading hours)
and call store. The NLU model is the repo's (same data, same model), served by the resident process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conversation import CALLER, CARD_NUMBERS, PIN, query

from domain.config import load_config

ASSISTANT = Path(sys.executable).with_name("assistant")
REPO = Path(__file__).resolve().parents[1]
SECRETS = (PIN, *CARD_NUMBERS)
FIELDS = {"heard", "say", "intent", "function", "awaiting", "slots", "transaction", "escalation", "hangs_up"}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    for part in ("intents", "nlu_data", "adapters", "voices"):
        (tmp_path / part).symlink_to(REPO / part)
    raw = json.loads(json.dumps(load_config().raw, default=str))  # plain dicts (campaigns' dates as text: chat reads none)
    raw["models_dir"] = str(load_config().models_dir.resolve())
    raw["adapters"] = {**raw.get("adapters", {}), "kind": "sandbox",
                       "sandbox": {"db": str(tmp_path / "bank.sqlite"), "clock": "2025-01-06T10:00:00"}}
    raw["dialog"] = {**raw.get("dialog", {}), "database": str(tmp_path / "calls.sqlite")}
    (tmp_path / "config.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return tmp_path


def chat(project: Path, lines: list[str], *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ASSISTANT), "chat", "--text", "--json", *options], input="\n".join(lines) + "\n",
        cwd=project, env={**os.environ, "ASSISTANT_CONFIG": str(project / "config.yml")},
        capture_output=True, text=True, timeout=600)


def rows(path: Path, sql: str) -> list[dict[str, Any]]:
    return [dict(row) for row in query(path, sql)]


@pytest.mark.slow
def test_an_order_by_voice_and_keys_then_a_person(project: Path) -> None:
    lines = ["以五十块钱的价格买入两百股中国平安", "dtmf:147258", "不对，是三百股", "茅台现在多少钱", "是", "是",
             "dtmf:1", "dtmf:2#", "我的密码是147258", "转人工"]
    result = chat(project, lines, "--caller", CALLER)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    greeting, *turns = [json.loads(line) for line in result.stdout.splitlines()]
    assert greeting["say"].startswith("您好") and greeting["heard"] == "" and greeting["intent"] is None
    assert len(turns) == len(lines) and all(set(turn) == FIELDS for turn in turns)
    assert not any(turn["hangs_up"] for turn in (greeting, *turns))  # the caller ends this call, not the assistant
    assert [turn["awaiting"] for turn in turns[:5]] == ["pin", "confirmation", "confirmation", "confirmation", None]
    assert turns[1]["heard"] == "按键****" and turns[1]["transaction"]["action"] == "banking.verify_pin"
    assert turns[2]["slots"] == {"stock": "601318", "quantity": 300, "price": 50}
    assert turns[3]["transaction"]["action"] == "securities.quote"
    order = turns[4]["transaction"]
    assert (order["action"], order["status"]) == ("securities.place_order", "ok") and order["id"]
    assert turns[5]["transaction"] is None  # a second yes runs nothing
    assert [turns[6]["awaiting"], turns[7]["awaiting"]] == ["menu", "menu"]  # key 1, then 2: the key menu
    assert turns[8]["say"].startswith("为了您的资金安全")
    assert turns[9]["escalation"] and turns[9]["function"] == "human_agent"

    bank, calls = project / "bank.sqlite", project / "calls.sqlite"
    assert [(o["id"], o["quantity"]) for o in rows(bank, "SELECT id, quantity FROM orders")] == [(order["id"], 300)]
    (ticket,) = rows(calls, "SELECT * FROM handoffs")
    assert (ticket["id"], ticket["reason"], ticket["caller"]) == (turns[9]["escalation"], "caller_request", CALLER)
    written = [result.stdout, result.stderr, json.dumps(rows(calls, "SELECT * FROM turns"), ensure_ascii=False),
               json.dumps(ticket, ensure_ascii=False), json.dumps(rows(bank, "SELECT * FROM audit"), ensure_ascii=False)]
    for secret in SECRETS:
        assert not any(secret in text for text in written), secret


@pytest.mark.slow
def test_without_a_caller_id_a_pin_cannot_be_asked(project: Path) -> None:
    result = chat(project, ["查一下余额", "你好"])
    assert result.returncode == 0, result.stderr
    greeting, first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert "无法通过您的来电号码确认身份" in first["say"] and first["awaiting"] is None
    assert second["intent"] == "greet"


def test_a_caller_id_that_is_not_a_number_is_one_error(project: Path) -> None:
    result = chat(project, ["你好"], "--caller", "张三")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --caller must be a phone number") and result.stdout == ""
