"""Bill payment to the six billers, from the debit account."""
from __future__ import annotations

import re

from adapters import params
from adapters.base import Outcome, ok
from adapters.params import Refused, yuan
from adapters.sandbox import ledger
from adapters.sandbox.banking import pay_from_debit
from adapters.sandbox.store import Store

_BILL_ACCOUNT = re.compile(r"[0-9A-Za-z-]{4,30}")


class SandboxBills:
    def __init__(self, store: Store) -> None:
        self.store = store

    def pay(self, customer_id: str, bill_type: str, amount: str, account: str | None = None) -> Outcome:
        con = self.store.con
        biller = con.execute("SELECT * FROM billers WHERE bill_type = ?", (str(bill_type),)).fetchone()
        if biller is None:
            raise params.bad_request(f"no biller for bill type {bill_type!r}")
        if account is None:
            row = con.execute(
                "SELECT number FROM bill_accounts WHERE customer_id = ? AND bill_type = ?", (customer_id, bill_type)
            ).fetchone()
            if row is None:
                raise Refused("no_bill_account", bill_type=bill_type)
            account = row[0]
        elif not isinstance(account, str) or not _BILL_ACCOUNT.fullmatch(account):
            raise params.bad_request(f"account must be the customer's number at the biller, not {account!r}")
        fen = params.cents(amount)
        debit = pay_from_debit(self.store, customer_id, fen)
        payee = ledger.account_by_number(self.store, ledger.biller_account(bill_type))
        transaction_id = ledger.record(
            self.store, "bill", f"{biller['name']}缴费", [(debit, -fen), (payee, fen)], customer_id=customer_id
        )
        return ok(
            transaction_id,
            bill_type=bill_type,
            biller=biller["name"],
            account=account,
            amount=yuan(fen),
            balance_after=yuan(ledger.balance(self.store, debit)),
        )
