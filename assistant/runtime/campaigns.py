"""Campaigns wired together: the campaigns' tables in the assistant's database, the calling rules of
config.yml, the bank's data for criteria, complaint tickets through the hand-off queue, and the SIP
trunk's dialer for `campaign run`."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

from adapters import backend_clock
from assistant.campaigns.report import report
from assistant.campaigns.results import RecordedCalls
from assistant.campaigns.rules import CallingRules
from assistant.campaigns.runner import Runner
from assistant.campaigns.store import BANK_WIDE, Campaign, CampaignStore, Target
from assistant.campaigns.targets import Sources, phone_number, read_csv, select
from assistant.catalog.catalog import Catalog
from assistant.core.errors import AssistantError
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


@dataclass(frozen=True)
class Texts:
    """Customers every call missed get the catalog's `sms_unreached` through the back end's SMS action."""

    desk: Desk

    def send(self, method: str, phone: str) -> bool:
        return self.desk.callbacks.send_sms(phone, self.desk.catalog.prompts["sms_unreached"])


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
        try:
            ring_s = dial_settings(self.config.section("telephony")).ring_s
            runner = Runner(self.store, self.rules, dialer, RecordedCalls(self.calls.db),
                            HandOffQueue(desk.callbacks), self.clock, ring_timeout_s=ring_s, notices=Texts(desk))
            return runner.run(campaign, until_idle, lines)
        finally:
            dialer.close()

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

    def _bank(self) -> Database:
        """The bank's data criteria read: the sandbox bank's file (a core system's warehouse is not reachable here)."""
        section = self.config.section("adapters")
        if section.get("kind", "sandbox") != "sandbox":
            raise AssistantError("this criterion reads the bank's statements, which only the sandbox bank "
                                 f"(adapters.kind: sandbox) offers, not adapters.kind {section.get('kind')!r}")
        from adapters.sandbox import SandboxBackend

        return open_database(SandboxBackend.from_config(self.config).path)  # made with its demo data if missing
