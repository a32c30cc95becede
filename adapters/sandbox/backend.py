"""The sandbox back end: every kind over one SQLite file, one transaction per action.

In that transaction: the price feed catches up with the clock (and fund orders due are priced), the idempotency key is looked up (a
key seen before gives its stored outcome and changes nothing), the action runs (a refusal undoes its
writes), and its outcome is stored under the key and audited. A crash anywhere rolls all of it back.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.base import FAILED, ActionSpec, BackendError, Outcome, checked_action, rejected
from adapters.kinds import Kinds
from adapters.knowledge_base import FOLDER as KNOWLEDGE_FOLDER
from adapters.knowledge_base import KnowledgeBase
from adapters.params import Refused, bad_request
from adapters.sandbox import ledger
from adapters.sandbox.banking import SandboxBanking
from adapters.sandbox.bills import SandboxBills
from adapters.sandbox.cards import SandboxCards
from adapters.sandbox.crm import SandboxCrm
from adapters.sandbox.forex import SandboxForex
from adapters.sandbox.funds import SandboxFunds
from adapters.sandbox.insurance import SandboxInsurance
from adapters.sandbox.notify import SandboxNotifications
from adapters.sandbox.pins import MAX_FAILURES
from adapters.sandbox.securities import SandboxSecurities
from adapters.sandbox.seed import SCHEMA_KEY, schema_version, seed
from adapters.sandbox.store import Store, connect, write
from adapters.sandbox.wealth import SandboxWealth
from domain.clock import Clock, clock_from_setting, real_clock
from domain.config import Config
from domain.masking import mask_params
from domain.vocabulary import Vocabulary

log = logging.getLogger(__name__)
DEFAULT_DB = "var/sandbox/bank.sqlite"
ALWAYS_ALLOWED = {"banking.report_card_loss"}  # even for a customer locked out by wrong PINs


class SandboxBackend:
    def __init__(
        self,
        path: Path,
        *,
        vocabulary: Vocabulary,
        clock: Clock = real_clock,
        knowledge: KnowledgeBase | None = None,
    ) -> None:
        self.path = path
        self.clock = clock
        self.vocabulary = vocabulary  # instruments, currencies and bill types of nlu_data/lookups
        self.knowledge = knowledge or KnowledgeBase(clock=clock)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._forget_older_version()
        with closing(self._connection()) as con, write(con):
            if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                seed(Store(con, clock()), self.vocabulary)

    def _forget_older_version(self) -> None:
        """A sandbox file made with other tables or seed data is made again: it is demo data, and a
        missing table would otherwise fail some calls long after start-up."""
        if not self.path.exists():
            return
        with closing(self._connection()) as con:
            has_meta = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
            made = Store(con, self.clock()).meta(SCHEMA_KEY) if has_meta else None
        if has_meta and made != schema_version():
            log.warning("the sandbox bank %s is from another version of its tables or seed data; making it again",
                        self.path)
            for stale in (self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm"))):
                stale.unlink(missing_ok=True)

    @classmethod
    def from_config(cls, config: Config) -> SandboxBackend:
        section = config.section("adapters")
        sandbox = section.get("sandbox") or {}
        clock = clock_from_setting(sandbox.get("clock"))
        return cls(
            config.root / sandbox.get("db", DEFAULT_DB),
            vocabulary=Vocabulary.load(config.nlu_dir / "lookups"),
            clock=clock,
            knowledge=KnowledgeBase(config.root / section.get("knowledge", KNOWLEDGE_FOLDER), clock=clock),
        )

    def _connection(self) -> sqlite3.Connection:
        try:
            return connect(self.path)
        except sqlite3.Error as error:
            raise BackendError(f"{self.path}: cannot open the sandbox bank: {error}") from error

    def run(self, action: str, params: dict[str, Any], *, customer_id: str | None, key: str) -> Outcome:
        spec = checked_action(action, key)
        if not isinstance(params, dict):
            raise BackendError(f"{action}: params must be a mapping, not {type(params).__name__}")
        masked = mask_params(params)
        fingerprint = hashlib.sha256(
            json.dumps([action, masked, customer_id], sort_keys=True, ensure_ascii=False, default=str).encode()
        ).hexdigest()
        now = self.clock()
        con = self._connection()
        try:
            with write(con):
                store = Store(con, now)
                SandboxSecurities(store).replay(now)
                SandboxFunds(store).price_due_orders()
                stored = con.execute("SELECT fingerprint, outcome FROM idempotency WHERE key = ?", (key,)).fetchone()
                if stored:
                    outcome = (
                        Outcome.from_json(json.loads(stored["outcome"]))
                        if stored["fingerprint"] == fingerprint
                        else rejected("key_reused")
                    )
                    _audit(store, key, action, customer_id, masked, outcome, replayed=True)
                    return outcome
                outcome = self._attempt(store, spec, action, params, customer_id)
                con.execute(
                    "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?)",
                    (key, action, fingerprint, json.dumps(outcome.to_json(), ensure_ascii=False), store.stamp),
                )
                _audit(store, key, action, customer_id, masked, outcome, replayed=False)
            return outcome
        except Exception as error:  # the back end broke: everything above was rolled back
            log.error("sandbox %s failed: %s: %s", action, type(error).__name__, error)
            outcome = Outcome(FAILED, reason="backend_error")
            self._audit_failure(con, now, key, action, customer_id, masked, outcome)
            return outcome
        finally:
            con.close()

    def _attempt(
        self, store: Store, spec: ActionSpec, action: str, params: dict[str, Any], customer_id: str | None
    ) -> Outcome:
        store.con.execute("SAVEPOINT action")
        try:
            outcome = self._dispatch(store, spec, action, params, customer_id)
        except Refused as refusal:
            store.con.execute("ROLLBACK TO action")
            outcome = refusal.outcome()
        store.con.execute("RELEASE action")
        return outcome

    def _dispatch(
        self, store: Store, spec: ActionSpec, action: str, params: dict[str, Any], customer_id: str | None
    ) -> Outcome:
        unexpected = sorted(set(params) - set(spec.required) - set(spec.optional))
        missing = [name for name in spec.required if params.get(name) is None]
        if unexpected or missing:
            raise bad_request(f"{action} takes {_signature(spec)}; missing {missing}, unexpected {unexpected}")
        arguments = {name: value for name, value in params.items() if value is not None}
        if spec.customer != "none":
            arguments["customer_id"] = customer_id
        if spec.customer == "required":
            _check_customer(store, customer_id, action)
        return self.kinds(store).method(action)(**arguments)

    def kinds(self, store: Store) -> Kinds:
        """Every kind, working in the given transaction."""
        return Kinds(
            banking=SandboxBanking(store),
            securities=SandboxSecurities(store),
            forex=SandboxForex(store, self.vocabulary.display),
            bills=SandboxBills(store),
            cards=SandboxCards(store),
            crm=SandboxCrm(store),
            notify=SandboxNotifications(store),
            knowledge=self.knowledge,
            insurance=SandboxInsurance(store),
            funds=SandboxFunds(store),
            wealth=SandboxWealth(store, self.knowledge.products),
        )

    def _audit_failure(
        self, con: sqlite3.Connection, now: datetime, key: str, action: str, customer_id: str | None,
        masked: dict[str, Any], outcome: Outcome,
    ) -> None:
        try:
            with write(con):
                _audit(Store(con, now), key, action, customer_id, masked, outcome, replayed=False)
        except sqlite3.Error as error:
            log.error("sandbox audit of %s failed too: %s", action, error)

    def replay(self, until: datetime | None = None) -> None:
        """Advance the price feed to `until` (default: the clock): fills, alerts, expiries."""
        moment = until or self.clock()
        with closing(self._connection()) as con, write(con):
            SandboxSecurities(Store(con, moment)).replay(moment)

    def check_ledger(self) -> list[str]:
        """Problems with the books; empty when every transaction and balance adds up."""
        with closing(self._connection()) as con:
            return ledger.check(con)


def _signature(spec: ActionSpec) -> str:
    names = [*spec.required, *(f"{name}?" for name in spec.optional)]
    return "{" + ", ".join(names) + "}"


def _check_customer(store: Store, customer_id: str | None, action: str) -> None:
    row = store.con.execute("SELECT pin_failures FROM customers WHERE id = ?", (customer_id,)).fetchone()
    if row is None:
        raise Refused("unidentified")
    if row["pin_failures"] >= MAX_FAILURES and action not in ALWAYS_ALLOWED:
        raise Refused("locked", attempts_left=0)


def _audit(
    store: Store, key: str, action: str, customer_id: str | None, masked: dict[str, Any], outcome: Outcome,
    *, replayed: bool,
) -> None:
    store.con.execute(
        "INSERT INTO audit (at, customer_id, action, params, status, outcome_id, reason, replayed, key)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            store.stamp, customer_id, action, json.dumps(masked, ensure_ascii=False, default=str),
            outcome.status, outcome.id, outcome.reason, int(replayed), key,
        ),
    )
