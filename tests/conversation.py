"""Calls through the real dialog service, the real sandbox bank and the real call store.

Each test gets its own copy of a sandbox database seeded once per run (adapters/sandbox/seed.yml:
张三 calls from 13800138000, PIN 147258) and its own call store, with the bank's clock pinned to a
Monday morning in trading hours. `World.scan()` looks for PINs and full card numbers in everything
written down: the call store, the bank's audit trail and idempotency records, and the logs.
"""
from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sandbox_bank import MONDAY_10AM

from adapters.base import Backend
from adapters.sandbox import SandboxBackend
from assistant.catalog.catalog import Catalog
from assistant.core.frames import IntentResult
from assistant.core.turn import Turn
from assistant.dialog.dialog import Dialog
from assistant.dialog.keypad import END
from assistant.dialog.service import DialogService
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from domain.clock import PinnedClock
from domain.config import load_config
from domain.vocabulary import Vocabulary

CONFIG = load_config()
CALLER = "13800138000"  # 张三, customer C0001
CUSTOMER = "C0001"
PIN = "147258"
CARD_NUMBERS = ("6222021001121234", "6225880123455678")  # 张三's debit and credit cards
CATALOG = Catalog.load(CONFIG.intents_dir)
QUEUE = QueueSettings.from_config(CONFIG.section("queue"))
VOCABULARY = Vocabulary.load(CONFIG.nlu_dir)


@pytest.fixture()
def world(seeded_bank_file: Path, tmp_path: Path, call_database: str,
          caplog: pytest.LogCaptureFixture) -> Iterator[World]:
    """A bank and a call store of this test's own; afterwards, nothing secret was written down."""
    caplog.set_level(logging.DEBUG)
    world = World(Path(shutil.copy(seeded_bank_file, tmp_path / "bank.sqlite")), call_database)
    yield world
    world.scan(caplog.text)
    world.store.db.close()


@dataclass
class World:
    bank_path: Path
    store_location: str  # a SQLite file or a postgresql:// URL (tests/databases.py)
    clock: PinnedClock = field(default_factory=lambda: PinnedClock(MONDAY_10AM))
    secrets: set[str] = field(default_factory=lambda: {PIN, *CARD_NUMBERS})

    def __post_init__(self) -> None:
        self.bank = SandboxBackend(self.bank_path, vocabulary=Vocabulary.load(CONFIG.nlu_dir / "lookups"),
                                   clock=self.clock)
        self.store = CallStore(self.store_location, self.clock)

    def dialogs(self, backend: Backend | None = None) -> DialogService:
        return DialogService(CATALOG, VOCABULARY.display, backend or self.bank, self.store, self.clock,
                      queue_settings=QUEUE)

    def call(self, caller: str | None = CALLER, backend: Backend | None = None) -> Call:
        return Call(self.dialogs(backend).open(caller))

    def rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        """Rows of the bank's database."""
        return query(self.bank_path, sql, args)

    def store_rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return self.store.db.rows(sql, args)

    def balance(self, number: str) -> str:
        """The balance of an account, in yuan with 2 decimals."""
        (row,) = self.rows("SELECT balance FROM accounts WHERE number = ?", number)
        return f"{row['balance'] / 100:.2f}"

    def ticket(self, number: int) -> dict[str, Any]:
        (row,) = self.store_rows("SELECT * FROM handoffs WHERE id = ?", number)
        ticket = dict(row)
        ticket["slots"], ticket["transcript"] = json.loads(ticket["slots"]), json.loads(ticket["transcript"])
        return ticket

    def scan(self, *texts: str) -> None:
        """No secret in the call store, the bank's audit trail and idempotency records, or `texts`."""
        written = [json.dumps(self.store_rows(f"SELECT * FROM {t}"), ensure_ascii=False)
                   for t in ("calls", "turns", "handoffs")]
        written += [json.dumps([dict(r) for r in self.rows(f"SELECT * FROM {t}")], ensure_ascii=False)
                    for t in ("audit", "idempotency")]
        for secret in self.secrets:
            for text in [*written, *texts]:
                assert secret not in text, f"{secret} written down: ...{text[max(0, text.find(secret) - 80):][:200]}"


class Call:
    """One caller: says things (as the NLU would have understood them) and presses keys."""

    def __init__(self, dialog: Dialog) -> None:
        self.dialog = dialog
        self.turns: list[Turn] = []

    def say(self, text: str, intent: str, confidence: float = 0.95, **slots: Any) -> Turn:
        return self.hear(IntentResult(text=text, intent=intent, confidence=confidence, slots=slots))

    def hear(self, result: IntentResult) -> Turn:
        turn = self.dialog.hear(result)
        self.turns.append(turn)
        return turn

    def keys(self, keys: str) -> Turn:
        """Press `keys`, then # unless they end with it: exactly one turn must come of it."""
        turns = [self.dialog.press(key) for key in keys + ("" if keys.endswith(END) else END)]
        decided = [turn for turn in turns if turn is not None]
        assert len(decided) == 1, decided
        self.turns.append(decided[0])
        return decided[0]

    def verify(self, pin: str = PIN) -> Turn:
        assert self.turns[-1].awaiting == "pin", self.turns[-1]
        return self.keys(pin)


def query(path: Path, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()
