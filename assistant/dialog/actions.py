"""Back-end actions of one call: each run once, settled, under an idempotency key of the call."""
from __future__ import annotations

import logging
from typing import Any

from adapters.base import Backend, Outcome, action_spec, run_settled
from assistant.core.turn import Transaction
from assistant.dialog.record import CallRecord

log = logging.getLogger(__name__)


class Actions:
    def __init__(self, backend: Backend, record: CallRecord) -> None:
        self.backend = backend
        self.record = record
        self.transaction: Transaction | None = None  # the latest action run, as a turn shows it

    def run(self, action: str, params: dict[str, Any], customer: str | None, key: str | None = None) -> Outcome:
        """`customer` goes only to actions that take one; `key`: a new one unless given."""
        customer_id = None if action_spec(action).customer == "none" else customer
        outcome = run_settled(self.backend, action, params, customer_id=customer_id, key=key or self.record.new_key())
        self.transaction = Transaction(action, outcome.status, outcome.id, outcome.reason)
        log.info("call %s: %s -> %s %s", self.record.call_id, action, outcome.status,
                 outcome.reason or outcome.id or "")
        return outcome
