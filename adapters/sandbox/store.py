"""The sandbox bank's SQLite file: schema, one write transaction per action, readable ids."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from domain.clock import in_beijing

SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE counters (prefix TEXT NOT NULL, day TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (prefix, day));
CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL UNIQUE,
    pin_salt BLOB NOT NULL, pin_hash BLOB NOT NULL, pin_failures INTEGER NOT NULL DEFAULT 0,
    email TEXT, address TEXT);  -- e-mail and postal address: NULL when the bank has none

-- The ledger. Money is integer fen. An account's balance is the sum of its postings, and the
-- postings of one transaction sum to zero per currency.
CREATE TABLE accounts (id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE,
    customer_id TEXT REFERENCES customers, kind TEXT NOT NULL, currency TEXT NOT NULL,
    name TEXT NOT NULL, balance INTEGER NOT NULL DEFAULT 0);
CREATE TABLE transactions (id TEXT PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL,
    customer_id TEXT REFERENCES customers, description TEXT NOT NULL);
CREATE TABLE postings (id INTEGER PRIMARY KEY,
    transaction_id TEXT NOT NULL REFERENCES transactions,
    account_id INTEGER NOT NULL REFERENCES accounts, amount INTEGER NOT NULL);
CREATE INDEX postings_by_account ON postings (account_id);

CREATE TABLE cards (number TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    kind TEXT NOT NULL, account_id INTEGER NOT NULL REFERENCES accounts,
    status TEXT NOT NULL DEFAULT 'active', loss_report TEXT);
CREATE TABLE payees (customer_id TEXT NOT NULL REFERENCES customers, name TEXT NOT NULL,
    account_number TEXT NOT NULL, bank TEXT NOT NULL, PRIMARY KEY (customer_id, name));
CREATE TABLE statements (id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    period_end TEXT NOT NULL, due_date TEXT NOT NULL, amount_due INTEGER NOT NULL,
    min_due INTEGER NOT NULL, paid INTEGER NOT NULL DEFAULT 0);
CREATE TABLE billers (bill_type TEXT PRIMARY KEY, name TEXT NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts);
CREATE TABLE bill_accounts (customer_id TEXT NOT NULL REFERENCES customers,
    bill_type TEXT NOT NULL REFERENCES billers, number TEXT NOT NULL,
    PRIMARY KEY (customer_id, bill_type));
CREATE TABLE fx_rates (currency TEXT PRIMARY KEY, mid TEXT NOT NULL, spread TEXT NOT NULL,
    unit INTEGER NOT NULL);

-- The broker: instruments, a replayable price feed, orders, positions, alerts.
CREATE TABLE instruments (code TEXT PRIMARY KEY, name TEXT NOT NULL, reference INTEGER NOT NULL);
CREATE TABLE feed_days (stock TEXT NOT NULL REFERENCES instruments, day TEXT NOT NULL,
    prev_close INTEGER NOT NULL, close INTEGER NOT NULL, PRIMARY KEY (stock, day));
CREATE TABLE ticks (stock TEXT NOT NULL, at TEXT NOT NULL, price INTEGER NOT NULL,
    PRIMARY KEY (stock, at));
CREATE INDEX ticks_by_time ON ticks (at);
CREATE TABLE orders (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    at TEXT NOT NULL, side TEXT NOT NULL, stock TEXT NOT NULL REFERENCES instruments,
    quantity INTEGER NOT NULL, limit_price INTEGER, status TEXT NOT NULL,
    price INTEGER NOT NULL, fee INTEGER NOT NULL, reserved INTEGER NOT NULL DEFAULT 0,
    closed_at TEXT);
CREATE TABLE positions (customer_id TEXT NOT NULL REFERENCES customers,
    stock TEXT NOT NULL REFERENCES instruments, quantity INTEGER NOT NULL, cost INTEGER NOT NULL,
    PRIMARY KEY (customer_id, stock));
CREATE TABLE alerts (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    stock TEXT NOT NULL REFERENCES instruments, price INTEGER NOT NULL, direction TEXT NOT NULL,
    at TEXT NOT NULL, fired_at TEXT);

-- Insurance the bank sells as an agent: policies, claims (first notices of loss).
CREATE TABLE policies (number TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    kind TEXT NOT NULL, name TEXT NOT NULL, coverage INTEGER NOT NULL, premium INTEGER NOT NULL,
    start TEXT NOT NULL, paid_through TEXT NOT NULL, cash_value INTEGER NOT NULL DEFAULT 0,
    contact_phone TEXT NOT NULL);
CREATE TABLE claims (id TEXT PRIMARY KEY, policy TEXT NOT NULL REFERENCES policies, at TEXT NOT NULL,
    happened_on TEXT NOT NULL, place TEXT NOT NULL, description TEXT NOT NULL, injured INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'reported');

-- Mutual funds: NAVs, holdings (shares in hundredths), orders priced on their trade date, plans.
CREATE TABLE funds (code TEXT PRIMARY KEY, name TEXT NOT NULL, nav TEXT NOT NULL);
CREATE TABLE fund_holdings (customer_id TEXT NOT NULL REFERENCES customers,
    fund TEXT NOT NULL REFERENCES funds, shares INTEGER NOT NULL, PRIMARY KEY (customer_id, fund));
CREATE TABLE fund_orders (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    at TEXT NOT NULL, side TEXT NOT NULL, fund TEXT NOT NULL REFERENCES funds, amount INTEGER,
    shares INTEGER, trade_date TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', nav TEXT);
CREATE TABLE fund_plans (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    fund TEXT NOT NULL REFERENCES funds, amount INTEGER NOT NULL, day INTEGER NOT NULL,
    status TEXT NOT NULL, at TEXT NOT NULL);

-- Wealth products: the customer's risk assessment and holdings.
CREATE TABLE risk_profiles (customer_id TEXT PRIMARY KEY REFERENCES customers, level TEXT NOT NULL,
    assessed_on TEXT NOT NULL);
CREATE TABLE wealth_holdings (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    product TEXT NOT NULL, amount INTEGER NOT NULL, at TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE custody (customer_id TEXT PRIMARY KEY REFERENCES customers, custodian TEXT NOT NULL,
    sh_account TEXT NOT NULL, sz_account TEXT NOT NULL);

CREATE TABLE tickets (id TEXT PRIMARY KEY, kind TEXT NOT NULL, customer_id TEXT, at TEXT NOT NULL,
    content TEXT, phone TEXT, due TEXT, status TEXT NOT NULL DEFAULT 'open');
CREATE TABLE outbox (id TEXT PRIMARY KEY, at TEXT NOT NULL, customer_id TEXT, phone TEXT NOT NULL,
    text TEXT NOT NULL);

CREATE TABLE idempotency (key TEXT PRIMARY KEY, action TEXT NOT NULL, fingerprint TEXT NOT NULL,
    outcome TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, customer_id TEXT,
    action TEXT NOT NULL, params TEXT NOT NULL, status TEXT NOT NULL, outcome_id TEXT,
    reason TEXT, replayed INTEGER NOT NULL, key TEXT NOT NULL);
"""


def connect(path: Path) -> sqlite3.Connection:
    """A connection that leaves transactions to `write` (autocommit otherwise)."""
    con = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA foreign_keys = ON")
    return con


@contextmanager
def write(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction holding the write lock from the start, so concurrent runs queue up."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def stamp(moment: datetime) -> str:
    """A time as stored: Beijing local time, sortable as text."""
    return in_beijing(moment).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Store:
    """What every sandbox kind works with during one action: the open transaction and its time."""

    con: sqlite3.Connection
    now: datetime

    @property
    def stamp(self) -> str:
        return stamp(self.now)

    def next_id(self, prefix: str) -> str:
        """A readable id, numbered per prefix and day: TS202501060003."""
        day = in_beijing(self.now).strftime("%Y%m%d")
        self.con.execute(
            "INSERT INTO counters VALUES (?, ?, 1)"
            " ON CONFLICT (prefix, day) DO UPDATE SET value = value + 1",
            (prefix, day),
        )
        (number,) = self.con.execute(
            "SELECT value FROM counters WHERE prefix = ? AND day = ?", (prefix, day)
        ).fetchone()
        return f"{prefix}{day}{number:04d}"

    def meta(self, name: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self.con.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
