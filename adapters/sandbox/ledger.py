"""Double-entry bookkeeping: every money movement is postings that sum to zero per currency.

Customer accounts (debit, credit card, securities cash, foreign currency) and the bank's own
accounts (equity, clearing, fees, stamp duty, securities settlement, forex positions, billers) all
live in `accounts`; `check` proves that no money was created or lost.
"""
from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass

from adapters.sandbox.store import Store

# The bank's own accounts, by number.
EQUITY = "bank:equity"  # where opening balances come from
CLEARING = "bank:clearing"  # money to and from other banks and merchants
FEES = "bank:fees"  # commission income
STAMP_DUTY = "bank:stamp_duty"  # collected on share sales for the tax office
SETTLEMENT = "bank:securities_settlement"  # the exchange's side of every trade


def fx_position(currency: str) -> str:
    return f"bank:fx:{currency}"


def biller_account(bill_type: str) -> str:
    return f"biller:{bill_type}"


@dataclass(frozen=True)
class Account:
    id: int
    number: str
    currency: str
    balance: int


def _account(row: sqlite3.Row | None) -> Account | None:
    return Account(row["id"], row["number"], row["currency"], row["balance"]) if row else None


def customer_account(store: Store, customer_id: str, kind: str, currency: str = "CNY") -> Account | None:
    row = store.con.execute(
        "SELECT * FROM accounts WHERE customer_id = ? AND kind = ? AND currency = ?",
        (customer_id, kind, currency),
    ).fetchone()
    return _account(row)


def account_by_number(store: Store, number: str) -> Account | None:
    return _account(store.con.execute("SELECT * FROM accounts WHERE number = ?", (number,)).fetchone())


def open_account(
    store: Store, number: str, kind: str, name: str, *, customer_id: str | None = None, currency: str = "CNY"
) -> Account:
    store.con.execute(
        "INSERT INTO accounts (number, customer_id, kind, currency, name) VALUES (?, ?, ?, ?, ?)",
        (number, customer_id, kind, currency, name),
    )
    account = account_by_number(store, number)
    assert account is not None
    return account


def bank_account(store: Store, number: str, currency: str = "CNY") -> Account:
    """One of the bank's own accounts, opened the first time it is used."""
    return account_by_number(store, number) or open_account(store, number, "internal", number, currency=currency)


def record(
    store: Store,
    kind: str,
    description: str,
    postings: list[tuple[Account, int]],
    *,
    customer_id: str | None = None,
    prefix: str = "T",
) -> str:
    """Book one transaction; its id. Raises ValueError for postings that do not balance."""
    totals: dict[str, int] = defaultdict(int)
    for account, amount in postings:
        totals[account.currency] += amount
    if any(totals.values()):
        raise ValueError(f"unbalanced {kind} transaction: {dict(totals)}")
    transaction_id = store.next_id(prefix)
    store.con.execute(
        "INSERT INTO transactions VALUES (?, ?, ?, ?, ?)",
        (transaction_id, store.stamp, kind, customer_id, description),
    )
    for account, amount in postings:
        store.con.execute(
            "INSERT INTO postings (transaction_id, account_id, amount) VALUES (?, ?, ?)",
            (transaction_id, account.id, amount),
        )
        store.con.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, account.id))
    return transaction_id


def balance(store: Store, account: Account) -> int:
    (value,) = store.con.execute("SELECT balance FROM accounts WHERE id = ?", (account.id,)).fetchone()
    return value


def check(con: sqlite3.Connection) -> list[str]:
    """What is wrong with the books; an empty list when they balance."""
    problems = [
        f"transaction {row['transaction_id']} is off by {row['total']} fen of {row['currency']}"
        for row in con.execute(
            "SELECT transaction_id, currency, SUM(amount) AS total FROM postings"
            " JOIN accounts ON accounts.id = postings.account_id"
            " GROUP BY transaction_id, currency HAVING total != 0"
        )
    ]
    problems += [
        f"account {row['number']} says {row['balance']} fen but its postings sum to {row['total']}"
        for row in con.execute(
            "SELECT number, balance, COALESCE(SUM(amount), 0) AS total FROM accounts"
            " LEFT JOIN postings ON postings.account_id = accounts.id"
            " GROUP BY accounts.id HAVING balance != total"
        )
    ]
    problems += [
        f"all {row['currency']} accounts together hold {row['total']} fen, not 0"
        for row in con.execute(
            "SELECT currency, SUM(balance) AS total FROM accounts GROUP BY currency HAVING total != 0"
        )
    ]
    problems += [
        f"transaction {row['id']} has no postings"
        for row in con.execute(
            "SELECT id FROM transactions WHERE id NOT IN (SELECT transaction_id FROM postings)"
        )
    ]
    return problems
