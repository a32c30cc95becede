"""Campaigns wired together: the campaigns' tables in the assistant's database, the calling rules of
config.yml, the bank's data for criteria and customers' addresses, complaint tickets through the hand-off
queue, the SIP trunk's dialer for `campaign run`, and the messages and letters to customers every call missed."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

from adapters import backend_clock
from assistant.campaigns.agents import AGENT, AgentDesks, DeskSettings
from assistant.campaigns.channels import BankCustomers, Channels, MailSettings
from assistant.campaigns.letters import print_letters
from assistant.campaigns.report import report
from assistant.campaigns.results import RecordedCalls
from assistant.campaigns.rules import CallingRules
from assistant.campaigns.runner import Runner
from assistant.campaigns.store import BANK_WIDE, Campaign, CampaignStore, Target
from assistant.campaigns.targets import Sources, phone_number, read_csv, select
from assistant.catalog.catalog import Catalog
from assistant.core.errors import AssistantError
from assistant.core.frames import OUTBOUND, CallStarted
from assistant.core.session import AudioSink, CallOpener, CallSession
from assistant.queue.handoff import HandOffQueue
from assistant.runtime.desk import Desk
from assistant.storage.calls import CallStore, database_location
from assistant.storage.database import Database, open_database
from domain.clock import Clock, in_beijing
from domain.config import Config


def clock_from(now: Optional[str], config: Config) -> Clock:
    """`--now`: Beijing time starting at that moment and running on; else the bank's clock."""
    if now is None:
        return backend_clock(config)
    try:
        start = in_beijing(datetime.fromisoformat(now))
    except ValueError:
        raise AssistantError(f"--now must be a time like 2026-03-02T10:00:00, not {now!r}") from None
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


class Texts(Channels):
    """Customers every call missed are told in the catalog's words: texts through the back end's SMS action,
    e-mails through `mail` (config.yml campaigns: email:), letters queued; reached where the lists say, else
    where the bank's `customers` (when given) say."""

    def __init__(self, desk: Desk, mail: Optional[MailSettings] = None,
                 customers: Optional[BankCustomers] = None) -> None:
        super().__init__(desk.catalog.prompts, lambda phone, text: desk.callbacks.send_sms(phone, text), mail,
                         customers)


def handing_over(desks: AgentDesks, open_call: CallOpener) -> CallOpener:
    """`open_call` for the dialer's SIP front-end: an answered call dialled for a reserved agent becomes that
    agent's ticket as it opens, so the desk shows the customer's context while the customer is on the line."""
    from assistant.runtime.workers import record_id  # the dialog's modules: only to dial

    def open_answered(call: CallStarted, sink: AudioSink | None) -> CallSession:
        session = open_call(call, sink)
        if call.direction == OUTBOUND and AGENT in call.slots:
            desks.hand_over(record_id(session), dict(call.slots))
        return session
    return open_answered


@dataclass
class CampaignService:
    config: Config
    clock: Clock
    database: Optional[str] = None  # default: $ASSISTANT_DATABASE, else config.yml dialog.database

    @cached_property
    def calls(self) -> CallStore:
        return CallStore(self.database or database_location(self.config), self.clock)

    @cached_property
    def store(self) -> CampaignStore:
        return CampaignStore(self.calls.db)

    @cached_property
    def rules(self) -> CallingRules:
        scripts = Catalog.load(self.config.intents_dir).outbound  # each purpose must name one of them
        return CallingRules.from_config(self.config.section("campaigns"), scripts)

    def create(self, name: str, purpose: str, mode: str, csv: Optional[Path], where: Optional[str]) -> Campaign:
        if (csv is None) == (where is None):
            raise AssistantError("give either --csv FILE or --where CRITERIA")
        self.rules.purpose(purpose)
        targets: list[Target] = (read_csv(csv) if csv is not None
                                 else select(str(where), Sources(self.calls.db, self._bank), self.clock()))
        return self.store.create(name, purpose, mode, str(csv) if csv else str(where), targets, self.calls.stamp())

    def run(self, name: str, until_idle: bool, lines: int = 1) -> int:
        """Dials the campaign through the SIP trunk on `lines` lines at once; the number of calls placed."""
        from assistant.runtime.telephony import dial_settings, open_dialer  # the SIP stack and the models: only to dial

        campaign = self.store.campaign(name)
        desk = Desk(self.config, self.database or database_location(self.config), self.clock)
        dialer = open_dialer(self.config)
        desks = AgentDesks(desk.queue, self.store, DeskSettings.from_config(self.config.section("campaign_desks")),
                           self._customer_name)
        dialer.calls.open_call = handing_over(desks, dialer.calls.open_call)
        try:
            ring_s = dial_settings(self.config.section("telephony")).ring_s
            runner = Runner(self.store, self.rules, dialer, RecordedCalls(self.calls.db),
                            HandOffQueue(desk.callbacks), self.clock, ring_timeout_s=ring_s,
                            notices=self.notices(desk), desks=desks)
            return runner.run(campaign, until_idle, lines)
        finally:
            dialer.close()

    def notices(self, desk: Desk) -> Texts:
        """How `run` tells customers every call missed: config.yml campaigns: email:, the bank's customer data."""
        return Texts(desk, self.rules.mail, self._customers)  # the one look-up the previews use too

    def add_do_not_call(self, phone: str, purpose: str, days: Optional[int], reason: str) -> Optional[datetime]:
        """Keeps `phone` off `purpose`'s lists ('*': every purpose) for `days`, or for good; the end, if any."""
        number = phone_number(phone)
        if number is None:
            raise AssistantError(f"{phone!r} is not a phone number")
        if purpose != BANK_WIDE:
            self.rules.purpose(purpose)
        now = self.clock()
        until = None if days is None else now + timedelta(days=days)
        self.store.add_do_not_call(number, purpose, reason, self.calls.stamp(now),
                                   None if until is None else self.calls.stamp(until))
        return until

    def report(self, name: str) -> dict[str, Any]:
        return report(self.store, self.rules, self.store.campaign(name))

    def letters(self, name: str, out: Path) -> int:
        """Writes the campaign's queued letters to `out` as one printable batch, marked printed; how many."""
        prompts = Catalog.load(self.config.intents_dir).prompts
        return print_letters(self.store, self.store.campaign(name), prompts, out, in_beijing(self.clock()).date())

    @cached_property
    def _customers(self) -> BankCustomers:
        return BankCustomers(self._bank)

    def _customer_name(self, customer_id: str) -> Optional[str]:
        """The name a preview shows, from the bank's customer data; None where it has none to give."""
        try:
            found = self._customers.find(customer_id)
        except AssistantError:  # not the sandbox bank: no customer data here
            return None
        return found.name if found else None

    def _bank(self) -> Database:
        """The bank's data criteria and customers' addresses are read from: the sandbox bank's file (a core
        system's warehouse is not reachable here)."""
        section = self.config.section("adapters")
        if section.get("kind", "sandbox") != "sandbox":
            raise AssistantError("the bank's statements and customer data are read from the sandbox bank only "
                                 f"(adapters.kind: sandbox), not adapters.kind {section.get('kind')!r}")
        from adapters.sandbox import SandboxBackend

        return open_database(SandboxBackend.from_config(self.config).path)  # made with its demo data if missing
