"""Canonical values of the insurance, fund and wealth slots, and choice phrases inside longer ones."""
from __future__ import annotations

from datetime import datetime

import pytest
from conversation import CATALOG, VOCABULARY

from assistant.dialog.task import heard_values
from assistant.nlu.slots import canonical_slots

MONDAY = datetime(2025, 1, 6, 10, 0)


@pytest.mark.parametrize("entity, value, expected", [
    ("date", "昨天", "2025-01-05"),
    ("date", "前天下午", "2025-01-04"),
    ("date", "1月3日", "2025-01-03"),
    ("date", "3月5日", "2024-03-05"),  # not yet come this year: last year's
    ("date", "10号", "2024-12-10"),  # not yet come this month: last month's
    ("date", "下个礼拜", None),
    ("fund", "招商白酒", "161725"),
    ("fund", "110022", "110022"),
    ("fund", "12345", None),
    ("policy", "车险", "car"),
    ("policy", "8807654321", "8807654321"),
    ("policy", "8907654321", None),
    ("product", "鑫享稳盈", "LC2501"),
    ("product", "余额宝", None),
])
def test_canonical_values(entity: str, value: str, expected: str | None) -> None:
    slots = canonical_slots([{"entity": entity, "value": value}], "", VOCABULARY, MONDAY)
    assert slots.get(entity) == expected


def test_a_fund_named_in_the_text_fills_the_slot_without_an_entity() -> None:
    assert canonical_slots([], "查一下兴全合润的净值", VOCABULARY, MONDAY) == {"fund": "163406"}


@pytest.mark.parametrize("text, expected", [
    ("没有人受伤", "no"), ("有人受伤了", "yes"), ("人没事", "no"), ("有伤者", "yes"),
])
def test_a_choice_phrase_inside_a_longer_one_does_not_count(text: str, expected: str) -> None:
    function = CATALOG.functions["claim_report"]
    assert heard_values(function, {}, text, function.slot("injured")) == {"injured": expected}
