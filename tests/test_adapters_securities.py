"""The sandbox broker: A-share rules, fees, positions, and the replayed feed filling orders and
firing alerts. The clock starts on Monday 2025-01-06 at 10:00 (tests/sandbox_bank.py)."""
from __future__ import annotations

import shutil
from datetime import datetime
from decimal import Decimal

import pytest
from sandbox_bank import (  # noqa: F401 - fixtures
    LI_SI,
    MONDAY_10AM,
    WANG_FANG,
    ZHANG_SAN,
    Bank,
    bank,
    knowledge,
    seeded_bank_file,
    vocabulary,
)

from adapters.sandbox import SandboxBackend
from adapters.sandbox.market import price_band
from domain.clock import PinnedClock

CMB = "600036"  # 招商银行: 张三 holds 200


def ticks_after(bank: Bank, stock: str, until: str = "2025-01-06 15:00:00") -> list[int]:
    """Prices (fen) of the stock's ticks after the clock, up to `until`."""
    bank.run("securities.quote", customer=None, stock=stock)  # makes sure the day's ticks exist
    now = bank.clock().strftime("%Y-%m-%d %H:%M:%S")
    return [row[0] for row in bank.rows(
        "SELECT price FROM ticks WHERE stock = ? AND at > ? AND at <= ? ORDER BY at", stock, now, until)]


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def test_a_quote_gives_the_last_tick_against_the_previous_close(bank):
    quote = bank.run("securities.quote", customer=None, stock=CMB).data
    assert quote["name"] == "招商银行" and quote["prev_close"] == "38.20" and quote["time"] == "2025-01-06 10:00:00"
    change = (Decimal(quote["price"]) - Decimal("38.20")) / Decimal("38.20") * 100
    assert quote["change_pct"] == f"{change:.2f}"


def test_quotes_of_unknown_or_malformed_stocks(bank):
    assert bank.run("securities.quote", customer=None, stock="999999").reason == "unknown_stock"
    assert bank.run("securities.quote", customer=None, stock="60003").reason == "bad_request"


def test_every_instrument_in_the_lookup_table_can_be_quoted(bank, vocabulary):
    for code in vocabulary.values_in("stock"):
        assert bank.run("securities.quote", customer=None, stock=code).status == "ok", code


def test_the_feed_stays_inside_the_daily_price_limits(bank):
    bank.clock.set(datetime(2025, 1, 6, 9, 0))
    for stock in (CMB, "300750", "688256"):
        ticks = ticks_after(bank, stock)
        low, high = price_band(stock, bank.value("SELECT prev_close FROM feed_days WHERE stock = ?", stock))
        assert len(ticks) == 50 and all(low <= tick <= high for tick in ticks)  # 09:30-11:30, 13:00-15:00


def test_the_feed_replays_identically_in_another_bank(bank, seeded_bank_file, tmp_path, vocabulary, knowledge):
    other_file, clock = tmp_path / "other.sqlite", PinnedClock(MONDAY_10AM)
    shutil.copy(seeded_bank_file, other_file)
    other = Bank(SandboxBackend(other_file, vocabulary=vocabulary, clock=clock, knowledge=knowledge), clock, other_file)
    for day in (datetime(2025, 1, 6, 10, 0), datetime(2025, 1, 7, 14, 0)):
        bank.clock.set(day)
        other.clock.set(day)
        assert ticks_after(bank, CMB, until="2025-01-08") == ticks_after(other, CMB, until="2025-01-08")


@pytest.mark.parametrize("moment", [
    datetime(2025, 1, 6, 9, 0),    # before the open
    datetime(2025, 1, 6, 12, 0),   # lunch break
    datetime(2025, 1, 6, 15, 30),  # after the close
    datetime(2025, 1, 11, 10, 0),  # Saturday
])
def test_orders_outside_trading_hours_are_refused(bank, moment):
    bank.clock.set(moment)
    assert bank.run("securities.place_order", side="buy", stock=CMB, quantity=100).reason == "market_closed"


def test_limit_prices_outside_the_daily_band_are_refused(bank):
    outcome = bank.run("securities.place_order", side="buy", stock=CMB, quantity=100, price="42.03")
    assert (outcome.reason, outcome.data) == ("price_limit", {"low": "34.38", "high": "42.02"})
    chinext = bank.run("securities.place_order", side="buy", stock="300750", quantity=100, price="290.72")
    assert chinext.status == "ok"  # 15 % over the previous close: inside ChiNext's 20 %


def test_shares_are_bought_in_lots_of_100(bank):
    assert bank.run("securities.place_order", side="buy", stock=CMB, quantity=150).reason == "lot_size"
    assert bank.run("securities.place_order", side="sell", stock=CMB, quantity=150).reason == "lot_size"


def test_an_odd_lot_can_only_be_sold_whole(bank):
    assert bank.run("securities.place_order", customer=WANG_FANG, side="sell", stock="601988",
                    quantity=50).reason == "lot_size"
    sold = bank.run("securities.place_order", customer=WANG_FANG, side="sell", stock="601988", quantity=150)
    assert sold.data["status"] == "filled"
    assert bank.rows("SELECT * FROM positions WHERE customer_id = ?", WANG_FANG) == []


def test_orders_need_the_cash_or_the_shares(bank):
    moutai = bank.run("securities.place_order", side="buy", stock="600519", quantity=100)
    assert (moutai.reason, moutai.data) == ("insufficient_funds", {"available": "100000.00"})
    assert bank.run("securities.place_order", side="sell", stock=CMB, quantity=300).reason == "insufficient_shares"
    assert bank.run("securities.place_order", side="sell", stock="600519", quantity=100).reason == "insufficient_shares"
    assert bank.value("SELECT COUNT(*) FROM orders") == 0


def test_a_market_buy_fills_at_the_last_price_and_pays_the_minimum_commission(bank):
    price = Decimal(bank.run("securities.quote", customer=None, stock=CMB).data["price"])
    outcome = bank.run("securities.place_order", side="buy", stock=CMB, quantity=100)
    amount = price * 100
    assert outcome.data == {"order_id": outcome.id, "status": "filled", "name": "招商银行", "side": "buy",
                            "stock": CMB, "price": f"{price:.2f}", "quantity": 100, "amount": f"{amount:.2f}",
                            "fee": "5.00"}
    assert bank.balance(ZHANG_SAN, "securities") == Decimal("100000.00") - amount - 5
    assert bank.value("SELECT quantity FROM positions WHERE customer_id = ? AND stock = ?", ZHANG_SAN, CMB) == 300
    assert bank.bank_balance("bank:fees") == Decimal("5.00")
    assert bank.bank_balance("bank:securities_settlement") == amount


def test_a_large_buy_pays_commission_at_the_rate(bank):
    price = Decimal(bank.run("securities.quote", customer=None, stock=CMB).data["price"])
    outcome = bank.run("securities.place_order", side="buy", stock=CMB, quantity=2000)
    commission = (price * 2000 * Decimal("0.00025")).quantize(Decimal("0.01"))
    assert commission > 5 and outcome.data["fee"] == f"{commission:.2f}"


def test_a_sell_pays_commission_and_stamp_duty(bank):
    price = Decimal(bank.run("securities.quote", customer=None, stock=CMB).data["price"])
    outcome = bank.run("securities.place_order", side="sell", stock=CMB, quantity=200)
    amount = price * 200
    duty = (amount * Decimal("0.0005")).quantize(Decimal("0.01"))
    assert outcome.data["fee"] == f"{5 + duty:.2f}"
    assert bank.balance(ZHANG_SAN, "securities") == Decimal("100000.00") + amount - 5 - duty
    assert bank.bank_balance("bank:stamp_duty") == duty
    assert bank.rows("SELECT * FROM positions WHERE customer_id = ?", ZHANG_SAN) == []


def test_a_resting_limit_order_holds_its_cash_and_is_filled_by_the_feed(bank):
    ticks = ticks_after(bank, CMB)
    price = Decimal(bank.run("securities.quote", customer=None, stock=CMB).data["price"])
    limit = min(ticks)
    assert Decimal(limit) / 100 < price, "the seeded feed dips below the 10:00 price later that day"
    order = bank.run("securities.place_order", side="buy", stock=CMB, quantity=500, price=yuan(limit))
    assert order.data["status"] == "open"
    held = Decimal(limit) * 5 + 5
    assert bank.run("securities.positions").data["available"] == f"{Decimal('100000') - held:.2f}"
    assert bank.balance(ZHANG_SAN, "securities") == Decimal("100000.00")

    bank.clock.set(datetime(2025, 1, 6, 15, 0))
    bank.backend.replay()
    assert bank.value("SELECT status FROM orders WHERE id = ?", order.id) == "filled"
    assert bank.balance(ZHANG_SAN, "securities") == Decimal("100000.00") - held
    assert bank.run("securities.positions").data["items"][0]["quantity"] == 700
    assert bank.outbox() == [f"【示范银行】您的委托{order.id}已成交：买入招商银行(600036)500股，成交价{yuan(limit)}元。"]


def test_an_order_the_feed_never_reaches_expires_at_the_close(bank):
    low, _ = price_band(CMB, 3820)
    order = bank.run("securities.place_order", side="buy", stock=CMB, quantity=100, price=yuan(low))
    bank.clock.set(datetime(2025, 1, 6, 14, 59))
    assert bank.run("securities.orders").data["items"][0]["status"] == "open"
    bank.clock.set(datetime(2025, 1, 6, 15, 1))
    assert bank.run("securities.orders").data["items"][0]["status"] == "expired"
    assert bank.run("securities.positions").data["available"] == "100000.00"
    assert bank.value("SELECT closed_at FROM orders WHERE id = ?", order.id) == "2025-01-06 15:00:00"


def test_cancelling_orders(bank):
    low, _ = price_band(CMB, 3820)
    first = bank.run("securities.place_order", side="buy", stock=CMB, quantity=100, price=yuan(low))
    second = bank.run("securities.place_order", side="sell", stock=CMB, quantity=100, price="42.00")
    assert bank.run("securities.place_order", side="sell", stock=CMB, quantity=200).reason == "insufficient_shares"
    cancelled = bank.run("securities.cancel_order")
    assert cancelled.id == second.id and cancelled.data["side"] == "sell"
    assert bank.run("securities.cancel_order", order_id=first.id).data["price"] == yuan(low)
    assert bank.run("securities.cancel_order").reason == "no_open_order"
    assert bank.run("securities.cancel_order", order_id="W202501069999").reason == "unknown_order"
    assert bank.run("securities.cancel_order", order_id=first.id).reason == "not_open"
    assert [item["status"] for item in bank.run("securities.orders").data["items"]] == ["cancelled", "cancelled"]
    assert bank.run("securities.positions").data["available"] == "100000.00"


def test_orders_of_another_customer_are_unknown(bank):
    low, _ = price_band(CMB, 3820)
    order = bank.run("securities.place_order", side="buy", stock=CMB, quantity=100, price=yuan(low))
    assert bank.run("securities.cancel_order", customer=LI_SI, order_id=order.id).reason == "unknown_order"
    assert bank.run("securities.orders", customer=LI_SI).data == {"items": [], "count": 0}


def test_positions_value_the_holdings_at_the_last_price(bank):
    data = bank.run("securities.positions", customer=LI_SI).data
    assert [item["stock"] for item in data["items"]] == ["600519", "601318"]
    values = sum(Decimal(item["value"]) for item in data["items"])
    assert data["cash"] == "20000.00" and data["total"] == f"{values + 20000:.2f}"
    moutai = data["items"][0]
    assert Decimal(moutai["value"]) == Decimal(moutai["price"]) * 100


def test_moving_money_between_bank_and_securities(bank):
    outcome = bank.run("securities.bank_transfer", direction="to_securities", amount=10000)
    assert outcome.data == {"amount": "10000.00", "bank_balance": "40000.00", "securities_cash": "110000.00"}
    back = bank.run("securities.bank_transfer", direction="to_bank", amount="2500.50")
    assert (back.data["bank_balance"], back.data["securities_cash"]) == ("42500.50", "107499.50")
    assert bank.run("securities.bank_transfer", direction="to_bank", amount=200000).reason == "insufficient_funds"
    assert bank.run("securities.bank_transfer", direction="to_securities", amount=60000).reason == "insufficient_funds"
    assert bank.run("securities.bank_transfer", direction="sideways", amount=1).reason == "bad_request"


def test_a_price_alert_fires_once_with_an_sms(bank):
    target = max(ticks_after(bank, CMB))
    alert = bank.run("securities.price_alert", stock=CMB, price=yuan(target))
    assert alert.id.startswith("TX20250106") and alert.data == {
        "stock": CMB, "name": "招商银行", "price": yuan(target), "direction": "above"}
    bank.clock.set(datetime(2025, 1, 6, 15, 0))
    bank.backend.replay()
    fired_at = bank.value("SELECT fired_at FROM alerts WHERE id = ?", alert.id)
    assert fired_at is not None
    assert bank.outbox() == [f"【示范银行】股价提醒：招商银行(600036)最新价{yuan(target)}元，已涨到您设置的{yuan(target)}元。"]
    assert bank.value("SELECT phone FROM outbox") == "13800138000"
    bank.clock.set(datetime(2025, 1, 7, 15, 0))
    bank.backend.replay()
    assert len(bank.outbox()) == 1


def test_a_price_alert_below_the_price_waits_for_a_fall(bank):
    ticks = ticks_after(bank, CMB)
    alert = bank.run("securities.price_alert", stock=CMB, price=yuan(min(ticks) - 1))
    assert alert.data["direction"] == "below"
    bank.clock.set(datetime(2025, 1, 6, 15, 0))
    bank.backend.replay()
    assert bank.outbox() == [] and bank.value("SELECT fired_at FROM alerts") is None
