"""One conversation per catalog function, through the real dialog service and the real sandbox bank.

Utterances are fed as the NLU understands them (intent, confidence, canonical slots), so these run
in milliseconds; tests/test_dialog_nlu.py says the same things through the real NLU. After each
conversation the bank's database shows what happened, and nothing secret was written down.
"""
from __future__ import annotations

from conversation import CALLER, CATALOG, CUSTOMER, PIN, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)

DEBIT = "6222021001121234"
CREDIT = "6225880123455678"
SECURITIES = "3100886655"


def test_balance_inquiry(world: World) -> None:
    call = world.call()
    turn = call.say("查一下余额", "balance_inquiry")
    assert turn.awaiting == "pin" and "请用电话按键输入6位电话银行密码" in turn.say
    turn = call.verify()
    assert turn.say.startswith("密码验证通过。您尾号1234的借记卡账户余额为50000元。")
    assert turn.transaction.action == "banking.balance" and turn.awaiting is None
    assert world.balance(DEBIT) == "50000.00"


def test_transaction_history(world: World) -> None:
    call = world.call()
    call.say("查一下交易明细", "transaction_history")
    turn = call.verify()
    assert "最近30天共有7笔交易，最近几笔是：1月4日网上购物-1299元；12月31日餐饮-88元；12月26日王五转入2000元。" in turn.say


def test_transfer(world: World) -> None:
    call = world.call()
    call.say("给李四转五百块", "transfer", payee="李四", amount=500)
    turn = call.verify()
    assert turn.awaiting == "confirmation" and "您要向李四转账500元" in turn.say
    turn = call.say("是", "affirm")
    assert turn.transaction.status == "ok"
    assert f"交易流水号{turn.transaction.id}，账户余额49500元" in turn.say
    assert world.balance(DEBIT) == "49500.00"
    assert world.balance("6222021001125678") == "12500.00"  # 李四's debit card


def test_change_password_by_keys(world: World) -> None:
    world.secrets |= {"802461"}
    call = world.call()
    turn = call.say("我要改密码", "change_password")
    assert turn.awaiting == "old_pin" and "请用电话按键输入原密码" in turn.say
    assert call.keys(PIN).awaiting == "new_pin"
    assert call.keys("802461").awaiting == "new_pin_again"
    assert call.keys("802461").awaiting == "confirmation"
    turn = call.keys("1")
    assert turn.transaction.status == "ok" and "密码修改成功" in turn.say
    verify = world.call()
    verify.say("查余额", "balance_inquiry")
    assert "密码不正确" in verify.keys(PIN).say
    assert "余额为50000元" in verify.keys("802461").say


def test_pay_bill(world: World) -> None:
    call = world.call()
    call.say("交电费", "pay_bill", bill_type="electricity")
    assert call.verify().awaiting == "amount"
    turn = call.say("两百", "inform", amount=200)
    assert "您要缴纳电费200元" in turn.say
    turn = call.keys("1")
    assert "已向国网电力公司缴纳电费200元" in turn.say and "账户余额49800元" in turn.say
    assert world.balance(DEBIT) == "49800.00"


def test_card_loss_of_the_credit_card(world: World) -> None:
    call = world.call()
    turn = call.say("我的信用卡丢了", "card_loss")
    assert turn.slots == {"card": "credit"} and "为您办理信用卡挂失" in turn.say
    turn = call.verify()
    assert "挂失后您的信用卡将暂停使用" in turn.say
    turn = call.say("确认", "affirm")
    assert f"挂失编号{turn.transaction.id}" in turn.say
    (card,) = world.rows("SELECT status, loss_report FROM cards WHERE number = ?", CREDIT)
    assert (card["status"], card["loss_report"]) == ("lost", turn.transaction.id)


def test_credit_card_repay_in_full(world: World) -> None:
    call = world.call()
    call.say("还信用卡", "credit_card_repay")
    turn = call.verify()
    assert turn.awaiting == "confirmation"  # no amount: the whole statement
    turn = call.keys("1")
    assert "本次还款3800元，信用卡还需还款0元" in turn.say
    assert world.balance(DEBIT) == "46200.00"


def test_credit_card_bill(world: World) -> None:
    call = world.call()
    call.say("信用卡账单", "credit_card_bill")
    turn = call.verify()
    assert "信用卡本期还需还款3800元，最低还款380元，到期还款日是1月18日" in turn.say


def test_forex_trade_with_the_side_said_later(world: World) -> None:
    call = world.call()
    call.say("办理外汇买卖", "forex_trade")  # 买 and 卖: no side yet
    assert call.verify().awaiting == "side"
    turn = call.say("买入", "stock_buy", 0.99)  # the phrase answers the question, whatever the NLU thought
    assert turn.awaiting == "currency"
    assert call.keys("1").awaiting == "amount"  # key 1: USD
    turn = call.say("一百", "inform", amount=100)
    assert "您要买入100美元" in turn.say
    turn = call.say("好的", "affirm")
    assert turn.transaction.status == "ok" and "您买入了100美元" in turn.say
    (usd,) = world.rows("SELECT balance FROM accounts WHERE number = ?", f"{DEBIT}-USD")
    assert usd["balance"] == 110000  # 1000.00 + 100.00 in cents


def test_stock_buy_in_one_utterance(world: World) -> None:
    call = world.call()
    call.say("以五十块钱的价格买入两百股中国平安", "stock_buy", price=50, quantity=200, stock="601318")
    turn = call.verify()
    assert turn.awaiting == "confirmation" and "您要以50元买入中国平安200股" in turn.say
    turn = call.keys("1")
    assert turn.transaction.status == "ok" and f"委托编号{turn.transaction.id}" in turn.say
    (order,) = world.rows("SELECT side, stock, quantity, limit_price FROM orders WHERE customer_id = ?", CUSTOMER)
    assert tuple(order) == ("buy", "601318", 200, 5000)


def test_stock_sell(world: World) -> None:
    call = world.call()
    call.say("卖掉招商银行", "stock_sell", stock="600036")
    assert call.verify().awaiting == "quantity"
    turn = call.say("两百股", "inform", quantity=200)
    assert "您要卖出招商银行200股" in turn.say
    turn = call.say("是的", "affirm")
    assert "卖出招商银行200股" in turn.say and "已成交" in turn.say
    assert world.rows("SELECT quantity FROM positions WHERE customer_id = ? AND stock = '600036'", CUSTOMER) == []


def test_order_query_then_order_cancel(world: World) -> None:
    call = world.call()
    call.say("四十六块买一百股中国平安", "stock_buy", stock="601318", quantity=100, price=46)
    call.verify()
    order_id = call.keys("1").transaction.id  # below the market: it waits
    turn = call.say("查一下委托", "order_query")
    assert "您今天共有1笔委托：买入中国平安100股，价格46元，未成交" in turn.say
    assert call.say("撤单", "order_cancel").awaiting == "confirmation"
    turn = call.keys("1")
    assert f"已撤销委托{order_id}，买入中国平安100股" in turn.say
    (order,) = world.rows("SELECT status FROM orders WHERE id = ?", order_id)
    assert order["status"] == "cancelled"


def test_stock_quote_needs_no_pin(world: World) -> None:
    call = world.call(caller=None)
    turn = call.say("茅台多少钱", "stock_quote", stock="600519")
    assert turn.say.startswith("好的，为您查询贵州茅台的最新行情。贵州茅台最新价")
    assert turn.transaction.action == "securities.quote" and turn.awaiting is None


def test_positions(world: World) -> None:
    call = world.call()
    call.say("查持仓", "positions")
    turn = call.verify()
    assert "您的证券账户可用资金100000元，持有：招商银行200股，市值" in turn.say


def test_bank_securities_transfer(world: World) -> None:
    call = world.call()
    call.say("银行转证券一万", "bank_securities_transfer", amount=10000)
    turn = call.verify()
    assert turn.slots == {"direction": "to_securities", "amount": 10000}
    assert "您要办理银行转证券，金额10000元" in turn.say
    call.keys("1")
    assert (world.balance(DEBIT), world.balance(SECURITIES)) == ("40000.00", "110000.00")


def test_price_alert_fires_as_an_sms(world: World) -> None:
    call = world.call()
    call.say("招商银行涨到38块4提醒我", "price_alert", stock="600036", price=38.4)
    turn = call.verify()
    assert "您要在招商银行股价涨到38.4元时收到短信提醒" in turn.say
    turn = call.keys("1")
    assert "已设置招商银行股价涨到38.4元的提醒" in turn.say
    assert world.rows("SELECT * FROM outbox") == []
    world.clock.advance(hours=1)  # the replayed feed passes 38.42 by 11:00
    world.bank.run("securities.quote", {"stock": "600036"}, customer_id=None, key="look")
    sent = world.rows("SELECT phone, text FROM outbox")
    assert [row["phone"] for row in sent] == [CALLER] and "招商银行" in sent[0]["text"]


def test_complaint_gives_a_ticket(world: World) -> None:
    call = world.call()
    turn = call.say("我要投诉", "complaint")
    assert turn.awaiting == "content"
    turn = call.say("取款机吞了我的卡6222021001121234", "nlu_fallback", 0.3)
    ticket = turn.transaction.id
    assert f"投诉单号{ticket}" in turn.say
    (row,) = world.rows("SELECT kind, customer_id, content FROM tickets WHERE id = ?", ticket)
    assert (row["kind"], row["customer_id"]) == ("complaint", CUSTOMER)
    assert row["content"].startswith("取款机吞了我的卡") and row["content"].endswith("1234")


def test_suggestion_from_an_unknown_number(world: World) -> None:
    call = world.call(caller="13500000000")
    call.say("提个建议", "suggestion")
    turn = call.say("希望周末也能办理业务", "nlu_fallback", 0.2)
    (row,) = world.rows("SELECT kind, customer_id FROM tickets WHERE id = ?", turn.transaction.id)
    assert (row["kind"], row["customer_id"]) == ("suggestion", None)


def test_business_info(world: World) -> None:
    call = world.call()
    call.say("咨询一下", "business_info")
    turn = call.say("股票几点开盘", "stock_quote", 0.5)
    assert "A股交易时间为交易日上午9:30至11:30" in turn.say


def test_human_agent_opens_a_ticket(world: World) -> None:
    call = world.call()
    call.say("买点茅台", "stock_buy", stock="600519")
    call.verify()
    turn = call.say("转人工", "human_agent")
    assert turn.say.startswith("好的，正在为您转接人工服务，请稍候。") and turn.escalation
    ticket = world.ticket(turn.escalation)
    assert ticket["reason"] == "caller_request" and ticket["status"] == "waiting"
    assert (ticket["caller"], ticket["customer_id"], ticket["verification"]) == (CALLER, CUSTOMER, "verified")
    assert (ticket["function"], ticket["slots"]) == ("stock_buy", {"stock": "600519"})
    assert ticket["transcript"][0] == "caller: 买点茅台" and ticket["transcript"][-1] == "caller: 转人工"


def test_callback_request(world: World) -> None:
    call = world.call()
    turn = call.say("明天上午十点给我回电话", "callback_request", when="2025-01-07T10:00:00")
    assert turn.awaiting == "phone_number"
    turn = call.keys("13912345678")
    assert "我们将在1月7日10点致电您尾号5678的电话" in turn.say
    turn = call.keys("1")
    (row,) = world.rows("SELECT kind, phone, due FROM tickets WHERE id = ?", turn.transaction.id)
    assert (row["kind"], row["phone"]) == ("callback", "13912345678")
    assert row["due"].startswith("2025-01-07")


def test_every_function_has_a_conversation_here() -> None:
    import test_funds
    import test_insurance
    import test_wealth

    modules = (globals(), vars(test_insurance), vars(test_funds), vars(test_wealth))
    tests = " ".join(name for module in modules for name in module if name.startswith("test_"))
    assert [function for function in CATALOG.functions if function not in tests] == []
