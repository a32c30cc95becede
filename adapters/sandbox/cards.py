"""Credit cards: the latest statement and repayment from the debit account."""
from __future__ import annotations

import sqlite3

from adapters import params
from adapters.base import Outcome, ok
from adapters.params import Refused, yuan
from adapters.sandbox import ledger
from adapters.sandbox.banking import pay_from_debit
from adapters.sandbox.store import Store
from domain.masking import tail


class SandboxCards:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _statement(self, customer_id: str) -> sqlite3.Row:
        row = self.store.con.execute(
            "SELECT * FROM statements WHERE customer_id = ? ORDER BY period_end DESC LIMIT 1", (customer_id,)
        ).fetchone()
        if row is None:
            raise Refused("no_card", card="credit")
        return row

    def statement(self, customer_id: str) -> Outcome:
        row = self._statement(customer_id)
        owed = row["amount_due"] - row["paid"]
        card = ledger.customer_account(self.store, customer_id, "credit")
        return ok(
            amount_due=yuan(owed),
            min_due=yuan(max(0, row["min_due"] - row["paid"])),
            due_date=row["due_date"],
            statement_date=row["period_end"],
            account=tail(card.number) if card else None,
        )

    def repay(self, customer_id: str, amount: str | None = None) -> Outcome:
        row = self._statement(customer_id)
        owed = row["amount_due"] - row["paid"]
        if owed <= 0:
            raise Refused("nothing_due")
        fen = owed if amount is None else params.cents(amount)
        if fen > owed:
            raise Refused("exceeds_due", amount_due=yuan(owed))
        debit = pay_from_debit(self.store, customer_id, fen)
        card = ledger.customer_account(self.store, customer_id, "credit")
        transaction_id = ledger.record(
            self.store, "card_repayment", "信用卡还款", [(debit, -fen), (card, fen)], customer_id=customer_id
        )
        self.store.con.execute("UPDATE statements SET paid = paid + ? WHERE id = ?", (fen, row["id"]))
        return ok(
            transaction_id,
            amount=yuan(fen),
            remaining=yuan(owed - fen),
            balance_after=yuan(ledger.balance(self.store, debit)),
        )
