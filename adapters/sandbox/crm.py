"""Customer relations: complaint, suggestion and callback tickets with numbers a caller can note down."""
from __future__ import annotations

from datetime import datetime

from adapters import params
from adapters.base import Outcome, ok
from adapters.sandbox.store import Store, stamp
from domain.masking import mask_cards, mask_number

PREFIXES = {"complaint": "TS", "suggestion": "JY", "callback": "HD"}  # 投诉, 建议, 回电


class SandboxCrm:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _ticket(
        self, kind: str, customer_id: str | None, content: str | None = None, phone: str | None = None,
        due: str | None = None,
    ) -> str:
        ticket = self.store.next_id(PREFIXES[kind])
        self.store.con.execute(
            "INSERT INTO tickets (id, kind, customer_id, at, content, phone, due) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ticket, kind, customer_id, self.store.stamp, content, phone, due),
        )
        return ticket

    def complaint(self, customer_id: str | None, content: str) -> Outcome:
        ticket = self._ticket("complaint", customer_id, content=mask_cards(params.text(content, "content")))
        return ok(ticket, ticket=ticket)

    def suggestion(self, customer_id: str | None, content: str) -> Outcome:
        ticket = self._ticket("suggestion", customer_id, content=mask_cards(params.text(content, "content")))
        return ok(ticket, ticket=ticket)

    def callback(self, customer_id: str | None, phone: str, when: str | None = None) -> Outcome:
        number = params.phone(phone)
        due = None
        if when is not None:
            try:
                due = stamp(datetime.fromisoformat(str(when)))  # naive: Beijing time
            except ValueError:
                raise params.bad_request(f"when must be a time like 2025-01-06T15:00, not {when!r}") from None
        ticket = self._ticket("callback", customer_id, phone=number, due=due)
        return ok(ticket, ticket=ticket, phone=mask_number(number), when=due)
