from pathlib import Path
from typing import Any

import pytest

from assistant.catalog import Catalog
from assistant.policy import CONFIRMATION, Policy

INTENTS_DIR = Path(__file__).resolve().parents[1] / "intents"
STOCK_NAMES = {"600519": "贵州茅台", "600036": "招商银行"}


def display(slot_type: str, value: Any) -> str:
    return STOCK_NAMES.get(value, value) if slot_type == "stock" else str(value)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(INTENTS_DIR)


@pytest.fixture(scope="module")
def policy(catalog) -> Policy:
    return Policy(catalog, display)


def test_buying_with_no_slots_asks_which_stock(policy, catalog):
    turn = policy.respond("stock_buy", 0.95, {})
    stock_prompt = catalog.function_for("stock_buy").slots[0].prompt
    assert turn.say == "好的，" + stock_prompt
    assert (turn.function, turn.awaiting, turn.slots) == ("stock_buy", "stock", {})


def test_buying_a_named_stock_asks_how_many_shares(policy):
    turn = policy.respond("stock_buy", 0.95, {"stock": "600519"})
    assert turn.say == "好的，买入贵州茅台。请问买多少股？"
    assert (turn.awaiting, turn.slots) == ("quantity", {"stock": "600519"})


def test_buying_with_every_required_slot_asks_for_confirmation(policy):
    turn = policy.respond("stock_buy", 0.95, {"stock": "600036", "quantity": 200})
    assert turn.say.startswith("好的，买入招商银行200股。您要买入招商银行200股，确认请说")
    assert turn.awaiting == CONFIRMATION
    assert turn.slots == {"stock": "600036", "quantity": 200}


def test_optional_slots_are_said_when_heard_and_foreign_slots_ignored(policy):
    turn = policy.respond("stock_sell", 0.9,
                          {"stock": "600519", "quantity": 100, "price": 1500, "currency": "USD"})
    assert "您要以1500元卖出贵州茅台100股" in turn.say
    assert turn.slots == {"stock": "600519", "quantity": 100, "price": 1500}


def test_a_query_with_nothing_to_ask_awaits_nothing(policy, catalog):
    turn = policy.respond("balance_inquiry", 0.9, {})
    assert turn.say == catalog.function_for("balance_inquiry").opening
    assert (turn.function, turn.awaiting) == ("balance_inquiry", None)


@pytest.mark.parametrize("intent, confidence", [("nlu_fallback", 0.99), ("stock_buy", 0.59)])
def test_fallback_and_low_confidence_reprompt(policy, catalog, intent, confidence):
    turn = policy.respond(intent, confidence, {"stock": "600519"})
    assert turn.say == catalog.replies["nlu_fallback"]
    assert "买入股票" in turn.say
    assert (turn.intent, turn.function, turn.awaiting) == ("nlu_fallback", None, None)


def test_the_threshold_is_configurable(catalog):
    assert Policy(catalog, display, threshold=0.3).respond("stock_buy", 0.4, {}).function == "stock_buy"


@pytest.mark.parametrize("intent", ["greet", "goodbye", "affirm", "deny"])
def test_conversational_intents_get_their_reply(policy, catalog, intent):
    turn = policy.respond(intent, 0.9, {})
    assert turn.say == catalog.replies[intent]
    assert (turn.intent, turn.function, turn.awaiting) == (intent, None, None)


def test_an_intent_the_catalog_does_not_know_gets_the_unknown_reply(policy, catalog):
    turn = policy.respond("order_pizza", 0.9, {})
    assert turn.say == catalog.replies["unknown_intent"]
    assert turn.function is None


def test_phone_numbers_are_said_by_their_last_four_digits(policy):
    turn = policy.respond("callback_request", 0.9, {"phone_number": "138-0013-8000", "when": "明天上午"})
    assert "致电您尾号8000的电话" in turn.say
    assert "0013" not in turn.say
    assert turn.slots["phone_number"] == "138-0013-8000"  # the form keeps the real number


def test_account_numbers_and_pins_in_free_text_are_never_said_in_full(policy):
    transfer = policy.respond("transfer", 0.9, {"payee": "6222021234567890123", "amount": 3500})
    assert "向尾号0123转账3500元" in transfer.say
    assert "622202" not in transfer.say
    info = policy.respond("business_info", 0.9, {"topic": "密码123456的修改"})
    assert info.say == "好的，为您介绍密码的修改。"
