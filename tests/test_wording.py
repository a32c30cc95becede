"""How slot values and outcome data are said."""
from __future__ import annotations

import pytest
from conversation import CATALOG, VOCABULARY

from adapters.base import Outcome
from assistant.dialog.wording import Wording

WORDING = Wording(CATALOG, VOCABULARY.display)


def slot(function: str, name: str):
    return CATALOG.functions[function].slot(name)


@pytest.mark.parametrize("function, name, value, said", [
    ("stock_buy", "stock", "600519", "贵州茅台"),
    ("forex_trade", "currency", "USD", "美元"),
    ("pay_bill", "bill_type", "mobile", "电话费"),
    ("stock_buy", "price", 10.5, "10.5"),
    ("stock_buy", "quantity", 200, "200"),
    ("transfer", "amount", 3500.0, "3500"),
    ("forex_trade", "side", "sell", "卖出"),
    ("callback_request", "phone_number", "138-0013-8000", "尾号8000"),
    ("callback_request", "when", "2025-01-07T15:30:00", "1月7日15点30分"),
    ("transfer", "payee", "6222021234567890123", "尾号0123"),
    ("business_info", "question", "密码123456的修改", "密码的修改"),  # a PIN said along the way is left out
])
def test_slot_values_are_said_by_their_type(function, name, value, said):
    assert WORDING.slot(slot(function, name), value) == said


def test_outcome_data_numbers_dates_terms_and_lists():
    function = CATALOG.functions["order_query"]
    items = [{"side": "buy", "name": "中国平安", "quantity": 100, "price": "46.00", "status": "open"},
             {"side": "sell", "name": "招商银行", "quantity": 200, "price": "38.10", "status": "filled"},
             {"side": "buy", "name": "万科A", "quantity": 300, "price": "7.50", "status": "expired"},
             {"side": "buy", "name": "贵州茅台", "quantity": 100, "price": "1500.00", "status": "cancelled"}]
    outcome = Outcome("ok", None, {"items": items, "count": 4})
    said = WORDING.outcome(function, function.outcomes["ok"], outcome, {})
    assert said == ("您今天共有4笔委托：买入中国平安100股，价格46元，未成交；卖出招商银行200股，价格38.1元，已成交；"
                    "买入万科A300股，价格7.5元，已失效。")  # three read out, all counted
    assert WORDING.value("2025-01-18") == "1月18日"


def test_a_reply_naming_a_value_the_outcome_lacks_says_the_plain_truth():
    function = CATALOG.functions["balance_inquiry"]
    said = WORDING.outcome(function, function.outcomes["ok"], Outcome("ok", None, {"balance": "1.00"}), {})
    assert said == CATALOG.outcomes["ok"].say
