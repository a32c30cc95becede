"""A fresh sandbox bank per test (a copy of one seeded file), with the clock pinned to a trading
Monday at 10:00, and the ledger checked after every action run through it."""
from __future__ import annotations

import itertools
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Outcome
from adapters.knowledge_base import KnowledgeBase
from adapters.sandbox import SandboxBackend
from domain.clock import PinnedClock
from domain.vocabulary import Vocabulary

REPO = Path(__file__).resolve().parents[1]
LOOKUPS = REPO / "nlu_data" / "lookups"
MONDAY_10AM = datetime(2025, 1, 6, 10, 0)
ZHANG_SAN, LI_SI, WANG_FANG = "C0001", "C0002", "C0003"


@dataclass
class Bank:
    backend: SandboxBackend
    clock: PinnedClock
    path: Path
    _keys: itertools.count = field(default_factory=itertools.count)

    def run(self, action: str, customer: str | None = ZHANG_SAN, key: str | None = None, **params: Any) -> Outcome:
        outcome = self.backend.run(action, params, customer_id=customer, key=key or f"key-{next(self._keys)}")
        assert self.backend.check_ledger() == [], f"ledger out of balance after {action}"
        return outcome

    def rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        con = sqlite3.connect(self.path)
        con.row_factory = sqlite3.Row
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def value(self, sql: str, *args: Any) -> Any:
        return self.rows(sql, *args)[0][0]

    def balance(self, customer: str, kind: str = "debit", currency: str = "CNY") -> Decimal:
        fen = self.value(
            "SELECT balance FROM accounts WHERE customer_id = ? AND kind = ? AND currency = ?", customer, kind, currency
        )
        return Decimal(fen) / 100

    def bank_balance(self, number: str) -> Decimal:
        return Decimal(self.value("SELECT COALESCE(SUM(balance), 0) FROM accounts WHERE number = ?", number)) / 100

    def transactions(self) -> int:
        return self.value("SELECT COUNT(*) FROM transactions")

    def outbox(self) -> list[str]:
        return [row["text"] for row in self.rows("SELECT text FROM outbox ORDER BY id")]


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return KnowledgeBase()


@pytest.fixture(scope="session")
def vocabulary() -> Vocabulary:
    return Vocabulary.load(LOOKUPS)


@pytest.fixture(scope="session")
def seeded_bank_file(
    tmp_path_factory: pytest.TempPathFactory, vocabulary: Vocabulary, knowledge: KnowledgeBase
) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "bank.sqlite"
    SandboxBackend(path, vocabulary=vocabulary, clock=PinnedClock(MONDAY_10AM), knowledge=knowledge)
    return path


@pytest.fixture
def bank(seeded_bank_file: Path, tmp_path: Path, vocabulary: Vocabulary, knowledge: KnowledgeBase) -> Bank:
    path = tmp_path / "bank.sqlite"
    shutil.copy(seeded_bank_file, path)
    clock = PinnedClock(MONDAY_10AM)
    return Bank(SandboxBackend(path, vocabulary=vocabulary, clock=clock, knowledge=knowledge), clock, path)
