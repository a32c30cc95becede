"""The broker: quotes, orders under A-share rules, positions, bank transfers, price alerts."""
from __future__ import annotations

from datetime import datetime, timedelta

from adapters import params
from adapters.base import Outcome, ok
from adapters.params import Refused, yuan
from adapters.sandbox import ledger, market, matching
from adapters.sandbox.banking import debit_account, pay_from_debit
from adapters.sandbox.feed import PriceFeed
from adapters.sandbox.store import Store, stamp
from domain.masking import tail

SIDES = ("buy", "sell")
TRADE_HISTORY_DAYS = 30


class SandboxSecurities:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.feed = PriceFeed(store)

    def _name(self, stock: str) -> str:
        name = self.feed.name(params.stock_code(stock))
        if name is None:
            raise Refused("unknown_stock", stock=stock)
        return name

    def quote(self, stock: str) -> Outcome:
        name = self._name(stock)
        price = self.feed.price_at(stock, self.store.now)
        change = (price.price - price.prev_close) * 100 / price.prev_close
        return ok(
            stock=stock,
            name=name,
            price=yuan(price.price),
            change_pct=f"{change:.2f}",
            prev_close=yuan(price.prev_close),
            time=price.at,
        )

    def place_order(
        self, customer_id: str, side: str, stock: str, quantity: int, price: str | None = None
    ) -> Outcome:
        side = params.choice(side, "side", SIDES)
        name = self._name(stock)
        quantity = params.whole_number(quantity, "quantity")
        limit = params.cents(price, "price") if price is not None else None
        if not market.is_open(self.store.now):
            raise Refused("market_closed")
        last = self.feed.price_at(stock, self.store.now)
        if limit is not None:
            low, high = market.price_band(stock, last.prev_close)
            if not low <= limit <= high:
                raise Refused("price_limit", low=yuan(low), high=yuan(high))
        if side == "sell":
            held = self._shares_available(customer_id, stock)
            if quantity > held:
                raise Refused("insufficient_shares", available=held)
            if quantity % market.LOT and quantity != held:
                raise Refused("lot_size", lot=market.LOT)
        elif quantity % market.LOT:
            raise Refused("lot_size", lot=market.LOT)
        marketable = limit is None or (limit >= last.price if side == "buy" else limit <= last.price)
        order_price = last.price if marketable else limit
        amount = order_price * quantity
        fee = market.fee(side, amount)
        if side == "buy":
            available = self._cash_available(customer_id)
            if amount + fee > available:
                raise Refused("insufficient_funds", available=yuan(available))
        order_id = self.store.next_id("W")
        self.store.con.execute(
            "INSERT INTO orders (id, customer_id, at, side, stock, quantity, limit_price, status, price, fee,"
            " reserved) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)",
            (order_id, customer_id, self.store.stamp, side, stock, quantity, limit, order_price, fee,
             amount + fee if side == "buy" else 0),
        )
        if marketable:
            matching.fill(self.store, order_id, order_price)
            matching.tell_filled(self.store, order_id)
        return ok(
            order_id,
            order_id=order_id,
            status="filled" if marketable else "open",
            name=name,
            side=side,
            stock=stock,
            price=yuan(order_price),
            quantity=quantity,
            amount=yuan(amount),
            fee=yuan(fee),
        )

    def _cash_account(self, customer_id: str) -> ledger.Account:
        account = ledger.customer_account(self.store, customer_id, "securities")
        if account is None:
            raise Refused("no_account")
        return account

    def _cash_available(self, customer_id: str) -> int:
        """Securities cash not held for open buy orders."""
        (reserved,) = self.store.con.execute(
            "SELECT COALESCE(SUM(reserved), 0) FROM orders WHERE customer_id = ? AND status = 'open'",
            (customer_id,),
        ).fetchone()
        return self._cash_account(customer_id).balance - reserved

    def _shares_available(self, customer_id: str, stock: str) -> int:
        """Shares held and not already offered in open sell orders."""
        con = self.store.con
        row = con.execute(
            "SELECT quantity FROM positions WHERE customer_id = ? AND stock = ?", (customer_id, stock)
        ).fetchone()
        (offered,) = con.execute(
            "SELECT COALESCE(SUM(quantity), 0) FROM orders"
            " WHERE customer_id = ? AND stock = ? AND side = 'sell' AND status = 'open'",
            (customer_id, stock),
        ).fetchone()
        return (row[0] if row else 0) - offered

    def cancel_order(self, customer_id: str, order_id: str | None = None) -> Outcome:
        con = self.store.con
        if order_id is None:
            row = con.execute(
                "SELECT * FROM orders WHERE customer_id = ? AND status = 'open' ORDER BY at DESC, id DESC LIMIT 1",
                (customer_id,),
            ).fetchone()
            if row is None:
                raise Refused("no_open_order")
        else:
            row = con.execute(
                "SELECT * FROM orders WHERE customer_id = ? AND id = ?", (customer_id, str(order_id))
            ).fetchone()
            if row is None:
                raise Refused("unknown_order", order_id=order_id)
            if row["status"] != "open":
                raise Refused("not_open", order_id=order_id, status=row["status"])
        con.execute(
            "UPDATE orders SET status = 'cancelled', reserved = 0, closed_at = ? WHERE id = ?",
            (self.store.stamp, row["id"]),
        )
        return ok(
            row["id"],
            order_id=row["id"],
            name=self._name(row["stock"]),
            side=row["side"],
            quantity=row["quantity"],
            price=yuan(row["price"]),
        )

    def orders(self, customer_id: str) -> Outcome:
        rows = self.store.con.execute(
            "SELECT orders.*, instruments.name FROM orders JOIN instruments ON instruments.code = orders.stock"
            " WHERE customer_id = ? ORDER BY at DESC, id DESC",
            (customer_id,),
        ).fetchall()
        items = [
            {
                "order_id": row["id"],
                "time": row["at"],
                "side": row["side"],
                "stock": row["stock"],
                "name": row["name"],
                "quantity": row["quantity"],
                "price": yuan(row["price"]),
                "status": row["status"],
            }
            for row in rows
        ]
        return ok(items=items, count=len(items))

    def positions(self, customer_id: str) -> Outcome:
        rows = self.store.con.execute(
            "SELECT positions.stock, positions.quantity, instruments.name FROM positions"
            " JOIN instruments ON instruments.code = positions.stock WHERE customer_id = ? ORDER BY stock",
            (customer_id,),
        ).fetchall()
        items, value_total = [], 0
        for row in rows:
            price = self.feed.price_at(row["stock"], self.store.now).price
            value_total += price * row["quantity"]
            items.append(
                {
                    "stock": row["stock"],
                    "name": row["name"],
                    "quantity": row["quantity"],
                    "price": yuan(price),
                    "value": yuan(price * row["quantity"]),
                }
            )
        cash = self._cash_account(customer_id).balance
        return ok(
            items=items,
            cash=yuan(cash),
            available=yuan(self._cash_available(customer_id)),
            total=yuan(cash + value_total),
        )

    def bank_transfer(self, customer_id: str, direction: str, amount: str) -> Outcome:
        direction = params.choice(direction, "direction", ("to_securities", "to_bank"))
        fen = params.cents(amount)
        cash = self._cash_account(customer_id)
        if direction == "to_securities":
            bank = pay_from_debit(self.store, customer_id, fen)
            postings, description = [(bank, -fen), (cash, fen)], "银行转证券"
        else:
            available = self._cash_available(customer_id)
            if fen > available:
                raise Refused("insufficient_funds", available=yuan(available))
            bank = debit_account(self.store, customer_id)
            postings, description = [(cash, -fen), (bank, fen)], "证券转银行"
        transaction_id = ledger.record(self.store, "bank_securities", description, postings, customer_id=customer_id)
        return ok(
            transaction_id,
            amount=yuan(fen),
            bank_balance=yuan(ledger.balance(self.store, bank)),
            securities_cash=yuan(ledger.balance(self.store, cash)),
        )

    def price_alert(self, customer_id: str, stock: str, price: str, direction: str | None = None) -> Outcome:
        name = self._name(stock)
        target = params.cents(price, "price")
        if direction is None:
            direction = "above" if target > self.feed.price_at(stock, self.store.now).price else "below"
        direction = params.choice(direction, "direction", ("above", "below"))
        alert_id = self.store.next_id("TX")
        self.store.con.execute(
            "INSERT INTO alerts (id, customer_id, stock, price, direction, at) VALUES (?, ?, ?, ?, ?, ?)",
            (alert_id, customer_id, stock, target, direction, self.store.stamp),
        )
        return ok(alert_id, stock=stock, name=name, price=yuan(target), direction=direction)

    def trades(self, customer_id: str) -> Outcome:
        since = stamp(self.store.now - timedelta(days=TRADE_HISTORY_DAYS))
        rows = self.store.con.execute(
            "SELECT orders.*, instruments.name FROM orders JOIN instruments ON instruments.code = orders.stock"
            " WHERE customer_id = ? AND status = 'filled' AND closed_at >= ? ORDER BY closed_at DESC, id DESC",
            (customer_id, since),
        ).fetchall()
        items = [
            {"date": row["closed_at"][:10], "side": row["side"], "stock": row["stock"], "name": row["name"],
             "quantity": row["quantity"], "price": yuan(row["price"]), "amount": yuan(row["price"] * row["quantity"])}
            for row in rows
        ]
        return ok(items=items, count=len(items))

    def custody(self, customer_id: str) -> Outcome:
        row = self.store.con.execute("SELECT * FROM custody WHERE customer_id = ?", (customer_id,)).fetchone()
        if row is None:
            raise Refused("no_account")
        (holdings,) = self.store.con.execute(
            "SELECT COUNT(*) FROM positions WHERE customer_id = ? AND quantity > 0", (customer_id,)
        ).fetchone()
        return ok(account=tail(self._cash_account(customer_id).number), custodian=row["custodian"],
                  sh_account=tail(row["sh_account"]), sz_account=tail(row["sz_account"]), holdings=holdings)

    def replay(self, until: datetime) -> None:
        """Play the feed's ticks after the last replay up to `until`; a time before that does nothing."""
        matching.replay(self.store, self.feed, until)
