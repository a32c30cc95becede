"""The phrases callers use, through the real NLU (the resident process) into the real dialog and bank.

Slow: the first test of a run may start the NLU process (~30 s); each parse after that is ~15 ms.
"""
from __future__ import annotations

from typing import Any

import pytest
from conversation import CATALOG, PIN, Call, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)

from assistant.core.turn import Turn

pytestmark = pytest.mark.slow


def said(call: Call, assistant: Any, text: str) -> Turn:
    return call.hear(assistant.understanding.understand(text))


def verified(world: World, assistant: Any) -> Call:
    call = world.call()
    said(call, assistant, "查一下余额")
    call.verify()
    return call


def test_an_order_corrected_and_interrupted_by_a_quote(world: World, assistant: Any) -> None:
    call = verified(world, assistant)
    turn = said(call, assistant, "以五十块钱的价格买入两百股中国平安")
    assert (turn.function, turn.awaiting) == ("stock_buy", "confirmation")
    assert turn.slots == {"stock": "601318", "quantity": 200, "price": 50}
    turn = said(call, assistant, "不对，是三百股")
    assert turn.awaiting == "confirmation" and turn.slots["quantity"] == 300
    turn = said(call, assistant, "茅台现在多少钱")
    assert turn.transaction.action == "securities.quote" and "我们继续办理买入股票" in turn.say
    turn = said(call, assistant, "是")
    assert turn.transaction.status == "ok"
    orders = world.rows("SELECT stock, quantity, limit_price FROM orders")
    assert [tuple(row) for row in orders] == [("601318", 300, 5000)]


@pytest.mark.parametrize("words", ["算了", "不用了", "我不想买了"])
def test_cancelling_in_words(world: World, assistant: Any, words: str) -> None:
    call = verified(world, assistant)
    assert said(call, assistant, "我要买股票").awaiting == "stock"
    turn = said(call, assistant, words)
    assert turn.say.startswith("好的，已为您取消。") and turn.awaiting is None


def test_a_transfer_with_the_amount_corrected(world: World, assistant: Any) -> None:
    call = verified(world, assistant)
    assert said(call, assistant, "给李四转五百块").awaiting == "confirmation"
    turn = said(call, assistant, "不对，转一千块")
    assert turn.slots == {"payee": "李四", "amount": 1000}
    said(call, assistant, "好的")
    assert world.balance("6222021001121234") == "49000.00"


def test_slot_answers_that_look_like_other_intents(world: World, assistant: Any) -> None:
    call = verified(world, assistant)
    assert said(call, assistant, "交电费").awaiting == "amount"
    assert said(call, assistant, "一千块").awaiting == "confirmation"
    said(call, assistant, "算了")
    assert said(call, assistant, "外汇买卖").awaiting == "side"
    assert said(call, assistant, "卖出").awaiting == "currency"
    assert said(call, assistant, "美元").awaiting == "amount"
    said(call, assistant, "不用了")
    turn = said(call, assistant, "证券转银行")
    assert turn.slots == {"direction": "to_bank"} and turn.awaiting == "amount"


def test_a_spoken_pin_is_refused(world: World, assistant: Any) -> None:
    call = world.call()
    said(call, assistant, "查余额")
    turn = said(call, assistant, "一四七二五八")
    assert turn.say == CATALOG.prompts["pin_spoken"] and PIN not in turn.heard


def test_asking_for_keys_and_for_a_person(world: World, assistant: Any) -> None:
    call = world.call()
    assert said(call, assistant, "按键服务").awaiting == "menu"
    turn = said(call, assistant, "转人工")
    assert turn.escalation and world.ticket(turn.escalation)["reason"] == "caller_request"


def test_a_request_torn_between_buy_and_sell_is_asked_back(world: World, assistant: Any) -> None:
    call = verified(world, assistant)
    turn = said(call, assistant, "股票买卖招商银行两百股")  # names both: asked back however sure the NLU is of one
    # the function the NLU ranks first is named first
    first, second = ("卖出股票", "买入股票") if turn.intent == "stock_sell" else ("买入股票", "卖出股票")
    assert turn.intent in ("stock_buy", "stock_sell")
    assert turn.awaiting == "function" and turn.say.startswith(f"您是要{first}，还是{second}？")
    turn = said(call, assistant, "卖出")
    assert (turn.function, turn.awaiting) == ("stock_sell", "confirmation")
    assert turn.slots == {"stock": "600036", "quantity": 200} and "您要卖出招商银行200股" in turn.say
    said(call, assistant, "是")
    assert [tuple(r) for r in world.rows("SELECT side, stock, quantity FROM orders")] == [("sell", "600036", 200)]
