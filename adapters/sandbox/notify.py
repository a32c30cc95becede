"""The SMS outbox: messages the bank sends, kept for the SMS gateway to pick up."""
from __future__ import annotations

from adapters import params
from adapters.base import Outcome, ok
from adapters.sandbox.store import Store
from domain.masking import mask_cards, mask_number

SIGNATURE = "【示范银行】"


def send_sms(store: Store, phone: str, message: str, customer_id: str | None = None) -> str:
    """Queue a message; its id."""
    message_id = store.next_id("SMS")
    store.con.execute(
        "INSERT INTO outbox VALUES (?, ?, ?, ?, ?)",
        (message_id, store.stamp, customer_id, phone, mask_cards(SIGNATURE + message)),
    )
    return message_id


class SandboxNotifications:
    def __init__(self, store: Store) -> None:
        self.store = store

    def sms(self, phone: str, text: str) -> Outcome:
        number = params.mobile(phone)
        message = params.text(text, "text", limit=500)
        return ok(send_sms(self.store, number, message), phone=mask_number(number))
