"""What one caller may send is bounded (config.yml `limits:`), and the shared NLU process sheds the rest.

A line too long to be a request is not understood (the NLU never sees it) and the call goes on; a
line of keys presses at most limits.keys_per_turn keys, so it can make one PIN attempt at most; a
call's utterances are paced. The resident NLU process answers an oversize or malformed request with
an error and keeps serving.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conversation import CALLER, PIN
from test_chat_json import chat, project  # noqa: F401  (the fixture: a project folder of its own)

from assistant.catalog.catalog import FALLBACK
from assistant.core.frames import Dtmf, FinalTranscript
from assistant.nlu.resident import MAX_LINE_BYTES, MAX_TEXT_CHARS
from assistant.nlu.train import model_path
from assistant.nlu.understanding import InputLimits, Pace, UnderstandingStage
from assistant.transports.text import typed_frames
from domain.config import load_config
from domain.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
LIMITS = InputLimits.from_config(load_config().section("limits"), pin_length=len(PIN))
LONG_LINE = "我想" + "啊" * 100_000  # 100 kB of text
REPEATED = "查一下余额" * 19_600  # 98,000 characters of one request


def caller_turns(result: subprocess.CompletedProcess) -> list[dict[str, Any]]:
    """The JSON turns that answer a caller line (the greeting answers none)."""
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return [turn for turn in map(json.loads, result.stdout.splitlines()) if turn["heard"]]


# --- settings -------------------------------------------------------------------------------------------


def test_the_project_limits_are_small() -> None:
    assert LIMITS.utterance_chars <= 200 and LIMITS.keys_per_turn < 2 * len(PIN)


@pytest.mark.parametrize("section, problem", [
    ({"keys_per_turn": 12}, "two PIN attempts"),
    ({"utterance_chars": MAX_TEXT_CHARS + 1}, "what the NLU process accepts"),
    ({"utterances_per_s": 0}, "at least 1"),
    ({"utterance_chars": "200"}, "whole number"),
    ({"chars": 200}, "unknown setting chars"),
])
def test_limits_that_cannot_hold_are_one_config_error(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        InputLimits.from_config(section, pin_length=6)


# --- key presses -------------------------------------------------------------------------------------------


def test_a_line_of_ten_thousand_keys_presses_only_the_first_few(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        frames = typed_frames("dtmf:" + "1" * 10_000, str, LIMITS)
    assert frames == [Dtmf("1")] * LIMITS.keys_per_turn + [Dtmf("#")]
    assert f"dropped {10_000 - LIMITS.keys_per_turn} of 10000 keys" in caplog.text


def test_a_line_within_the_limit_is_pressed_whole() -> None:
    assert typed_frames("dtmf:" + PIN, str, LIMITS) == [Dtmf(key) for key in PIN + "#"]


# --- long lines and pacing ------------------------------------------------------------------------------


def test_a_line_too_long_is_not_normalised() -> None:
    seen: list[str] = []
    (frame,) = typed_frames(LONG_LINE, lambda text: seen.append(text) or text, LIMITS)
    assert seen == [] and frame == FinalTranscript(LONG_LINE, raw=LONG_LINE)


def test_pace_lets_a_second_s_worth_through_then_waits() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pace = Pace(3, clock=lambda: now[0], sleep=sleep)
    assert [pace.wait() for _ in range(3)] == [0.0, 0.0, 0.0]
    now[0] = 0.4
    assert pace.wait() == pytest.approx(0.6)  # the 4th waits until the 1st is a second old
    now[0] = 5.0
    assert pace.wait() == 0.0 and slept == [pytest.approx(0.6)]


@pytest.mark.slow
def test_the_understanding_stage_refuses_what_is_too_long_and_understands_the_next(assistant: Any) -> None:
    stage = UnderstandingStage(assistant.understanding)
    long_frame = FinalTranscript(LONG_LINE, raw=LONG_LINE)
    _, refused = stage.process(long_frame)
    assert (refused.intent, refused.confidence) == (FALLBACK, 0.0)
    assert len(refused.text) == LIMITS.utterance_chars + 1  # its start and "…": all that is kept
    text = assistant.normalizer.normalize("查一下余额")
    _, understood = stage.process(FinalTranscript(text, raw="查一下余额"))
    assert understood.intent == "balance_inquiry"


@pytest.mark.slow
def test_a_call_s_utterances_are_paced(assistant: Any) -> None:
    stage = UnderstandingStage(assistant.understanding)
    frame = FinalTranscript("你好", raw="你好")
    started = time.monotonic()
    for _ in range(LIMITS.utterances_per_s * 2 + 1):
        list(stage.process(frame))
    assert time.monotonic() - started >= 2.0


# --- whole calls through `assistant chat --text --json` ---------------------------------------------------


@pytest.mark.slow
def test_lines_too_long_are_asked_again_and_the_call_goes_on(project: Path) -> None:  # noqa: F811
    result = chat(project, [LONG_LINE, REPEATED, "查一下余额"], "--caller", CALLER)
    long, repeated, balance = caller_turns(result)
    for turn in (long, repeated):
        assert turn["intent"] == FALLBACK and turn["function"] is None and turn["say"].startswith("抱歉")
        assert len(turn["heard"]) <= LIMITS.utterance_chars + 1
    assert balance["function"] == "balance_inquiry" and balance["awaiting"] == "pin"
    assert "not understood (limits.utterance_chars" in result.stderr


@pytest.mark.slow
def test_ten_thousand_keys_do_not_lock_the_customer(project: Path) -> None:  # noqa: F811
    wrong = "147250"
    lines = ["dtmf:" + "1" * 10_000, "查一下余额", "dtmf:" + wrong * 1_667, "dtmf:" + PIN]
    result = chat(project, lines, "--caller", CALLER)
    turns = caller_turns(result)
    assert sum("密码不正确" in turn["say"] for turn in turns) <= 2  # one attempt a line at most
    assert not any("锁定" in turn["say"] for turn in turns)
    last = turns[-1]
    assert (last["transaction"]["action"], last["transaction"]["status"]) == ("banking.balance", "ok")
    assert result.stderr.count("keys in a line (limits.keys_per_turn") == 2


# --- the resident NLU process itself -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nlu_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A resident NLU process of the trained model on a socket of its own."""
    model = model_path(load_config())
    if not model.exists():
        pytest.fail(f"no trained NLU model at {model}: run `assistant setup`")
    path = tmp_path_factory.mktemp("nlu") / "nlu.sock"
    process = subprocess.Popen([sys.executable, "-m", "assistant.nlu.serve", str(model), str(path)], cwd=REPO,
                               env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not path.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the NLU process did not start"
            time.sleep(0.5)
        yield path
    finally:
        process.terminate()
        process.wait(30)


def ask(path: Path, payload: bytes) -> list[dict[str, Any]]:
    """Each answer the process gives to `payload` (request lines), in one connection."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        with sock.makefile("rb") as stream:
            return [json.loads(line) for line in stream]


def request(text: Any) -> bytes:
    return json.dumps({"text": text}, ensure_ascii=False).encode() + b"\n"


@pytest.mark.slow
def test_the_nlu_process_refuses_oversize_and_garbage_and_keeps_serving(nlu_socket: Path) -> None:
    garbage = [
        request("查" * (MAX_TEXT_CHARS + 1)),  # a text over its own limit
        b"x" * (MAX_LINE_BYTES * 50) + b"\n",  # a line over its limit, not even JSON
        b"\xff\xfe not json\n",
        b"[1, 2]\n",
        request(5),
        b'{"words": "hi"}\n',
    ]
    answers = ask(nlu_socket, b"".join(garbage) + request("查一下余额"))
    assert len(answers) == len(garbage) + 1
    assert all(set(answer) == {"error"} for answer in answers[:-1])
    assert "over the limit" in answers[0]["error"] and "at most" in answers[1]["error"]
    assert answers[-1]["intent"]["name"] == "balance_inquiry"
    assert ask(nlu_socket, request("给李四转五百块"))[0]["intent"]["name"] == "transfer"
