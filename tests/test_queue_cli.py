"""`assistant queue ...` as scripts use it: real subprocesses of the installed command on a call
database filled by real conversations (tests/conversation.py), each command a new process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conversation import CALLER, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)
from test_queue_escalation import complaint_system_down, person_during_an_order, queue, three_wrong_pins

from domain.config import REPO, load_config

ASSISTANT = Path(sys.executable).with_name("assistant")

pytestmark = [pytest.mark.slow,  # each command is a new process (~2 s)
              pytest.mark.both_databases]


def assistant(world: World, *args: str, clock: str = "2025-01-06T10:00:00") -> subprocess.CompletedProcess:
    """The command with config.yml pointing at the world's databases, the bank's clock at `clock`."""
    folder = world.bank_path.parent
    for part in ("intents", "nlu_data", "adapters"):
        if not (folder / part).exists():
            (folder / part).symlink_to(REPO / part)
    raw = json.loads(json.dumps(load_config().raw, default=str))  # plain dicts (campaigns' holidays as text)
    raw["adapters"] = {**raw["adapters"], "kind": "sandbox", "sandbox": {"db": str(world.bank_path), "clock": clock}}
    (folder / "config.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    result = subprocess.run([str(ASSISTANT), "queue", *args], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "ASSISTANT_CONFIG": str(folder / "config.yml"),
                                 "ASSISTANT_DATABASE": world.store_location})
    assert "Traceback" not in result.stderr, result.stderr
    return result


def lines(result: subprocess.CompletedProcess) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_list_json_prints_each_waiting_entry_with_its_context(world: World) -> None:
    person_during_an_order(world)
    three_wrong_pins(world)
    complaint_system_down(world)
    printed = lines(assistant(world, "list", "--json"))
    assert printed == [entry.to_json() for entry in queue(world).waiting()]
    assert [(e["reason"], e["skill"], e["priority"]) for e in printed] == [
        ("locked", "cards", 2), ("backend_failed", "complaints", 1), ("caller_request", "securities", 0)]
    assert printed[2]["slots"] == {"stock": "600519"} and printed[2]["caller"] == CALLER
    assert printed[2]["transcript"][0] == "caller: 买点茅台" and printed[2]["verification"] == "verified"
    assert lines(assistant(world, "list", "--json", "--skill", "securities")) == printed[2:]
    for secret in world.secrets:
        assert secret not in json.dumps(printed, ensure_ascii=False)


def test_agents_take_and_finish_calls(world: World) -> None:
    person_during_an_order(world)
    assert assistant(world, "agent", "李明", "--skills", "securities,general").returncode == 0
    taken = lines(assistant(world, "take", "--agent", "李明", "--json"))
    assert [(t["function"], t["status"], t["agent"]) for t in taken] == [("stock_buy", "taken", "李明")]
    assert lines(assistant(world, "agents", "--json"))[0]["state"] == "on_call"
    finished = assistant(world, "finish", "--agent", "李明")
    assert finished.returncode == 0 and finished.stdout.startswith(f"#{taken[0]['ticket']} done → 李明")
    assert lines(assistant(world, "list", "--json")) == []


def test_mistakes_are_one_line_errors(world: World) -> None:
    for args, message in ((("take", "--agent", "ghost"), "error: no agent 'ghost'"),
                          (("agent", "赵", "--skills", "forex"), "error: unknown skill 'forex' (known: cards, complaints, general, insurance, securities, wealth)"),
                          (("agent", "赵", "--skills", "general", "--state", "lunch"), "error: agent state must be one of")):
        result = assistant(world, *args)
        assert result.returncode == 1 and result.stderr.startswith(message), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_due_callback_is_dispatched_once_by_separate_processes_and_confirmed_by_sms(world: World) -> None:
    call = world.call()
    call.keys("0")
    call.keys("2")
    call.keys("1")  # nobody on duty: booked for the general shift's next start, 2025-01-07 08:00
    ticket = call.turns[0].escalation
    assert assistant(world, "sms-reply", CALLER, "1").stdout.strip() == "confirmed"
    assert assistant(world, "agent", "王芳", "--skills", "general").returncode == 0
    assert lines(assistant(world, "dispatch", "--json", clock="2025-01-06T10:01:00")) == []  # not due yet
    first = lines(assistant(world, "dispatch", "--json", clock="2025-01-07T08:01:00"))
    assert [(e["ticket"], e["agent"], e["callback"]["confirmation"]) for e in first] == [(ticket, "王芳", "confirmed")]
    assert lines(assistant(world, "dispatch", "--json", clock="2025-01-07T08:02:00")) == []
    assert lines(assistant(world, "callbacks", "--json")) == []
