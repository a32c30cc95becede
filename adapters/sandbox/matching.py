"""Matching: what the price feed's ticks do as they are replayed.

Each tick fills the resting limit orders of its stock that it reaches (at their limit) and fires the
price alerts it crosses, each with an SMS; at 15:00 the orders still open expire and free their cash.
"""
from __future__ import annotations

from datetime import datetime

from adapters.params import yuan
from adapters.sandbox import ledger, market
from adapters.sandbox.feed import FEED_CURSOR, PriceFeed
from adapters.sandbox.notify import send_sms
from adapters.sandbox.store import Store, stamp
from domain.clock import in_beijing

SIDE_NAMES = {"buy": "买入", "sell": "卖出"}


def replay(store: Store, feed: PriceFeed, until: datetime) -> None:
    """Play the feed's ticks after the last replay up to `until`; a time before that does nothing."""
    con = store.con
    cursor = _parse(store.meta(FEED_CURSOR) or stamp(until))
    if until <= cursor:
        return
    watched = [
        row[0]
        for row in con.execute(
            "SELECT stock FROM orders WHERE status = 'open'"
            " UNION SELECT stock FROM alerts WHERE fired_at IS NULL ORDER BY 1"
        )
    ]
    if watched:
        for at, stock, price in feed.ticks(watched, cursor, until):
            tick = Store(con, _parse(at))
            _fill_resting_orders(tick, stock, price)
            _fire_alerts(tick, stock, price)
    _expire_orders(store, until)
    store.set_meta(FEED_CURSOR, stamp(until))


def _parse(text: str) -> datetime:
    return in_beijing(datetime.fromisoformat(text))


def fill(store: Store, order_id: str, price: int) -> None:
    """Execute an order at `price`: cash and fees through the ledger, shares into or out of positions."""
    con = store.con
    order = con.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    customer_id, side, stock, quantity = order["customer_id"], order["side"], order["stock"], order["quantity"]
    amount = price * quantity
    commission = market.commission(amount)
    duty = market.stamp_duty(amount) if side == "sell" else 0
    cash = ledger.customer_account(store, customer_id, "securities")
    settlement = ledger.bank_account(store, ledger.SETTLEMENT)
    fees = ledger.bank_account(store, ledger.FEES)
    (name,) = con.execute("SELECT name FROM instruments WHERE code = ?", (stock,)).fetchone()
    if side == "buy":
        postings = [(cash, -(amount + commission)), (settlement, amount), (fees, commission)]
        con.execute(
            "INSERT INTO positions VALUES (?, ?, ?, ?) ON CONFLICT (customer_id, stock)"
            " DO UPDATE SET quantity = quantity + excluded.quantity, cost = cost + excluded.cost",
            (customer_id, stock, quantity, amount + commission),
        )
    else:
        duty_account = ledger.bank_account(store, ledger.STAMP_DUTY)
        postings = [
            (cash, amount - commission - duty), (settlement, -amount), (fees, commission), (duty_account, duty)
        ]
        held = con.execute(
            "SELECT quantity, cost FROM positions WHERE customer_id = ? AND stock = ?", (customer_id, stock)
        ).fetchone()
        if held["quantity"] == quantity:
            con.execute("DELETE FROM positions WHERE customer_id = ? AND stock = ?", (customer_id, stock))
        else:
            con.execute(
                "UPDATE positions SET quantity = ?, cost = ? WHERE customer_id = ? AND stock = ?",
                (held["quantity"] - quantity, held["cost"] * (held["quantity"] - quantity) // held["quantity"],
                 customer_id, stock),
            )
    ledger.record(store, "trade", f"{SIDE_NAMES[side]}{name}{quantity}股", postings, customer_id=customer_id)
    con.execute(
        "UPDATE orders SET status = 'filled', price = ?, fee = ?, reserved = 0, closed_at = ? WHERE id = ?",
        (price, commission + duty, store.stamp, order_id),
    )


def tell_filled(store: Store, order_id: str) -> None:
    """The SMS that tells the customer an order was filled."""
    order = store.con.execute(
        "SELECT orders.*, name FROM orders JOIN instruments ON instruments.code = orders.stock WHERE id = ?",
        (order_id,),
    ).fetchone()
    _text_customer(
        store,
        order["customer_id"],
        f"您的委托{order_id}已成交：{SIDE_NAMES[order['side']]}{order['name']}({order['stock']})"
        f"{order['quantity']}股，成交价{yuan(order['price'])}元。",
    )


def _fill_resting_orders(tick: Store, stock: str, price: int) -> None:
    orders = tick.con.execute(
        "SELECT orders.id, side, limit_price, quantity, customer_id, name FROM orders"
        " JOIN instruments ON instruments.code = orders.stock"
        " WHERE stock = ? AND status = 'open' AND at < ? ORDER BY at, id",
        (stock, tick.stamp),
    ).fetchall()
    for order in orders:
        limit = order["limit_price"]
        if (price <= limit) if order["side"] == "buy" else (price >= limit):
            fill(tick, order["id"], limit)
            tell_filled(tick, order["id"])


def _fire_alerts(tick: Store, stock: str, price: int) -> None:
    alerts = tick.con.execute(
        "SELECT alerts.*, name FROM alerts JOIN instruments ON instruments.code = alerts.stock"
        " WHERE stock = ? AND fired_at IS NULL AND at < ? ORDER BY at, id",
        (stock, tick.stamp),
    ).fetchall()
    for alert in alerts:
        target = alert["price"]
        if (price >= target) if alert["direction"] == "above" else (price <= target):
            tick.con.execute("UPDATE alerts SET fired_at = ? WHERE id = ?", (tick.stamp, alert["id"]))
            moved = "涨到" if alert["direction"] == "above" else "跌到"
            _text_customer(
                tick,
                alert["customer_id"],
                f"股价提醒：{alert['name']}({stock})最新价{yuan(price)}元，已{moved}您设置的{yuan(target)}元。",
            )


def _text_customer(store: Store, customer_id: str, message: str) -> None:
    (phone,) = store.con.execute("SELECT phone FROM customers WHERE id = ?", (customer_id,)).fetchone()
    send_sms(store, phone, message, customer_id)


def _expire_orders(store: Store, until: datetime) -> None:
    """Orders are good for their day: at 15:00 what is still open expires and frees its cash."""
    for row in store.con.execute("SELECT id, at FROM orders WHERE status = 'open'").fetchall():
        closed = market.close_time(_parse(row["at"]).date())
        if closed <= until:
            store.con.execute(
                "UPDATE orders SET status = 'expired', reserved = 0, closed_at = ? WHERE id = ?",
                (stamp(closed), row["id"]),
            )
