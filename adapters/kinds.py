"""One small interface per back-end kind; action "<kind>.<method>" calls method of that kind.

Methods take the params of their action as keyword arguments (see adapters/base.py for what each
means) and, when the action concerns a caller, the customer id first.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from adapters.base import Outcome


class CoreBanking(Protocol):
    def identify(self, phone: str) -> Outcome: ...
    def verify_pin(self, customer_id: str, pin: str) -> Outcome: ...
    def balance(self, customer_id: str) -> Outcome: ...
    def history(self, customer_id: str, since: str | None = None, until: str | None = None) -> Outcome: ...
    def transfer(self, customer_id: str, payee: str, amount: str) -> Outcome: ...
    def report_card_loss(self, customer_id: str, card: str | None = None) -> Outcome: ...
    def change_pin(self, customer_id: str, old_pin: str, new_pin: str) -> Outcome: ...


class Securities(Protocol):
    def quote(self, stock: str) -> Outcome: ...
    def place_order(
        self, customer_id: str, side: str, stock: str, quantity: int, price: str | None = None
    ) -> Outcome: ...
    def cancel_order(self, customer_id: str, order_id: str | None = None) -> Outcome: ...
    def orders(self, customer_id: str) -> Outcome: ...
    def positions(self, customer_id: str) -> Outcome: ...
    def bank_transfer(self, customer_id: str, direction: str, amount: str) -> Outcome: ...
    def price_alert(
        self, customer_id: str, stock: str, price: str, direction: str | None = None
    ) -> Outcome: ...


class Forex(Protocol):
    def quote(self, currency: str) -> Outcome: ...
    def trade(self, customer_id: str, side: str, currency: str, amount: str) -> Outcome: ...


class BillPayment(Protocol):
    def pay(self, customer_id: str, bill_type: str, amount: str, account: str | None = None) -> Outcome: ...


class CreditCards(Protocol):
    def statement(self, customer_id: str) -> Outcome: ...
    def repay(self, customer_id: str, amount: str | None = None) -> Outcome: ...


class Crm(Protocol):
    def complaint(self, customer_id: str | None, content: str) -> Outcome: ...
    def suggestion(self, customer_id: str | None, content: str) -> Outcome: ...
    def callback(self, customer_id: str | None, phone: str, when: str | None = None) -> Outcome: ...


class Notifications(Protocol):
    def sms(self, phone: str, text: str) -> Outcome: ...


class KnowledgeBase(Protocol):
    def answer(self, question: str) -> Outcome: ...


@dataclass(frozen=True)
class Kinds:
    """One implementation of every kind; `method("banking.transfer")` is what runs that action."""

    banking: CoreBanking
    securities: Securities
    forex: Forex
    bills: BillPayment
    cards: CreditCards
    crm: Crm
    notify: Notifications
    knowledge: KnowledgeBase

    def method(self, action: str) -> Callable[..., Outcome]:
        kind, name = action.split(".")
        return getattr(getattr(self, kind), name)
