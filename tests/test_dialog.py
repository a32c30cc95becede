"""The dialog across turns: several slots at once, corrections, cancelling, questions in between, yes
and no by voice and keys, misses, the key menu, PINs, people, and outcomes that went wrong.

Through the real dialog service and the real sandbox bank (tests/conversation.py); utterances are fed as
the NLU understands them. Back ends that lose answers or are down wrap the real one.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from conversation import CALLER, CATALOG, CUSTOMER, PIN, Call, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)

from adapters.base import FAILED, UNKNOWN, Backend, Outcome
from assistant.core.frames import INBOUND, OUTBOUND, CallStarted, ReplyText
from assistant.dialog.responder import Responder

EXAMPLES = CATALOG.replies["nlu_fallback"]
MENU_TOP = "请按键选择：按1，签约客户，按2，投诉建议，按3，业务咨询，按4，人工服务。返回上一级请按星号键，人工服务请按0。"


def orders(world: World) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in world.rows("SELECT side, stock, quantity, limit_price FROM orders")]


def verified_call(world: World, **kwargs: Any) -> Call:
    call = world.call(**kwargs)
    call.say("查余额", "balance_inquiry")
    call.verify()
    return call


# Filling slots: several at once, across turns, corrected.

def test_an_order_said_in_one_breath_goes_straight_to_confirmation(world: World) -> None:
    call = verified_call(world)
    turn = call.say("以十块钱的价格买入两百股中国平安", "stock_buy", price=10, quantity=200, stock="601318")
    assert turn.awaiting == "confirmation"
    assert turn.say == ("好的，买入中国平安200股，价格10元。您要以10元买入中国平安200股，"
                        "确认请说“是”或按1，取消请说“不”或按2。")


def test_slots_are_filled_across_turns_in_catalog_order(world: World) -> None:
    call = verified_call(world)
    assert call.say("我要买股票", "stock_buy").awaiting == "stock"
    assert call.say("中国平安", "nlu_fallback", 0.45, stock="601318").awaiting == "quantity"
    turn = call.say("两百股", "stock_buy", 0.62, quantity=200)
    assert turn.awaiting == "confirmation" and "您要买入中国平安200股" in turn.say


def test_a_bare_sum_heard_as_a_price_answers_an_amount_question(world: World) -> None:
    call = verified_call(world)
    assert call.say("交电费", "pay_bill", bill_type="electricity").awaiting == "amount"
    assert call.say("一千块", "inform", price=1000).awaiting == "confirmation"


def test_a_correction_while_confirming_updates_the_slot_and_confirms_again(world: World) -> None:
    call = verified_call(world)
    call.say("买两百股中国平安", "stock_buy", quantity=200, stock="601318")
    turn = call.say("不对，是三百股", "deny", 0.49, quantity=300)
    assert turn.awaiting == "confirmation" and "您要买入中国平安300股" in turn.say
    call.say("是", "affirm")
    assert orders(world) == [("buy", "601318", 300, None)]


def test_a_correction_while_filling_replaces_the_value(world: World) -> None:
    call = verified_call(world)
    call.say("买中国平安", "stock_buy", stock="601318")
    turn = call.say("不是这只，是招商银行", "inform", stock="600036")
    assert turn.awaiting == "quantity" and turn.slots == {"stock": "600036"}


def test_a_value_the_catalog_refuses_is_said_and_asked_again(world: World) -> None:
    call = verified_call(world)
    turn = call.say("买一百五十股中国平安", "stock_buy", stock="601318", quantity=150)
    assert turn.say.endswith("买入数量要是100股的整数倍。请问买多少股？")
    assert turn.awaiting == "quantity" and "quantity" not in turn.slots
    turn = call.say("给李四转六万", "transfer", payee="李四", amount=60000)
    assert "电话银行单笔转账最多5万元。请问转账金额是多少元？" in turn.say


def test_a_refusal_by_the_bank_asks_for_the_value_again_under_a_new_key(world: World) -> None:
    call = verified_call(world)
    call.say("以八十块买一百股中国平安", "stock_buy", stock="601318", quantity=100, price=80)
    turn = call.keys("1")
    assert turn.transaction.reason == "price_limit" and turn.awaiting == "price"
    assert "可以委托的价格是45.32元到55.4元。请问委托价格是多少元？" in turn.say
    turn = call.keys("48*5")  # * is the decimal point
    assert "您要以48.5元买入中国平安100股" in turn.say
    assert call.keys("1").transaction.status == "ok"
    assert orders(world) == [("buy", "601318", 100, 4850)]


def test_an_unknown_payee_is_asked_for_again(world: World) -> None:
    call = verified_call(world)
    call.say("给赵六转一百", "transfer", payee="赵六", amount=100)
    turn = call.keys("1")
    assert turn.say == "没有找到收款人赵六。请问转给谁？可以说已保存的收款人姓名。"
    turn = call.say("王五", "inform", payee="王五")
    assert turn.awaiting == "confirmation" and "您要向王五转账100元" in turn.say


# Yes and no, by voice and by keys; once only.

def test_yes_twice_runs_the_transaction_once(world: World) -> None:
    call = verified_call(world)
    call.say("买一百股中国平安", "stock_buy", stock="601318", quantity=100)
    first = call.say("是", "affirm")
    again = call.say("是", "affirm")
    assert first.transaction.status == "ok" and again.transaction is None
    assert again.say == CATALOG.replies["affirm"]
    assert len(orders(world)) == 1


def test_no_by_key_cancels_and_a_stray_key_asks_again(world: World) -> None:
    call = verified_call(world)
    call.say("给李四转五百", "transfer", payee="李四", amount=500)
    turn = call.keys("7")
    assert turn.awaiting == "confirmation" and "您要向李四转账500元" in turn.say
    turn = call.keys("2")
    assert turn.say == "好的，已为您取消。请问还有什么可以帮您？" and turn.awaiting is None
    assert world.balance("6222021001121234") == "50000.00"


@pytest.mark.parametrize("words", ["算了", "不用了"])
def test_cancel_while_filling(world: World, words: str) -> None:
    call = verified_call(world)
    call.say("买中国平安", "stock_buy", stock="601318")
    turn = call.say(words, "deny", 0.99)
    assert turn.say.startswith("好的，已为您取消。") and turn.awaiting is None
    assert call.say("是", "affirm").transaction is None and orders(world) == []


def test_cancelling_a_complaint_is_not_its_content(world: World) -> None:
    call = world.call()
    call.say("我要投诉", "complaint")
    turn = call.say("算了", "deny", 0.99)
    assert turn.transaction is None and world.rows("SELECT * FROM tickets") == []


# Questions in between.

def test_a_quote_in_the_middle_of_an_order_is_answered_then_the_order_resumes(world: World) -> None:
    call = verified_call(world)
    call.say("买两百股中国平安", "stock_buy", quantity=200, stock="601318")
    turn = call.say("茅台现在多少钱", "stock_quote", 0.98, stock="600519")
    assert turn.transaction.action == "securities.quote" and turn.function == "stock_quote"
    assert "贵州茅台最新价" in turn.say
    assert "我们继续办理买入股票。您要买入中国平安200股" in turn.say
    assert (turn.awaiting, call.dialog.task.values) == ("confirmation", {"stock": "601318", "quantity": 200})
    call.keys("1")
    assert orders(world) == [("buy", "601318", 200, None)]


def test_a_transfer_begun_in_the_middle_of_an_order_can_be_cancelled_alone(world: World) -> None:
    call = verified_call(world)
    call.say("买中国平安", "stock_buy", stock="601318")
    assert call.say("先给李四转五百", "transfer", payee="李四", amount=500).awaiting == "confirmation"
    turn = call.say("算了", "deny")
    assert turn.say == "好的，已为您取消。我们继续办理买入股票。请问买多少股？"
    assert call.say("三百股", "inform", quantity=300).awaiting == "confirmation"


def test_a_choice_phrase_answers_the_question_whatever_the_intent(world: World) -> None:
    call = verified_call(world)
    call.say("银证转账", "bank_securities_transfer")
    turn = call.say("证券转银行", "stock_sell", 0.9)
    assert turn.slots == {"direction": "to_bank"} and turn.awaiting == "amount"


# Misses, the key menu, people.

def test_three_misses_in_a_row_put_the_caller_through_to_a_person(world: World) -> None:
    call = world.call()
    first = call.say("嗯嗯啊", "nlu_fallback", 0.3)
    assert first.say == EXAMPLES and first.awaiting is None
    second = call.say("那个那个", "greet", 0.2)  # too unsure counts as not understood
    assert second.say == "抱歉，我没有听清。" + MENU_TOP and second.awaiting == "menu"
    third = call.say("呃", "nlu_fallback", 0.1)
    assert third.say.startswith("抱歉，我没有听清。正在为您转接人工服务，请稍候。")
    ticket = world.ticket(third.escalation)
    assert (ticket["reason"], ticket["verification"], ticket["caller"]) == ("no_match", "unverified", CALLER)
    assert len(ticket["transcript"]) == 5  # three caller turns, the two replies before the last
    after = call.say("喂", "greet")
    assert after.say == "正在为您转接人工服务，请稍候。" and after.escalation is None


def test_an_understood_turn_resets_the_misses(world: World) -> None:
    call = world.call()
    call.say("嗯", "nlu_fallback", 0.2)
    call.say("你好", "greet")
    assert call.say("嗯", "nlu_fallback", 0.2).say == EXAMPLES


def test_a_second_miss_on_a_number_offers_keys(world: World) -> None:
    call = verified_call(world)
    call.say("转账给李四", "transfer", payee="李四")
    call.say("呃", "nlu_fallback", 0.2)
    turn = call.say("嗯", "nlu_fallback", 0.2)
    assert turn.say == "抱歉，我没有听清。请问转账金额是多少元？您也可以用电话按键输入，以井号键结束。"
    assert "您要向李四转账300元" in call.keys("300#").say


def test_the_key_menu_leads_to_a_function_with_back_and_a_wrong_key(world: World) -> None:
    call = world.call()
    turn = call.say("按键服务", "key_menu")
    assert turn.say == MENU_TOP and turn.awaiting == "menu"
    assert "按1，借记卡，按2，信用卡" in call.keys("1").say
    assert "没有这个选项" in call.keys("9").say
    assert "按1，账户查询" in call.keys("1").say
    assert call.keys("*").say.startswith("请按键选择：按1，借记卡")  # back up one level
    call.keys("1")
    assert "按1，余额查询，按2，交易明细" in call.keys("1").say
    turn = call.keys("1")
    assert (turn.function, turn.awaiting) == ("balance_inquiry", "pin")
    assert "余额为50000元" in call.verify().say


def test_keys_pressed_with_nothing_asked_choose_from_the_top_menu(world: World) -> None:
    call = world.call()
    assert "按1，投诉，按2，意见建议" in call.keys("2").say
    turn = call.keys("0")
    assert turn.escalation and world.ticket(turn.escalation)["reason"] == "caller_request"


def test_keys_cannot_answer_a_question_for_words(world: World) -> None:
    call = world.call()
    call.say("我要投诉", "complaint")
    turn = call.keys("123")
    assert turn.say == "这个问题请您用语音回答。请您简要说明遇到的问题，我们会尽快为您处理。"


# PINs.

def test_a_wrong_pin_then_the_right_one(world: World) -> None:
    world.secrets |= {"111111"}
    call = world.call()
    call.say("查余额", "balance_inquiry")
    wrong = call.keys("111111")
    assert wrong.say == "密码不正确，您还可以再试2次，请重新输入。" and wrong.awaiting == "pin"
    assert "余额为50000元" in call.keys(PIN).say


def test_three_wrong_pins_lock_and_put_the_caller_through(world: World) -> None:
    world.secrets |= {"111111", "222222", "333333"}
    call = world.call()
    call.say("买两百股中国平安", "stock_buy", stock="601318", quantity=200)
    call.keys("111111")
    call.keys("222222")
    turn = call.keys("333333")
    assert turn.say.startswith("密码错误次数过多，已经被锁定。正在为您转接人工服务，请稍候。")
    ticket = world.ticket(turn.escalation)
    assert (ticket["reason"], ticket["verification"], ticket["customer_id"]) == ("locked", "locked", CUSTOMER)
    assert ticket["function"] == "stock_buy" and ticket["transcript"][1].startswith("assistant: 好的，买入中国平安200股")
    assert all("按键****" == line[len("caller: "):] for line in ticket["transcript"][2:] if line.startswith("caller"))
    again = world.call()
    again.say("查余额", "balance_inquiry")
    assert again.keys(PIN).escalation  # locked even with the right PIN


def test_a_short_pin_costs_no_attempt(world: World) -> None:
    call = world.call()
    call.say("查余额", "balance_inquiry")
    turn = call.keys("1472#")
    assert turn.say == "密码是6位数字，请重新输入。" and turn.transaction is None


@pytest.mark.parametrize("text", ["147258", "我的密码是147258"])
def test_a_spoken_pin_is_refused_and_never_echoed(world: World, text: str) -> None:
    call = world.call()
    call.say("查余额", "balance_inquiry")
    turn = call.say(text, "goodbye", 0.99, amount=147258)
    assert turn.say == "为了您的资金安全，请不要说出密码，请用电话按键输入。"
    assert PIN not in turn.heard and turn.awaiting == "pin" and turn.transaction is None


def test_keys_for_another_function_are_not_taken_for_the_pin_left_behind(world: World) -> None:
    call = world.call()
    assert call.say("查余额", "balance_inquiry").awaiting == "pin"
    turn = call.say("预约回电", "callback_request")
    assert turn.awaiting != "pin"
    call.keys("13800138")
    assert not world.rows("SELECT * FROM audit WHERE action = 'banking.verify_pin'")


def test_words_without_digits_while_a_pin_is_asked_for(world: World) -> None:
    call = world.call()
    call.say("买两百股中国平安", "stock_buy", stock="601318", quantity=200)
    assert call.say("好的", "affirm").say == "请用电话按键输入6位电话银行密码，以井号键结束。"
    turn = call.say("不对，是三百股", "inform", quantity=300)
    assert turn.awaiting == "pin" and turn.slots["quantity"] == 300
    assert call.say("算了", "deny").say == "好的，已为您取消。请问还有什么可以帮您？"


def test_a_pin_said_with_nothing_asked_is_not_used(world: World) -> None:
    call = world.call()
    turn = call.say("密码是147258", "change_password", 0.99, amount=147258)
    assert turn.say.startswith("为了您的资金安全") and turn.heard == "密码是****"


def test_a_caller_the_bank_does_not_know_cannot_do_what_needs_a_pin(world: World) -> None:
    for caller in ("13500000000", None):
        call = world.call(caller=caller)
        turn = call.say("查余额", "balance_inquiry")
        assert "无法通过您的来电号码确认身份" in turn.say and turn.awaiting is None


# Password change.

def test_new_pins_that_differ_are_asked_for_again(world: World) -> None:
    world.secrets |= {"802461", "802462"}
    call = world.call()
    call.say("改密码", "change_password")
    call.keys(PIN)
    call.keys("802461")
    turn = call.keys("802462")
    assert turn.say == "两次输入的新密码不一致。请输入6位新密码，以井号键结束。"
    assert turn.awaiting == "new_pin" and turn.slots == {"old_pin": "****"}


def test_a_weak_new_pin_and_a_wrong_old_pin(world: World) -> None:
    world.secrets |= {"123456", "999999", "802461"}
    call = world.call()
    call.say("改密码", "change_password")
    call.keys("999999")
    call.keys("123456")
    call.keys("123456")
    turn = call.keys("1")
    assert turn.transaction.reason == "wrong_pin" and turn.awaiting == "old_pin"
    assert turn.say.startswith("原密码不正确，您还可以再试2次。")
    call.keys(PIN)
    assert call.turns[-1].awaiting == "confirmation"
    turn = call.keys("1")
    assert turn.transaction.reason == "weak_pin" and turn.awaiting == "new_pin"
    call.keys("802461")
    call.keys("802461")
    assert call.keys("1").say.startswith("密码修改成功")


# Hours, and outcomes that went wrong.

def test_orders_are_not_taken_out_of_trading_hours(world: World) -> None:
    world.clock.set(datetime(2025, 1, 4, 10, 0))  # a Saturday
    call = verified_call(world)
    turn = call.say("买两百股中国平安", "stock_buy", stock="601318", quantity=200)
    assert "现在不是股票交易时间" in turn.say and turn.awaiting is None
    assert turn.transaction is None


class LosingAnswers:
    """The real bank, but the first `lost` answers to `action` are lost on the way back."""

    def __init__(self, bank: Backend, action: str, lost: int) -> None:
        self.bank, self.action, self.lost = bank, action, lost

    def run(self, action: str, params: dict[str, Any], *, customer_id: str | None, key: str) -> Outcome:
        outcome = self.bank.run(action, params, customer_id=customer_id, key=key)
        if action == self.action and self.lost:
            self.lost -= 1
            return Outcome(UNKNOWN, reason="timeout")
        return outcome


class Down:
    """The real bank, with `action`'s system down: it fails before anything happens."""

    def __init__(self, bank: Backend, action: str) -> None:
        self.bank, self.action = bank, action

    def run(self, action: str, params: dict[str, Any], *, customer_id: str | None, key: str) -> Outcome:
        if action == self.action:
            return Outcome(FAILED, reason="backend_down")
        return self.bank.run(action, params, customer_id=customer_id, key=key)


def test_a_lost_answer_is_settled_with_the_same_key(world: World) -> None:
    call = verified_call(world, backend=LosingAnswers(world.bank, "securities.place_order", lost=1))
    call.say("买一百股中国平安", "stock_buy", stock="601318", quantity=100)
    turn = call.keys("1")
    assert turn.transaction.status == "ok" and "委托已提交" in turn.say
    assert len(orders(world)) == 1


def test_an_outcome_still_unknown_is_told_truthfully_and_handed_to_a_person(world: World) -> None:
    call = verified_call(world, backend=LosingAnswers(world.bank, "banking.transfer", lost=2))
    call.say("给李四转五百", "transfer", payee="李四", amount=500)
    turn = call.keys("1")
    assert turn.say.startswith("办理结果暂时无法确认，我们会核实后短信通知您。正在为您转接人工服务，请稍候。")
    ticket = world.ticket(turn.escalation)
    assert (ticket["reason"], ticket["function"]) == ("outcome_unknown", "transfer")
    assert ticket["slots"] == {"payee": "李四", "amount": 500}
    assert world.balance("6222021001121234") == "49500.00"  # it did happen, once
    runs = world.rows("SELECT key, replayed FROM audit WHERE action = 'banking.transfer'")
    assert len({row["key"] for row in runs}) == 1 and [row["replayed"] for row in runs] == [0, 1]


def test_a_back_end_that_is_down_changes_nothing_and_hands_over(world: World) -> None:
    call = verified_call(world, backend=Down(world.bank, "bills.pay"))
    call.say("交两百电费", "pay_bill", bill_type="electricity", amount=200)
    turn = call.keys("1")
    assert turn.say.startswith("抱歉，系统暂时无法办理，这笔业务没有执行。正在为您转接人工服务")
    assert world.ticket(turn.escalation)["reason"] == "backend_failed"
    assert world.balance("6222021001121234") == "50000.00"


def test_an_insufficient_balance_is_said(world: World) -> None:
    call = verified_call(world)
    call.say("给李四转四万五", "transfer", payee="李四", amount=45000)
    call.keys("1")
    call.say("再给李四转一万", "transfer", payee="李四", amount=10000)
    turn = call.keys("1")
    assert turn.transaction.reason in ("insufficient_funds", "limit_exceeded")
    assert "没有办理" in turn.say and turn.awaiting is None


# Other turns.

def test_a_greeting_in_the_middle_asks_the_question_again(world: World) -> None:
    call = verified_call(world)
    call.say("买中国平安", "stock_buy", stock="601318")
    turn = call.say("你好", "greet")
    assert turn.say == CATALOG.replies["greet"] + "请问买多少股？"


def test_goodbye_leaves_nothing_waiting(world: World) -> None:
    call = verified_call(world)
    call.say("买中国平安", "stock_buy", stock="601318")
    turn = call.say("没事了再见", "goodbye")
    assert turn.say == CATALOG.replies["goodbye"] and turn.awaiting is None


def test_every_turn_is_stored_redacted(world: World) -> None:
    call = world.call()
    call.say("查余额", "balance_inquiry")
    call.verify()
    rows = world.store_rows("SELECT seq, heard, awaiting FROM turns ORDER BY seq")
    assert [tuple(r.values()) for r in rows] == [(1, "查余额", "pin"), (2, "按键****", None)]
    call.dialog.close()
    (row,) = world.store_rows("SELECT caller, ended_at FROM calls")
    assert row["caller"] == CALLER and row["ended_at"]


@pytest.mark.parametrize("direction, opening", [(INBOUND, "greeting"), (OUTBOUND, "agent_call_greeting")])
def test_a_call_with_no_script_opens_with_the_greeting_of_its_direction(world: World, direction: str,
                                                                        opening: str) -> None:
    # An outbound call with no script is one a preview or progressive campaign dialled for an agent.
    responder = Responder(world.dialogs().open(CALLER), CATALOG)
    said = [f.text for f in responder.process(CallStarted("c1", CALLER, direction)) if isinstance(f, ReplyText)]
    assert said == [CATALOG.prompts[opening]]
