"""Wealth products, bonds and the securities additions through the real dialog and the sandbox bank."""
from __future__ import annotations

from conversation import World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)

DEBIT = "6222021001121234"


def test_wealth_product_info(world: World) -> None:
    call = world.call()
    turn = call.say("鑫享稳盈收益多少", "wealth_product_info", product="LC2501")
    assert ("鑫享稳盈180天：期限180天，业绩比较基准年化2.85%，风险等级R2，10000元起购，募集期1月2日到1月15日，"
            "封闭期内不能赎回。") in turn.say
    turn = call.say("现在有哪些理财在卖", "wealth_product_info")
    assert ("目前在售的有：鑫享稳盈180天，风险等级R2，业绩比较基准年化2.85%；智选权益增强，风险等级R4，"
            "业绩比较基准年化4.5%；天天盈现金管理，风险等级R1，业绩比较基准年化1.85%。") in turn.say


def test_wealth_purchase_within_the_customers_risk_level(world: World) -> None:
    call = world.call()
    call.say("买五万鑫享稳盈", "wealth_purchase", product="LC2501", amount=50000)
    assert "您要从借记卡购买鑫享稳盈180天50000元" in call.verify().say
    turn = call.keys("1")
    assert turn.transaction.status == "ok" and "1月16日起息，到期日7月15日" in turn.say
    assert world.balance(DEBIT) == "0.00"
    (holding,) = world.rows("SELECT product, amount, status FROM wealth_holdings")
    assert tuple(holding) == ("LC2501", 5000000, "held")


def test_wealth_purchase_above_the_customers_risk_level_is_refused_and_goes_to_a_person(world: World) -> None:
    call = world.call()
    call.say("买十万智选权益增强", "wealth_purchase", product="LC2502", amount=50000)
    call.verify()
    turn = call.keys("1")
    assert turn.transaction.reason == "unsuitable"
    assert "您的风险评估等级是C3，这款产品的风险等级是R4" in turn.say and turn.escalation is not None
    assert world.ticket(turn.escalation)["reason"] == "unsuitable"
    assert world.rows("SELECT * FROM wealth_holdings") == [] and world.balance(DEBIT) == "50000.00"


def test_wealth_purchase_below_the_minimum_asks_again(world: World) -> None:
    call = world.call()
    call.say("买五千鑫享稳盈", "wealth_purchase", product="LC2501", amount=5000)
    call.verify()
    turn = call.keys("1")
    assert "鑫享稳盈180天10000元起购" in turn.say and turn.awaiting == "amount"


def test_wealth_redeem(world: World) -> None:
    call = world.call()
    call.say("买两万天天盈", "wealth_purchase", product="LC2503", amount=20000)
    call.verify()
    call.keys("1")
    assert world.balance(DEBIT) == "30000.00"
    turn = call.say("把天天盈赎回", "wealth_redeem", product="LC2503")
    turn = call.keys("1")
    assert "天天盈现金管理20000元已回到借记卡" in turn.say
    assert world.balance(DEBIT) == "50000.00"
    call.say("买鑫享稳盈一万", "wealth_purchase", product="LC2501", amount=10000)
    call.keys("1")
    call.say("赎回鑫享稳盈", "wealth_redeem", product="LC2501")
    turn = call.keys("1")
    assert "封闭式产品，到期日7月15日之前不能赎回" in turn.say
    assert world.bank.check_ledger() == []


def test_bond_purchase(world: World) -> None:
    call = world.call()
    call.say("买国债", "bond_purchase", amount=10000)
    assert call.verify().awaiting == "product"
    turn = call.say("三年期国债", "inform", product="GZ2501")
    assert "您要从借记卡购买三年期储蓄国债10000元" in turn.say
    turn = call.keys("1")
    assert turn.transaction.status == "ok" and world.balance(DEBIT) == "40000.00"
    (holding,) = world.rows("SELECT product FROM wealth_holdings")
    assert holding["product"] == "GZ2501"


def test_trade_history_and_the_fill_sms(world: World) -> None:
    call = world.call()
    call.say("买一百股招商银行", "stock_buy", stock="600036", quantity=100)
    call.verify()
    order = call.keys("1").transaction.id
    (sms,) = world.rows("SELECT text FROM outbox WHERE text LIKE ?", f"%{order}%")
    assert "已成交：买入招商银行(600036)100股" in sms["text"]
    turn = call.say("历史成交", "trade_history")
    assert "最近30天共成交1笔：1月6日买入招商银行100股" in turn.say


def test_custody_info(world: World) -> None:
    call = world.call()
    call.say("证券托管资料", "custody_info")
    turn = call.verify()
    assert ("您的证券资金账户尾号6655，托管在示范证券北京建国门营业部，上海股东账户尾号6789，深圳股东账户尾号6789，"
            "指定交易和托管状态正常，现有1只股票托管在这里。") in turn.say
