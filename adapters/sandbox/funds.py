"""Mutual funds: NAVs, subscriptions and redemptions priced on their trade date, holdings, plans.

An order placed before 15:00 on a trading day has that day as its trade date; one placed later (or on
another day) the next trading day. It is priced at 15:00 of its trade date: a subscription becomes
shares, a redemption money in the debit account. Shares are kept in hundredths.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from adapters import params
from adapters.base import Outcome, ok
from adapters.params import Refused, yuan
from adapters.sandbox import ledger, market
from adapters.sandbox.banking import debit_account, pay_from_debit
from adapters.sandbox.store import Store
from domain.clock import in_beijing

SETTLEMENT = "bank:fund_settlement"  # the fund companies' side of subscriptions and redemptions
CUT_OFF = time(15, 0)
PLANS = ("start", "stop")
LATEST_PLAN_DAY = 28  # a monthly plan's debit day exists in every month


def trade_date(moment: datetime) -> date:
    """The day whose NAV prices an order placed at `moment`."""
    moment = in_beijing(moment)
    day = moment.date()
    if market.is_trading_day(day) and moment.time() < CUT_OFF:
        return day
    day += timedelta(days=1)
    while not market.is_trading_day(day):
        day += timedelta(days=1)
    return day


def shares_text(hundredths: int) -> str:
    return yuan(hundredths)  # two decimals, like money


class SandboxFunds:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _fund(self, fund: str) -> tuple[str, str, Decimal]:
        code = fund if isinstance(fund, str) else str(fund)
        row = self.store.con.execute("SELECT * FROM funds WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise Refused("unknown_fund", fund=fund)
        return row["code"], row["name"], Decimal(row["nav"])

    def _late(self, day: date) -> str | None:
        """What the caller is told when an order misses today's pricing."""
        if day == in_beijing(self.store.now).date():
            return None
        return "已过当日15点或非交易日，按下一个交易日的净值确认"

    def nav(self, fund: str) -> Outcome:
        code, name, nav = self._fund(fund)
        now = in_beijing(self.store.now)
        day = market.last_trading_day(now)
        if day == now.date() and now.time() < CUT_OFF:  # today's NAV comes out after the close
            day = _trading_day_before(day)
        return ok(fund=code, name=name, nav=f"{nav:.4f}", nav_date=day.isoformat())

    def subscribe(self, customer_id: str, fund: str, amount: str) -> Outcome:
        code, name, _ = self._fund(fund)
        fen = params.cents(amount)
        debit = pay_from_debit(self.store, customer_id, fen)
        settlement = ledger.bank_account(self.store, SETTLEMENT)
        order_id = self.store.next_id("JJ")  # 基金
        ledger.record(self.store, "fund_subscription", f"申购{name}", [(debit, -fen), (settlement, fen)],
                      customer_id=customer_id)
        day = trade_date(self.store.now)
        self.store.con.execute(
            "INSERT INTO fund_orders (id, customer_id, at, side, fund, amount, trade_date) VALUES (?, ?, ?, 'buy', ?, ?, ?)",
            (order_id, customer_id, self.store.stamp, code, fen, day.isoformat()),
        )
        return ok(order_id, order_id=order_id, fund=code, name=name, amount=yuan(fen), trade_date=day.isoformat(),
                  **_present(late=self._late(day)))

    def redeem(self, customer_id: str, fund: str, shares: str) -> Outcome:
        code, name, _ = self._fund(fund)
        hundredths = params.cents(shares, "shares")
        available = self._available(customer_id, code)
        if hundredths > available:
            raise Refused("insufficient_shares", name=name, available=shares_text(available))
        order_id = self.store.next_id("JJ")
        day = trade_date(self.store.now)
        self.store.con.execute(
            "INSERT INTO fund_orders (id, customer_id, at, side, fund, shares, trade_date) VALUES (?, ?, ?, 'sell', ?, ?, ?)",
            (order_id, customer_id, self.store.stamp, code, hundredths, day.isoformat()),
        )
        return ok(order_id, order_id=order_id, fund=code, name=name, shares=shares_text(hundredths),
                  trade_date=day.isoformat(), **_present(late=self._late(day)))

    def _available(self, customer_id: str, fund: str) -> int:
        """Shares held and not in a redemption waiting to be priced."""
        con = self.store.con
        row = con.execute("SELECT shares FROM fund_holdings WHERE customer_id = ? AND fund = ?",
                          (customer_id, fund)).fetchone()
        (pending,) = con.execute(
            "SELECT COALESCE(SUM(shares), 0) FROM fund_orders WHERE customer_id = ? AND fund = ? AND side = 'sell'"
            " AND status = 'pending'", (customer_id, fund)).fetchone()
        return (row[0] if row else 0) - pending

    def positions(self, customer_id: str) -> Outcome:
        rows = self.store.con.execute(
            "SELECT fund_holdings.*, funds.name, funds.nav FROM fund_holdings JOIN funds ON funds.code = fund"
            " WHERE customer_id = ? AND shares > 0 ORDER BY fund", (customer_id,)).fetchall()
        items, total = [], 0
        for row in rows:
            value = params.fen_of(Decimal(row["shares"]) / 100 * Decimal(row["nav"]))
            total += value
            items.append({"fund": row["fund"], "name": row["name"], "shares": shares_text(row["shares"]),
                          "nav": row["nav"], "value": yuan(value)})
        (pending,) = self.store.con.execute(
            "SELECT COUNT(*) FROM fund_orders WHERE customer_id = ? AND status = 'pending'", (customer_id,)).fetchone()
        return ok(items=items, count=len(items), total=yuan(total), **_present(pending=pending or None))

    def plan(self, customer_id: str, plan: str, fund: str, amount: str | None = None) -> Outcome:
        plan = params.choice(plan, "plan", PLANS)
        code, name, _ = self._fund(fund)
        con = self.store.con
        if plan == "stop":
            row = con.execute("SELECT id FROM fund_plans WHERE customer_id = ? AND fund = ? AND status = 'active'",
                              (customer_id, code)).fetchone()
            if row is None:
                raise Refused("no_plan")
            con.execute("UPDATE fund_plans SET status = 'stopped' WHERE id = ?", (row["id"],))
            return ok(row["id"], plan_id=row["id"], fund=code, name=name)
        if amount is None:
            raise Refused("amount_needed")
        fen = params.cents(amount)
        debit_account(self.store, customer_id)  # the plan debits this account every month
        day = min(in_beijing(self.store.now).day, LATEST_PLAN_DAY)
        plan_id = self.store.next_id("DT")  # 定投
        con.execute("INSERT INTO fund_plans VALUES (?, ?, ?, ?, ?, 'active', ?)",
                    (plan_id, customer_id, code, fen, day, self.store.stamp))
        return ok(plan_id, plan_id=plan_id, fund=code, name=name, amount=yuan(fen), day=day)

    def price_due_orders(self) -> None:
        """Price every order whose trade date's 15:00 has passed, at the fund's NAV."""
        now = in_beijing(self.store.now)
        con = self.store.con
        due = con.execute("SELECT fund_orders.*, funds.nav AS fund_nav, funds.name FROM fund_orders"
                          " JOIN funds ON funds.code = fund WHERE status = 'pending' ORDER BY at, id").fetchall()
        for order in due:
            if in_beijing(datetime.combine(date.fromisoformat(order["trade_date"]), CUT_OFF)) > now:
                continue
            nav = Decimal(order["fund_nav"])
            if order["side"] == "buy":
                shares = int((Decimal(order["amount"]) / nav).quantize(Decimal(1), rounding=ROUND_DOWN))
                con.execute("INSERT INTO fund_holdings VALUES (?, ?, ?) ON CONFLICT (customer_id, fund)"
                            " DO UPDATE SET shares = shares + excluded.shares",
                            (order["customer_id"], order["fund"], shares))
                con.execute("UPDATE fund_orders SET status = 'confirmed', shares = ?, nav = ? WHERE id = ?",
                            (shares, str(nav), order["id"]))
            else:
                fen = params.fen_of(Decimal(order["shares"]) / 100 * nav)
                debit = debit_account(self.store, order["customer_id"])
                settlement = ledger.bank_account(self.store, SETTLEMENT)
                ledger.record(self.store, "fund_redemption", f"赎回{order['name']}", [(settlement, -fen), (debit, fen)],
                              customer_id=order["customer_id"])
                con.execute("UPDATE fund_holdings SET shares = shares - ? WHERE customer_id = ? AND fund = ?",
                            (order["shares"], order["customer_id"], order["fund"]))
                con.execute("UPDATE fund_orders SET status = 'confirmed', amount = ?, nav = ? WHERE id = ?",
                            (fen, str(nav), order["id"]))


def _trading_day_before(day: date) -> date:
    day -= timedelta(days=1)
    while not market.is_trading_day(day):
        day -= timedelta(days=1)
    return day


def _present(**values: object) -> dict[str, object]:
    """The values that are not None (an outcome leaves out what does not apply)."""
    return {name: value for name, value in values.items() if value is not None}
