"""Asking the caller which function they meant when the NLU was torn, instead of guessing; and the
confirmations that keep a misheard function or amount from being carried out.

Through the real dialog service and the real sandbox bank (tests/conversation.py); utterances are fed
as the NLU understands them, with its ranking. The slow test at the end measures how often the real
NLU's held-out text would be asked back.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conversation import CATALOG, CONFIG, VOCABULARY, Call, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)

from assistant.catalog.catalog import Catalog, FunctionSpec
from assistant.catalog.template import render
from assistant.core.errors import AssistantError
from assistant.core.frames import IntentResult
from assistant.core.turn import Turn
from assistant.dialog.askback import torn_between
from assistant.dialog.reasons import handoff_reasons
from assistant.dialog.settings import DialogSettings
from assistant.dialog.wording import Wording
from assistant.queue.settings import QueueSettings, ReasonRule
from domain.errors import DataFileError

BUY_OR_SELL = "您是要买入股票，还是卖出股票？买入股票请按1，卖出股票请按2。"
SETTINGS = DialogSettings.from_config(CONFIG.section("dialog"), CONFIG.section("nlu")["threshold"])


def torn(text: str, *ranking: tuple[str, float], **slots: Any) -> IntentResult:
    """What the NLU makes of `text` when its best intents are `ranking` (an ambiguous best one
    comes out as nlu_fallback, as Rasa's FallbackClassifier reports it)."""
    (best, sure), (_, runner_sure) = ranking[:2]
    ambiguous = sure < SETTINGS.threshold or sure - runner_sure < 0.1
    return IntentResult(text=text, intent="nlu_fallback" if ambiguous else best,
                        confidence=SETTINGS.threshold if ambiguous else sure, slots=slots, ranking=ranking)


def verified(world: World) -> Call:
    call = world.call()
    call.say("查余额", "balance_inquiry")
    call.verify()
    return call


def orders(world: World) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in world.rows("SELECT side, stock, quantity FROM orders")]


def asked_buy_or_sell(call: Call) -> Turn:
    turn = call.hear(torn("那个招商银行两百股", ("stock_buy", 0.5), ("stock_sell", 0.45), stock="600036", quantity=200))
    assert (turn.say, turn.awaiting, turn.function, turn.transaction) == (BUY_OR_SELL, "function", None, None)
    return turn


# Buy or sell.

@pytest.mark.parametrize("answer", ["卖出", "我要卖", "卖", "第二个", "后面那个", "卖出股票", "keys 2"])
def test_buy_or_sell_is_asked_and_the_answer_picks_sell_with_the_slots_kept(world: World, answer: str) -> None:
    call = verified(world)
    asked_buy_or_sell(call)
    # the answer's own intent is no help here: the words (or the key) pick the function
    turn = call.keys("2") if answer == "keys 2" else call.say(answer, "nlu_fallback", 0.3)
    assert (turn.function, turn.awaiting) == ("stock_sell", "confirmation")
    assert turn.slots == {"stock": "600036", "quantity": 200}
    assert "您要卖出招商银行200股" in turn.say and orders(world) == []
    call.keys("1")
    assert orders(world) == [("sell", "600036", 200)]


@pytest.mark.parametrize("answer", ["买入", "买", "第一个", "前面那个", "keys 1"])
def test_buy_or_sell_answered_buy(world: World, answer: str) -> None:
    call = verified(world)
    asked_buy_or_sell(call)
    turn = call.keys("1") if answer == "keys 1" else call.say(answer, "nlu_fallback", 0.3)
    assert (turn.function, turn.slots) == ("stock_buy", {"stock": "600036", "quantity": 200})
    assert "您要买入招商银行200股" in turn.say


def test_an_answer_the_nlu_understood_as_one_of_the_two_picks_it(world: World) -> None:
    call = verified(world)
    asked_buy_or_sell(call)
    turn = call.say("出掉吧", "stock_sell", 0.86)
    assert turn.function == "stock_sell" and turn.slots == {"stock": "600036", "quantity": 200}


def test_an_answer_that_picks_neither_asks_again_then_a_person_takes_over(world: World) -> None:
    call = verified(world)
    asked_buy_or_sell(call)
    turn = call.say("嗯", "nlu_fallback", 0.2)
    assert turn.say == "抱歉，我没有听清。" + BUY_OR_SELL and turn.awaiting == "function"
    assert call.say("好的", "affirm").say == BUY_OR_SELL  # a yes answers nothing here
    call.say("呃", "nlu_fallback", 0.1)
    assert call.keys("7").say == "抱歉，我没有听清。" + BUY_OR_SELL  # a key that is neither: a second miss
    turn = call.say("啊", "nlu_fallback", 0.1)
    assert turn.escalation and world.ticket(turn.escalation)["reason"] == "no_match"
    assert orders(world) == []


def test_another_request_or_a_no_drops_the_question(world: World) -> None:
    call = verified(world)
    asked_buy_or_sell(call)
    turn = call.say("茅台现在多少钱", "stock_quote", 0.97, stock="600519")
    assert turn.function == "stock_quote" and "贵州茅台最新价" in turn.say and turn.awaiting is None
    asked_buy_or_sell(call)
    turn = call.say("不用了", "deny", 0.95)
    assert turn.say == CATALOG.replies["deny"] and turn.awaiting is None
    assert call.keys("2").function is None  # key 2 is the menu's again, not 卖出股票
    assert orders(world) == []


# Transfers: which kind, then which direction.

def test_a_transfer_of_either_kind_is_asked_then_its_direction(world: World) -> None:
    call = verified(world)
    turn = call.hear(torn("转五千块", ("bank_securities_transfer", 0.42), ("transfer", 0.31), amount=5000))
    assert turn.say == "您是要银证转账，还是转账汇款？银证转账请按1，转账汇款请按2。"
    turn = call.say("银证转账", "bank_securities_transfer", 0.93)
    assert (turn.function, turn.slots, turn.awaiting) == ("bank_securities_transfer", {"amount": 5000}, "direction")
    assert turn.say.endswith("请问是银行转证券，还是证券转银行？银行转证券按1，证券转银行按2。")
    turn = call.keys("2")
    assert turn.slots == {"direction": "to_bank", "amount": 5000}
    assert "您要办理证券转银行，金额5000元" in turn.say


def test_a_transfer_said_both_ways_asks_the_direction(world: World) -> None:
    call = verified(world)
    said = "银证转账五千 银行转证券 不对 证券转银行"
    turn = call.say(said, "bank_securities_transfer", 0.9, amount=5000)
    assert turn.awaiting == "direction" and "direction" not in turn.slots
    turn = call.say("证券转银行", "bank_securities_transfer", 0.9)
    assert "您要办理证券转银行，金额5000元" in turn.say


def test_the_other_kind_of_transfer_keeps_the_payee_and_amount(world: World) -> None:
    call = verified(world)
    call.hear(torn("给李四转五百", ("transfer", 0.4), ("bank_securities_transfer", 0.3), payee="李四", amount=500))
    turn = call.say("第一个", "nlu_fallback", 0.3)
    assert turn.function == "transfer" and "您要向李四转账500元" in turn.say


# Requests that are clear are not asked back.

@pytest.mark.parametrize("ranking", [
    (("stock_buy", 0.97), ("stock_sell", 0.02)),  # sure
    (("stock_buy", 0.78), ("stock_sell", 0.18)),  # opposites, but far apart
    (("transfer", 0.7), ("bank_securities_transfer", 0.25)),  # not opposites, and sure enough
    (("stock_buy", 0.5), ("affirm", 0.45)),  # the runner-up is no function
])
def test_a_clear_request_is_not_asked_back(world: World, ranking: tuple[tuple[str, float], ...]) -> None:
    result = torn("买两百股招商银行", *ranking, stock="600036", quantity=200)
    assert torn_between(result, CATALOG, SETTINGS) is None
    turn = verified(world).hear(result)
    assert turn.awaiting != "function" and "您是要" not in turn.say


def test_a_request_in_the_middle_of_a_function_is_not_asked_back(world: World) -> None:
    call = verified(world)
    call.say("买招商银行", "stock_buy", stock="600036")
    turn = call.hear(torn("两百股", ("stock_buy", 0.5), ("stock_sell", 0.45), quantity=200))
    assert (turn.function, turn.awaiting) == ("stock_buy", "confirmation")


def test_the_rule_follows_the_settings() -> None:
    result = torn("", ("stock_buy", 0.6), ("stock_sell", 0.35))
    assert torn_between(result, CATALOG, SETTINGS) is not None
    assert torn_between(result, CATALOG, DialogSettings(ask_margin=0.2)) is None
    unsure = torn("", ("transfer", 0.5), ("pay_bill", 0.4))
    assert torn_between(unsure, CATALOG, SETTINGS) is not None
    assert torn_between(unsure, CATALOG, DialogSettings(ask_below=0.5)) is None
    both = torn("股票买卖两百股", ("stock_buy", 0.9), ("stock_sell", 0.05))  # names both sides
    assert torn_between(both, CATALOG, SETTINGS) is not None
    assert torn_between(torn("买入股票", ("stock_buy", 0.9), ("stock_sell", 0.05)), CATALOG, SETTINGS) is None
    with pytest.raises(AssistantError, match="ask_margin must be a confidence"):
        DialogSettings.from_config({"ask_margin": 1.5}, 0.45)


# Opposites are catalog data.

def test_opposites_name_each_other() -> None:
    pairs = {(f.id, f.opposite) for f in CATALOG.functions.values() if f.opposite}
    assert ("stock_buy", "stock_sell") in pairs and ("stock_sell", "stock_buy") in pairs
    assert all(CATALOG.functions[other].opposite == fid for fid, other in pairs)


@pytest.mark.parametrize("old, new, problem", [
    ("opposite: stock_sell", "opposite: stock_bought", "'stock_buy': opposite: 'stock_bought' is no other function"),
    ("opposite: stock_sell", "opposite: stock_buy", "'stock_buy': opposite: 'stock_buy' is no other function"),
    ("    title: 撤销委托\n", "    title: 撤销委托\n    opposite: stock_buy\n",
     "'order_cancel': opposite: 'stock_buy' is already the opposite of 'stock_sell'"),
])
def test_a_wrong_opposite_is_a_file_error(tmp_path: Path, old: str, new: str, problem: str) -> None:
    intents = Path(shutil.copytree(CONFIG.intents_dir, tmp_path / "intents"))
    securities = intents / "securities.yml"
    text = securities.read_text(encoding="utf-8").replace(old, new)
    securities.write_text(text, encoding="utf-8")
    edited = text.index(new) + new.index("opposite:")
    with pytest.raises(DataFileError) as error:
        Catalog.load(intents)
    assert str(error.value) == f"{securities}:{text.count(chr(10), 0, edited) + 1}: function {problem}"


# A transaction is never carried out on a misheard function or amount: its confirmation names both.

def _transactions() -> list[FunctionSpec]:
    return [f for f in CATALOG.functions.values() if f.action and f.confirm]


def _sample(function: FunctionSpec) -> dict[str, Any]:
    """A value for every slot, as the dialog would hold it."""
    samples = {"amount": 5000, "quantity": 300, "price": 12.5, "stock": "600036", "currency": "USD",
               "bill_type": "electricity", "payee": "李四", "phone_number": "13912345678",
               "when": "2025-01-07T10:00:00", "text": "", "pin": "000000", "fund": "110022", "policy": "car",
               "product": "LC2501", "date": "2025-01-05"}
    return {s.name: s.choices[-1].value if s.choices else samples[s.type] for s in function.slots}


WORDING = Wording(CATALOG, VOCABULARY.display)


def _confirmed(function: FunctionSpec) -> str:
    return render(function.confirm, WORDING.slots(function, _sample(function)))


@pytest.mark.parametrize("function", _transactions(), ids=lambda f: f.id)
def test_every_confirmation_names_what_is_done_and_every_value(function: FunctionSpec) -> None:
    text, said = _confirmed(function), WORDING.slots(function, _sample(function))
    for slot in function.slots:
        if not slot.secret:  # every value the action takes is said back (PINs never)
            assert said[slot.name] in text, f"{function.id}: the confirmation does not say {slot.name}"
    for name, param in function.params.items():
        if param.slot is None and param.value in CATALOG.terms:  # side: buy -> 买入
            assert CATALOG.terms[param.value] in text, f"{function.id}: the confirmation does not say {name}"
            for term, words in CATALOG.terms.items():  # nor the opposite (卖出 in a buy)
                opposite = function.opposite and CATALOG.functions[function.opposite].params[name].value
                assert not (term == opposite and words in text), f"{function.id}: the confirmation says {words}"


def test_functions_that_share_an_action_confirm_differently() -> None:
    """Two functions of one action (buy and sell orders) are told apart when confirmed."""
    functions = _transactions()
    for action in {f.action for f in functions}:
        same = [f for f in functions if f.action == action]
        assert len({_confirmed(f) for f in same}) == len(same), action


# Hand-off reasons.

def test_every_reason_the_queue_ranks_is_one_a_ticket_can_carry() -> None:
    ranked = set(QueueSettings.from_config(CONFIG.section("queue")).reasons)
    assert ranked and ranked <= handoff_reasons(CATALOG)
    assert {"caller_request", "no_match", "locked", "backend_failed", "outcome_unknown", "callback"} <= handoff_reasons(CATALOG)


def test_a_misspelt_reason_in_the_queue_settings_is_refused(world: World) -> None:
    from assistant.dialog.service import DialogService

    with pytest.raises(AssistantError, match="'lockd' is no hand-off reason"):
        DialogService(CATALOG, str, world.bank, world.store, world.clock,
                      queue_settings=QueueSettings({"lockd": ReasonRule(2)}))


# How often the held-out text (tests/data/nlu_holdout.tsv, what `assistant nlu test --holdout` scores)
# would be asked back, each request said with no function in progress.

HOLDOUT = Path(__file__).parent / "data" / "nlu_holdout.tsv"
ASKED_OF_CLEAR = 0.03  # at most this share of the requests the NLU gets right is asked back


@pytest.mark.slow
def test_held_out_requests_are_rarely_asked_back(assistant: Any) -> None:
    from assistant.nlu.eval.examples import read_holdout

    understanding = assistant.understanding
    settings = DialogSettings.from_config(CONFIG.section("dialog"), CONFIG.section("nlu")["threshold"])
    right = asked_right = asked = helped = 0
    examples = read_holdout(HOLDOUT)
    for example in examples:
        result = understanding.understand(example.text, now=example.now or understanding.now())
        pair = torn_between(result, CATALOG, settings)
        correct = result.intent == example.intent
        right += correct
        if pair:
            asked += 1
            asked_right += correct
            helped += not correct and any(example.intent in f.intents for f in pair)
            print(f"asked: {example.text} ({example.intent}) -> {result.ranking[:2]}")
    print(f"ask-back on held-out text: {asked}/{len(examples)} requests asked; {asked_right}/{right} of those the NLU "
          f"got right ({asked_right / right:.1%}); {helped} misunderstood ones put right by asking")
    assert asked_right <= ASKED_OF_CLEAR * right
