"""How a customer every call missed is told: the purpose's `unreached` methods (config.yml campaigns:).

    sms      the catalog's sms_unreached, through the back end's SMS action
    email    email_unreached_subject and email_unreached, through the SMTP server of config.yml
             campaigns: email:, to the list's `email` column or else the bank's customer data
    letter   queued for `assistant campaign letters` (letters.py), to the list's `address` column or
             else the bank's postal address

Each is an attempt of the contact (runner.py archives it): sent or not_sent, a letter queued (printed
later) or not_sent; a not_sent attempt's detail says why. No address, an SMTP server down or refusing,
the bank's data out of reach: each is a not_sent, and the run goes on.
"""
from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

from assistant.campaigns.store import EMAIL, LETTER, NOT_SENT, QUEUED, SENT, SMS, Attempt, Contact
from assistant.campaigns.targets import email_address
from assistant.catalog.template import render
from assistant.core.errors import AssistantError
from assistant.storage.database import Database
from domain.errors import UserError

NAME, ADDRESS = "name", "address"  # what a queued letter keeps of its addressee (its answers)
_MAIL_KEYS = {"host", "port", "sender", "timeout_s"}


@dataclass(frozen=True)
class MailSettings:
    """config.yml campaigns: email: the SMTP server campaign e-mails are handed to (no login, no TLS:
    a relay of the bank's own network)."""

    host: str
    port: int
    sender: str  # the From address
    timeout_s: float = 10.0  # to connect, and for each answer of the server

    @classmethod
    def from_config(cls, section: Any) -> MailSettings:
        where = "config.yml: campaigns: email"
        if not isinstance(section, dict) or set(section) - _MAIL_KEYS or not {"host", "port", "sender"} <= set(section):
            raise AssistantError(f"{where}: give host, port and sender (and timeout_s if not 10 seconds), nothing else")
        try:
            port, timeout_s = int(section["port"]), float(section.get("timeout_s", 10.0))
        except (TypeError, ValueError):
            raise AssistantError(f"{where}: port and timeout_s must be numbers") from None
        sender = email_address(str(section["sender"]))
        if not str(section["host"]).strip() or not 0 < port < 65536 or timeout_s <= 0 or sender is None:
            raise AssistantError(f"{where}: host must be given, port lie in 1-65535, timeout_s be positive and "
                                 f"sender an e-mail address ({section['sender']!r} is not)")
        return cls(str(section["host"]).strip(), port, sender, timeout_s)


class Mailer:
    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def send(self, to: str, subject: str, body: str) -> None:
        """Hands the e-mail to the SMTP server; AssistantError if it is not reachable or refuses it."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.settings.sender, to, subject
        message["Date"], message["Message-ID"] = formatdate(localtime=True), make_msgid()
        message.set_content(body)
        where = f"SMTP server {self.settings.host}:{self.settings.port}"
        try:
            with smtplib.SMTP(self.settings.host, self.settings.port, timeout=self.settings.timeout_s) as server:
                server.send_message(message)
        except smtplib.SMTPException as error:
            raise AssistantError(f"{where} refused the e-mail: {error}") from error
        except OSError as error:
            raise AssistantError(f"{where} not reachable: {error}") from error


@dataclass(frozen=True)
class Customer:
    """What the bank (or the list) knows of where to reach a customer; None: nothing."""

    name: str | None = None
    email: str | None = None
    address: str | None = None


class Customers(Protocol):
    def find(self, customer_id: str) -> Customer | None: ...


class BankCustomers:
    """The bank's customer data: its `customers` table, opened at the first look-up."""

    def __init__(self, bank: Callable[[], Database]) -> None:
        self.bank = bank
        self._db: Database | None = None
        self._opening = threading.Lock()

    def find(self, customer_id: str) -> Customer | None:
        with self._opening:
            if self._db is None:
                self._db = self.bank()
        row = self._db.row("SELECT name, email, address FROM customers WHERE id = ?", (customer_id,))
        return None if row is None else Customer(row["name"], row["email"], row["address"])


class Channels:
    """runner.py's Notices: the attempt each method comes to for a contact."""

    def __init__(self, prompts: Mapping[str, str], texts: Callable[[str, str], bool], mail: MailSettings | None,
                 customers: Customers | None) -> None:
        """`texts(phone, text)`: the back end's SMS action, True when sent; `customers`: None when only
        the lists' own columns say where a customer is reached."""
        self.prompts = prompts
        self.texts = texts
        self.mailer = Mailer(mail) if mail is not None else None
        self.customers = customers

    def send(self, method: str, contact: Contact) -> Attempt:
        try:
            if method == SMS:
                sent = self.texts(contact.phone, self.prompts["sms_unreached"])
                return Attempt(SMS, SENT if sent else NOT_SENT, {}, detail="" if sent else "the SMS action failed")
            customer = self._customer(contact)
            if method == EMAIL:
                return self._email(customer)
            if method == LETTER:
                return self._letter(customer)
        except UserError as error:  # the bank's data or the SMTP server: this message is lost, not the run
            return Attempt(method, NOT_SENT, {}, detail=str(error))
        raise AssistantError(f"unknown way to tell a customer: {method!r}")

    def _customer(self, contact: Contact) -> Customer:
        """The list's own name, email and address columns first, else the bank's customer data."""
        found = self.customers.find(contact.customer_id) if self.customers and contact.customer_id else None
        known = found or Customer()
        return Customer(contact.context.get(NAME) or known.name, contact.context.get(EMAIL) or known.email,
                        contact.context.get(ADDRESS) or known.address)

    def _email(self, customer: Customer) -> Attempt:
        if self.mailer is None:
            return Attempt(EMAIL, NOT_SENT, {}, detail="no SMTP server (config.yml campaigns: email:)")
        if not customer.email:
            return Attempt(EMAIL, NOT_SENT, {}, detail="no e-mail address: neither the list nor the bank has one")
        to = email_address(customer.email)
        if to is None:
            return Attempt(EMAIL, NOT_SENT, {}, detail=f"{customer.email!r} is not an e-mail address")
        self.mailer.send(to, self.prompts["email_unreached_subject"],
                         render(self.prompts["email_unreached"], _named(customer)))
        return Attempt(EMAIL, SENT, {})

    def _letter(self, customer: Customer) -> Attempt:
        if not customer.address:
            return Attempt(LETTER, NOT_SENT, {}, detail="no postal address: neither the list nor the bank has one")
        return Attempt(LETTER, QUEUED, {NAME: customer.name or "", ADDRESS: customer.address})


def letter_text(prompts: Mapping[str, str], name: str) -> str:
    """A letter's text, to `name` when known (letters.py prints it)."""
    return render(prompts["letter_unreached"], _named(Customer(name or None)))


def _named(customer: Customer) -> dict[str, str]:
    return {NAME: customer.name} if customer.name else {}
