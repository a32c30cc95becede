"""Core banking: callers, PINs, the debit account, transfers, lost cards."""
from __future__ import annotations

import re
from datetime import timedelta

from adapters import params
from adapters.base import Outcome, ok, rejected
from adapters.params import Refused, yuan
from adapters.sandbox import ledger
from adapters.sandbox.pins import MAX_FAILURES, hash_pin, pin_matches, weakness
from adapters.sandbox.store import Store
from domain.masking import tail

DAILY_TRANSFER_LIMIT = 5_000_000  # fen: 50,000 yuan a day by phone
HISTORY_DAYS = 30
HISTORY_ITEMS = 10
_ACCOUNT_NUMBER = re.compile(r"\d{16,19}")


def debit_account(store: Store, customer_id: str) -> ledger.Account:
    account = ledger.customer_account(store, customer_id, "debit")
    if account is None:
        raise Refused("no_account")
    return account


def pay_from_debit(store: Store, customer_id: str, amount: int) -> ledger.Account:
    """The customer's debit account, if it holds `amount`; else insufficient_funds."""
    account = debit_account(store, customer_id)
    if account.balance < amount:
        raise Refused("insufficient_funds", balance=yuan(account.balance))
    return account


class SandboxBanking:
    def __init__(self, store: Store) -> None:
        self.store = store

    def identify(self, phone: str) -> Outcome:
        digits = re.sub(r"\D", "", str(phone))
        digits = digits[2:] if len(digits) == 13 and digits.startswith("86") else digits
        row = self.store.con.execute("SELECT id, name FROM customers WHERE phone = ?", (digits,)).fetchone()
        return ok(customer_id=row["id"], name=row["name"]) if row else rejected("unknown_caller")

    def verify_pin(self, customer_id: str, pin: str) -> Outcome:
        return self._check_pin(customer_id, pin) or ok(attempts_left=MAX_FAILURES)

    def _check_pin(self, customer_id: str, pin: str) -> Outcome | None:
        """None if the PIN is right (failures reset); else the rejection, the failure counted."""
        if not isinstance(pin, str) or not re.fullmatch(r"\d{6}", pin):
            raise params.bad_request("a PIN is 6 digits")
        con = self.store.con
        row = con.execute(
            "SELECT pin_salt, pin_hash, pin_failures FROM customers WHERE id = ?", (customer_id,)
        ).fetchone()
        if pin_matches(pin, row["pin_salt"], row["pin_hash"]):
            con.execute("UPDATE customers SET pin_failures = 0 WHERE id = ?", (customer_id,))
            return None
        failures = row["pin_failures"] + 1
        con.execute("UPDATE customers SET pin_failures = ? WHERE id = ?", (failures, customer_id))
        if failures >= MAX_FAILURES:
            return rejected("locked", attempts_left=0)
        return rejected("wrong_pin", attempts_left=MAX_FAILURES - failures)

    def balance(self, customer_id: str) -> Outcome:
        account = debit_account(self.store, customer_id)
        return ok(balance=yuan(account.balance), currency="CNY", account=tail(account.number))

    def history(self, customer_id: str, since: str | None = None, until: str | None = None) -> Outcome:
        today = self.store.now.date()
        last = params.iso_date(until, "until") if until else today
        first = params.iso_date(since, "since") if since else last - timedelta(days=HISTORY_DAYS)
        if first > last:
            raise params.bad_request(f"since {first} is after until {last}")
        account = debit_account(self.store, customer_id)
        rows = self.store.con.execute(
            "SELECT transactions.at, postings.amount, transactions.description FROM postings"
            " JOIN transactions ON transactions.id = postings.transaction_id"
            " WHERE postings.account_id = ? AND date(transactions.at) BETWEEN ? AND ?"
            " ORDER BY transactions.at DESC, postings.id DESC",
            (account.id, first.isoformat(), last.isoformat()),
        ).fetchall()
        items = [
            {"date": row["at"][:10], "amount": yuan(row["amount"]), "description": row["description"]}
            for row in rows[:HISTORY_ITEMS]
        ]
        return ok(items=items, count=len(rows), since=first.isoformat(), until=last.isoformat())

    def transfer(self, customer_id: str, payee: str, amount: str) -> Outcome:
        fen = params.cents(amount)
        name, number, bank = self._payee(customer_id, payee)
        store = self.store
        sent_today = store.con.execute(
            "SELECT COALESCE(SUM(-postings.amount), 0) FROM transactions"
            " JOIN postings ON postings.transaction_id = transactions.id"
            " JOIN accounts ON accounts.id = postings.account_id"
            " WHERE transactions.kind = 'transfer' AND transactions.customer_id = ?"
            " AND accounts.customer_id = ? AND accounts.kind = 'debit' AND date(transactions.at) = ?",
            (customer_id, customer_id, store.now.date().isoformat()),
        ).fetchone()[0]
        if sent_today + fen > DAILY_TRANSFER_LIMIT:
            left = DAILY_TRANSFER_LIMIT - sent_today
            raise Refused("limit_exceeded", limit=yuan(DAILY_TRANSFER_LIMIT), left=yuan(left))
        source = pay_from_debit(store, customer_id, fen)
        target = ledger.account_by_number(store, number) if bank == "本行" else None
        sender = store.con.execute("SELECT name FROM customers WHERE id = ?", (customer_id,)).fetchone()[0]
        transaction_id = ledger.record(
            store,
            "transfer",
            f"{sender}转账给{name}",
            [(source, -fen), (target or ledger.bank_account(store, ledger.CLEARING), fen)],
            customer_id=customer_id,
        )
        return ok(
            transaction_id,
            payee=name,
            bank=bank,
            account=tail(number),
            amount=yuan(fen),
            balance_after=yuan(ledger.balance(store, source)),
        )

    def _payee(self, customer_id: str, payee: str) -> tuple[str, str, str]:
        """(name, account number, bank) of a saved payee's name or of an account at this bank."""
        payee = params.text(payee, "payee", limit=100)
        con = self.store.con
        row = con.execute(
            "SELECT name, account_number, bank FROM payees WHERE customer_id = ? AND name = ?", (customer_id, payee)
        ).fetchone()
        if row:
            return row["name"], row["account_number"], row["bank"]
        if _ACCOUNT_NUMBER.fullmatch(payee):
            owner = con.execute(
                "SELECT customers.name FROM accounts JOIN customers ON customers.id = accounts.customer_id"
                " WHERE accounts.number = ? AND accounts.kind = 'debit' AND customers.id != ?",
                (payee, customer_id),
            ).fetchone()
            if owner:
                return owner[0], payee, "本行"
        raise Refused("unknown_payee")

    def report_card_loss(self, customer_id: str, card: str | None = None) -> Outcome:
        kind = params.choice(card or "debit", "card", ("debit", "credit"))
        con = self.store.con
        row = con.execute(
            "SELECT number, status, loss_report FROM cards WHERE customer_id = ? AND kind = ?", (customer_id, kind)
        ).fetchone()
        if row is None:
            raise Refused("no_card", card=kind)
        if row["status"] == "lost":
            raise Refused("already_reported", card=kind, report=row["loss_report"])
        report = self.store.next_id("GS")
        con.execute("UPDATE cards SET status = 'lost', loss_report = ? WHERE number = ?", (report, row["number"]))
        return ok(report, card=kind, account=tail(row["number"]))

    def change_pin(self, customer_id: str, old_pin: str, new_pin: str) -> Outcome:
        failure = self._check_pin(customer_id, old_pin)
        if failure:
            return failure
        if not isinstance(new_pin, str):
            raise params.bad_request("new_pin must be text")
        problem = weakness(new_pin) or ("the same as the old PIN" if new_pin == old_pin else None)
        if problem:
            return rejected("weak_pin", problem=problem)
        salt, pin_hash = hash_pin(new_pin)
        self.store.con.execute(
            "UPDATE customers SET pin_salt = ?, pin_hash = ? WHERE id = ?", (salt, pin_hash, customer_id)
        )
        return ok()
