"""A quiet, offline start: Rasa's telemetry off in every process of ours, and only our own lines on stderr."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_chat_json import project  # noqa: F401  (the fixture: a project folder of its own)

REPO = Path(__file__).resolve().parents[1]
ASSISTANT = Path(sys.executable).with_name("assistant")
NOT_OURS = ("Warning", "warning:", "tensorflow", "DeprecationWarning", "telemetry", "SQLAlchemy", "Rasa")
OURS = ("Type what a caller would say", "Starting the NLU process")


def plain_environment() -> dict[str, str]:
    """The environment without anything that would quiet the libraries or switch telemetry off."""
    quieting = ("RASA_TELEMETRY_ENABLED", "TF_CPP_MIN_LOG_LEVEL", "SQLALCHEMY_SILENCE_UBER_WARNING", "PYTHONWARNINGS")
    return {name: value for name, value in os.environ.items() if name not in quieting}


@pytest.mark.parametrize("entry", ["assistant.cli.main", "assistant.nlu.serve"])
def test_each_entry_point_switches_telemetry_off_before_rasa_loads(entry: str) -> None:
    code = f"import {entry}; from rasa import telemetry; print(telemetry.is_telemetry_enabled())"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=plain_environment(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]
    assert result.stderr == ""  # importing Rasa warns about SQLAlchemy 2.0 and deprecated APIs otherwise


def test_the_nlu_process_inherits_telemetry_off() -> None:
    """The resident process is started with this process's environment (assistant/nlu/resident.py)."""
    code = "import assistant.cli.main, os; print(os.environ['RASA_TELEMETRY_ENABLED'])"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=plain_environment(),
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["false"], result.stderr


def assert_only_ours(stderr: str) -> None:
    for line in filter(str.strip, stderr.splitlines()):
        assert not any(word in line for word in NOT_OURS), line
        assert line.startswith(OURS), line


@pytest.mark.slow
def test_route_prints_nothing_on_stderr() -> None:
    result = subprocess.run([str(ASSISTANT), "route", "查一下余额"], cwd=REPO, env=plain_environment(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "balance_inquiry" in result.stdout, result.stderr
    assert_only_ours(result.stderr)


@pytest.mark.slow
def test_chat_prints_only_its_own_hint_on_stderr(project: Path) -> None:  # noqa: F811
    result = subprocess.run([str(ASSISTANT), "chat", "--text", "--json", "--caller", "13800138000"],
                            input="查一下余额\n", cwd=project, capture_output=True, text=True, timeout=600,
                            env={**plain_environment(), "ASSISTANT_CONFIG": str(project / "config.yml")})
    assert result.returncode == 0 and "balance_inquiry" in result.stdout, result.stderr
    assert_only_ours(result.stderr)
