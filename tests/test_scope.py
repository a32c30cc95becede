"""The nearest-neighbour second opinion on out-of-scope requests."""
from __future__ import annotations

from pathlib import Path

import pytest

from assistant.nlu.scope import ScopeCheck

EXAMPLES = [
    ("stock_quote", "茅台现在多少钱"), ("stock_quote", "查一下招商银行的股价"), ("stock_quote", "平安今天涨了多少"),
    ("out_of_scope", "今天天气怎么样"), ("out_of_scope", "湖人队昨天赢了吗"), ("out_of_scope", "世界杯谁踢得最好"),
    ("affirm", "是的"), ("out_of_scope", "是的吗你猜"),
]


@pytest.fixture(scope="module")
def scope() -> ScopeCheck:
    return ScopeCheck(EXAMPLES)


def test_a_request_nearer_the_out_of_scope_examples_is_out_of_scope(scope: ScopeCheck) -> None:
    assert scope.out_of_scope("中国队踢得怎么样", "stock_quote")


def test_a_request_like_its_intent_examples_stays(scope: ScopeCheck) -> None:
    assert not scope.out_of_scope("茅台今天多少钱", "stock_quote")


def test_short_answers_are_left_to_the_model(scope: ScopeCheck) -> None:
    assert not scope.out_of_scope("是的吗", "affirm")


def test_data_without_out_of_scope_examples_gives_no_opinion() -> None:
    check = ScopeCheck([(intent, text) for intent, text in EXAMPLES if intent != "out_of_scope"])
    assert not check.out_of_scope("中国队踢得怎么样", "stock_quote")


def test_it_reads_the_project_training_data() -> None:
    check = ScopeCheck.from_data(Path(__file__).resolve().parents[1] / "nlu_data")
    assert check.out_of_scope("明天早上七点叫我起床", "price_alert")
    assert check.out_of_scope("帮我给我女儿打个电话", "transfer")
    assert not check.out_of_scope("帮我查一下贵州茅台的股价", "stock_quote")
    assert not check.out_of_scope("转五百块给李四", "transfer")
