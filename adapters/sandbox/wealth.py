"""Wealth products and savings bonds bought from the debit account, under the suitability rule
(适当性管理): a customer assessed Cn may buy products of risk level Rn and below, nothing above."""
from __future__ import annotations

from datetime import date, timedelta

from adapters import params
from adapters.base import Outcome, ok
from adapters.knowledge_base import Product
from adapters.params import Refused, yuan
from adapters.sandbox import ledger
from adapters.sandbox.banking import debit_account, pay_from_debit
from adapters.sandbox.store import Store
from domain.clock import in_beijing

SETTLEMENT = "bank:wealth_settlement"  # the products' custody account


class SandboxWealth:
    def __init__(self, store: Store, products: dict[str, Product]) -> None:
        self.store = store
        self.products = products

    def _product(self, code: str) -> Product:
        product = self.products.get(str(code))
        if product is None:
            raise Refused("unknown_product", product=code)
        return product

    def purchase(self, customer_id: str, product: str, amount: str) -> Outcome:
        item = self._product(product)
        fen = params.cents(amount)
        today = in_beijing(self.store.now).date()
        row = self.store.con.execute("SELECT level FROM risk_profiles WHERE customer_id = ?", (customer_id,)).fetchone()
        level = row["level"] if row else None
        if level is None or int(level[1:]) < int(item.risk[1:]):
            raise Refused("unsuitable", customer_level=level or "未评估", product_risk=item.risk)
        if not item.on_sale(today):
            raise Refused("not_on_sale", name=item.name, sale_start=item.sale_start.isoformat(),
                          sale_end=item.sale_end.isoformat())
        if fen < item.minimum * 100:
            raise Refused("below_minimum", name=item.name, minimum=item.minimum)
        debit = pay_from_debit(self.store, customer_id, fen)
        custody = ledger.bank_account(self.store, SETTLEMENT)
        transaction_id = ledger.record(self.store, "wealth_purchase", f"购买{item.name}",
                                       [(debit, -fen), (custody, fen)], customer_id=customer_id)
        self.store.con.execute("INSERT INTO wealth_holdings VALUES (?, ?, ?, ?, ?, 'held')",
                               (transaction_id, customer_id, item.code, fen, self.store.stamp))
        value_date = max(today, item.sale_end) + timedelta(days=1)  # interest from the day after the sales period
        return ok(transaction_id, product=item.code, name=item.name, amount=yuan(fen),
                  value_date=value_date.isoformat(), maturity=(value_date + timedelta(days=item.term)).isoformat(),
                  balance_after=yuan(ledger.balance(self.store, debit)))

    def redeem(self, customer_id: str, product: str) -> Outcome:
        item = self._product(product)
        rows = self.store.con.execute(
            "SELECT id, amount, at FROM wealth_holdings WHERE customer_id = ? AND product = ? AND status = 'held'",
            (customer_id, item.code)).fetchall()
        if not rows:
            raise Refused("no_holding")
        if not item.redeemable:
            maturity = max(min(row["at"][:10] for row in rows), item.sale_end.isoformat())
            raise Refused("not_redeemable", name=item.name,
                          maturity=_days_after(maturity, item.term + 1))
        fen = sum(row["amount"] for row in rows)
        debit = debit_account(self.store, customer_id)
        custody = ledger.bank_account(self.store, SETTLEMENT)
        transaction_id = ledger.record(self.store, "wealth_redemption", f"赎回{item.name}",
                                       [(custody, -fen), (debit, fen)], customer_id=customer_id)
        self.store.con.executemany("UPDATE wealth_holdings SET status = 'redeemed' WHERE id = ?",
                                   [(row["id"],) for row in rows])
        return ok(transaction_id, product=item.code, name=item.name, amount=yuan(fen),
                  balance_after=yuan(ledger.balance(self.store, debit)))


def _days_after(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()
