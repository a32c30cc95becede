"""A new sandbox bank: the schema, then the demo customers, billers, rates and instruments of seed.yml.

Every opening balance is booked against the bank's equity (or, in a foreign currency, its forex
position), and each customer's seeded history is booked through clearing, so the ledger balances
from the first moment.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.params import fen_of
from adapters.sandbox import ledger
from adapters.sandbox.feed import FEED_CURSOR
from adapters.sandbox.pins import hash_pin
from adapters.sandbox.store import SCHEMA, Store
from domain.errors import DataFileError
from domain.vocabulary import Vocabulary
from domain.yamlfile import load_yaml

SEED_FILE = Path(__file__).with_name("seed.yml")
OPENED_DAYS_AGO = 40


SCHEMA_KEY = "schema"  # meta: which tables and seed data the file was made with


def schema_version(path: Path = SEED_FILE) -> str:
    """Changes whenever the tables or the seed data do: a sandbox file made earlier is made again."""
    return hashlib.sha256(SCHEMA.encode() + path.read_bytes()).hexdigest()[:16]


def seed(store: Store, vocabulary: Vocabulary, path: Path = SEED_FILE) -> None:
    data = load_yaml(path) or {}
    for statement in SCHEMA.split(";"):  # not executescript, which would commit the open transaction
        if statement.strip():
            store.con.execute(statement)
    try:
        _instruments(store, vocabulary, data["stocks"])
        _forex(store, data["forex"])
        _billers(store, data["billers"])
        _funds(store, vocabulary, data["funds"])
        for customer in data["customers"]:
            _customer(store, customer)
    except (KeyError, TypeError, ValueError) as error:
        raise DataFileError(f"{path}: bad seed data: {error!r}") from error
    store.set_meta(FEED_CURSOR, store.stamp)
    store.set_meta(SCHEMA_KEY, schema_version(path))


def _yuan(value: Any) -> int:
    return fen_of(Decimal(str(value)))


def _instruments(store: Store, vocabulary: Vocabulary, prices: dict[str, Any]) -> None:
    codes = [code for code in vocabulary.values_in("stock") if code in prices]
    rows = [(code, vocabulary.display(code), _yuan(prices[code])) for code in codes]
    store.con.executemany("INSERT INTO instruments VALUES (?, ?, ?)", rows)


def _forex(store: Store, rates: dict[str, Any]) -> None:
    store.con.executemany(
        "INSERT INTO fx_rates VALUES (?, ?, ?, ?)",
        [(code, str(rate["mid"]), str(rate["spread"]), int(rate.get("unit", 1))) for code, rate in rates.items()],
    )


def _funds(store: Store, vocabulary: Vocabulary, navs: dict[str, Any]) -> None:
    codes = [code for code in vocabulary.values_in("fund") if code in navs]
    store.con.executemany("INSERT INTO funds VALUES (?, ?, ?)",
                          [(code, vocabulary.display(code), str(navs[code])) for code in codes])


def _billers(store: Store, billers: dict[str, str]) -> None:
    for bill_type, name in billers.items():
        account = ledger.open_account(store, ledger.biller_account(bill_type), "biller", name)
        store.con.execute("INSERT INTO billers VALUES (?, ?, ?)", (bill_type, name, account.id))


def _customer(store: Store, data: dict[str, Any]) -> None:
    salt, pin_hash = hash_pin(str(data["pin"]))
    store.con.execute(
        "INSERT INTO customers (id, name, phone, pin_salt, pin_hash, email, address) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (data["id"], data["name"], str(data["phone"]), salt, pin_hash, data.get("email"), data.get("address")),
    )
    books = _CustomerBooks(store, data["id"])
    debit = books.debit(data["debit"], data["history"])
    books.credit(data["credit"])
    books.securities(data["securities"])
    for currency, amount in (data.get("foreign") or {}).items():
        books.foreign(debit, currency, _yuan(amount))
    for bill_type, number in (data.get("bill_accounts") or {}).items():
        store.con.execute("INSERT INTO bill_accounts VALUES (?, ?, ?)", (data["id"], bill_type, str(number)))
    books.insurance(data.get("policies") or [], str(data["phone"]))
    for fund, shares in (data.get("funds") or {}).items():
        store.con.execute("INSERT INTO fund_holdings VALUES (?, ?, ?)", (data["id"], fund, _yuan(shares)))
    if data.get("risk_level"):
        assessed = (store.now - timedelta(days=OPENED_DAYS_AGO)).date().isoformat()
        store.con.execute("INSERT INTO risk_profiles VALUES (?, ?, ?)", (data["id"], data["risk_level"], assessed))
    if data.get("custody"):
        custody = data["custody"]
        store.con.execute("INSERT INTO custody VALUES (?, ?, ?, ?)", (data["id"], custody["custodian"],
                                                                   str(custody["sh_account"]), str(custody["sz_account"])))
    for payee in data["payees"]:
        store.con.execute(
            "INSERT INTO payees VALUES (?, ?, ?, ?)",
            (data["id"], payee["name"], str(payee["account"]), payee.get("bank", "本行")),
        )


class _CustomerBooks:
    """One customer's accounts, opened with their balances and history booked in the past."""

    def __init__(self, store: Store, customer_id: str) -> None:
        self.store = store
        self.customer_id = customer_id
        self.equity = ledger.bank_account(store, ledger.EQUITY)
        self.clearing = ledger.bank_account(store, ledger.CLEARING)

    def _open(self, kind: str, number: Any, name: str, currency: str = "CNY") -> ledger.Account:
        return ledger.open_account(
            self.store, str(number), kind, name, customer_id=self.customer_id, currency=currency
        )

    def _book(
        self, days_ago: float, kind: str, description: str, postings: list[tuple[ledger.Account, int]]
    ) -> None:
        then = Store(self.store.con, self.store.now - timedelta(days=days_ago))
        ledger.record(then, kind, description, postings, customer_id=self.customer_id)

    def _card(self, kind: str, account: ledger.Account) -> None:
        self.store.con.execute(
            "INSERT INTO cards VALUES (?, ?, ?, ?, 'active', NULL)",
            (account.number, self.customer_id, kind, account.id),
        )

    def debit(self, data: dict[str, Any], history: list[dict[str, Any]]) -> ledger.Account:
        """The debit card account: an opening balance, then the history, ending at data["balance"]."""
        account = self._open("debit", data["number"], "借记卡")
        self._card("debit", account)
        items = sorted(
            ((float(item["days_ago"]), _yuan(item["amount"]), str(item["description"])) for item in history),
            reverse=True,  # oldest first
        )
        opening = _yuan(data["balance"]) - sum(amount for _, amount, _ in items)
        self._book(OPENED_DAYS_AGO, "opening", "期初余额", [(self.equity, -opening), (account, opening)])
        for days_ago, amount, description in items:
            self._book(days_ago, "history", description, [(self.clearing, -amount), (account, amount)])
        return account

    def credit(self, data: dict[str, Any]) -> None:
        """The credit card: purchases before the last statement, which is now due."""
        account = self._open("credit", data["number"], "信用卡")
        self._card("credit", account)
        owed, statement_days_ago = _yuan(data["statement"]), float(data["statement_days_ago"])
        if owed:
            self._book(statement_days_ago + 10, "card_purchases", "信用卡消费", [(account, -owed), (self.clearing, owed)])
        now = self.store.now
        self.store.con.execute(
            "INSERT INTO statements (customer_id, period_end, due_date, amount_due, min_due) VALUES (?, ?, ?, ?, ?)",
            (
                self.customer_id,
                (now - timedelta(days=statement_days_ago)).date().isoformat(),
                (now + timedelta(days=float(data["due_in_days"]))).date().isoformat(),
                owed,
                _yuan(data["min_due"]),
            ),
        )

    def securities(self, data: dict[str, Any]) -> None:
        account = self._open("securities", data["number"], "证券资金账户")
        cash = _yuan(data["cash"])
        if cash:
            self._book(OPENED_DAYS_AGO, "opening", "证券资金期初余额", [(self.equity, -cash), (account, cash)])
        for stock, quantity in data["positions"].items():
            (reference,) = self.store.con.execute(
                "SELECT reference FROM instruments WHERE code = ?", (stock,)
            ).fetchone()
            self.store.con.execute(
                "INSERT INTO positions VALUES (?, ?, ?, ?)",
                (self.customer_id, stock, int(quantity), reference * int(quantity)),
            )

    def insurance(self, policies: list[dict[str, Any]], phone: str) -> None:
        """Policies in force, paid up to their next due date."""
        now = self.store.now
        for policy in policies:
            self.store.con.execute(
                "INSERT INTO policies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (str(policy["number"]), self.customer_id, policy["kind"], policy["name"], _yuan(policy["coverage"]),
                 _yuan(policy["premium"]), (now - timedelta(days=float(policy["started_days_ago"]))).date().isoformat(),
                 (now + timedelta(days=float(policy["due_in_days"]))).date().isoformat(),
                 _yuan(policy.get("cash_value", 0)), phone),
            )

    def foreign(self, debit: ledger.Account, currency: str, amount: int) -> None:
        """A foreign-currency account beside the debit card, funded from the bank's position in it."""
        account = self._open("foreign", f"{debit.number}-{currency}", f"{currency}现汇账户", currency)
        position = ledger.bank_account(self.store, ledger.fx_position(currency), currency)
        self._book(OPENED_DAYS_AGO, "opening", f"{currency}期初余额", [(position, -amount), (account, amount)])
