"""Fund conversations through the real dialog and the sandbox bank: orders priced on the right day."""
from __future__ import annotations

from datetime import datetime

from conversation import World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)

DEBIT = "6222021001121234"
CONSUMER = "110022"  # 易方达消费行业股票: 张三 holds 2500 shares at NAV 4.0000


def test_fund_nav(world: World) -> None:
    call = world.call()
    turn = call.say("易方达消费净值多少", "fund_nav", fund=CONSUMER)
    assert "易方达消费行业股票1月3日单位净值4元。" in turn.say  # Monday morning: Friday's NAV


def test_fund_subscribe_before_the_cut_off_is_priced_today(world: World) -> None:
    call = world.call()
    call.say("申购招商白酒五千", "fund_subscribe", fund="161725", amount=5000)
    assert "您要从借记卡申购招商中证白酒指数5000元" in call.verify().say
    turn = call.keys("1")
    assert "按1月6日的净值确认份额，订单号" in turn.say and "下一个交易日" not in turn.say
    (order,) = world.rows("SELECT * FROM fund_orders WHERE id = ?", turn.transaction.id)
    assert (order["trade_date"], order["status"], order["amount"]) == ("2025-01-06", "pending", 500000)
    assert world.balance(DEBIT) == "45000.00"
    world.clock.set(datetime(2025, 1, 6, 15, 1))  # priced at 15:00 of its trade date
    turn = call.say("我的基金", "fund_positions")
    (order,) = world.rows("SELECT * FROM fund_orders WHERE id = ?", order["id"])
    assert order["status"] == "confirmed" and order["shares"] == 509580  # 5000 / 0.9812, in hundredths
    assert "您持有2只基金" in turn.say and "招商中证白酒指数5095.8份" in turn.say


def test_fund_subscribe_after_the_cut_off_is_priced_the_next_trading_day(world: World) -> None:
    world.clock.set(datetime(2025, 1, 10, 15, 30))  # a Friday after 15:00
    call = world.call()
    call.say("买两千富国天惠", "fund_subscribe", fund="161005", amount=2000)
    call.verify()
    turn = call.say("是", "affirm")
    assert "按1月13日的净值确认份额，已过当日15点或非交易日，按下一个交易日的净值确认" in turn.say
    (order,) = world.rows("SELECT trade_date FROM fund_orders WHERE id = ?", turn.transaction.id)
    assert order["trade_date"] == "2025-01-13"  # the next Monday


def test_fund_redeem(world: World) -> None:
    call = world.call()
    call.say("赎回易方达消费", "fund_redeem", fund=CONSUMER)
    assert call.verify().awaiting == "quantity"
    turn = call.say("三千份", "inform", quantity=3000)
    turn = call.say("是", "affirm")
    assert "您可赎回的易方达消费行业股票只有2500份" in turn.say and turn.awaiting == "quantity"
    call.say("一千份", "inform", quantity=1000)
    turn = call.keys("1")
    assert "赎回已受理，易方达消费行业股票1000份按1月6日的净值确认" in turn.say
    world.clock.set(datetime(2025, 1, 7, 9, 0))
    call.say("基金持仓", "fund_positions")
    assert world.balance(DEBIT) == "54000.00"  # 1000 × 4.0000 back on the debit card
    (holding,) = world.rows("SELECT shares FROM fund_holdings WHERE fund = ?", CONSUMER)
    assert holding["shares"] == 150000
    assert world.bank.check_ledger() == []


def test_fund_positions(world: World) -> None:
    call = world.call()
    call.say("我买了哪些基金", "fund_positions")
    turn = call.verify()
    assert "您持有1只基金，市值合计10000元：易方达消费行业股票2500份，净值4元，市值10000元。" in turn.say


def test_fund_plan_set_up_and_stopped(world: World) -> None:
    call = world.call()
    call.say("每月定投招商白酒一千", "fund_plan", fund="161725", amount=1000)
    turn = call.verify()
    assert turn.awaiting == "plan"
    turn = call.keys("1")
    assert "您要开通定投招商中证白酒指数，每月1000元，从借记卡扣款" in turn.say
    turn = call.keys("1")
    assert "开通定投成功，招商中证白酒指数每月6日扣款1000元" in turn.say
    (plan,) = world.rows("SELECT * FROM fund_plans")
    assert (plan["fund"], plan["amount"], plan["day"], plan["status"]) == ("161725", 100000, 6, "active")
    stop = world.call()
    stop.say("停止招商白酒定投", "fund_plan", fund="161725")
    stop.verify()
    turn = stop.say("停止定投", "inform")
    turn = stop.say("是", "affirm")
    assert "停止定投成功" in turn.say
    assert world.rows("SELECT status FROM fund_plans")[0]["status"] == "stopped"
