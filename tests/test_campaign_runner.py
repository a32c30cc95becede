"""Calling rules and results of a campaign, on a pinned clock, with a scripted trunk.

`ScriptedTrunk` stands for the SIP trunk (assistant/core/dialing.py Dialer): each number answers as its
script says, one outcome per attempt, and an answered call's dialog (the function the call opens with)
leaves its turn in the call store as the survey's dialog would (tests/test_campaign_survey.py has the
real one).
"""
from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from assistant.campaigns.results import RecordedCalls
from assistant.campaigns.rules import CallingRules
from assistant.campaigns.runner import Runner
from assistant.campaigns.store import CampaignStore, Target
from assistant.catalog.catalog import Catalog
from assistant.core.errors import AssistantError
from assistant.core.dialing import Dialed, OutboundCall
from assistant.core.turn import Turn
from assistant.queue.handoff import HandOffQueue
from assistant.campaigns.report import report
from assistant.runtime.campaigns import CampaignService, Texts
from assistant.runtime.desk import Desk
from assistant.storage.calls import CallStore
from domain.clock import PinnedClock, in_beijing
from domain.config import Config, load_config

pytestmark = pytest.mark.both_databases
MONDAY = datetime(2026, 3, 2, 10, 0)


class ScriptedTrunk:
    def __init__(self, calls: CallStore, scripts: dict[str, list[str | dict[str, str]]]) -> None:
        self.calls = calls
        self.scripts = scripts  # number → per attempt: "busy", "no_answer", "failed", or the answered call's slots
        self.dialed: list[tuple[str, datetime]] = []

    def originate(self, call: OutboundCall, ring_timeout_s: float = 30.0) -> Dialed:
        self.dialed.append((call.number, self.calls.clock()))
        step = self.scripts[call.number].pop(0)
        if isinstance(step, str):
            return Dialed(step, "", 486 if step == "busy" else None)  # type: ignore[arg-type]
        call_id = self.calls.open_call(call.number)
        self.calls.add_turn(call_id, 0, Turn(heard="", say="", intent=None, function=call.start_function,
                                             awaiting=None, slots=step, transaction=None, escalation=None))
        self.calls.close_call(call_id)
        return Dialed("answered", call_id, 200, talked_s=30.0)


def campaign(call_database: str, purpose: str, scripts: dict[str, list[str | dict[str, str]]]):  # type: ignore[no-untyped-def]
    config = load_config()
    clock = PinnedClock(MONDAY)
    calls = CallStore(call_database, clock)
    store = CampaignStore(calls.db)
    rules = CallingRules.from_config(config.section("campaigns"), Catalog.load(config.intents_dir).outbound)
    trunk = ScriptedTrunk(calls, scripts)
    complaints = HandOffQueue(Desk(config, call_database, clock).callbacks)
    runner = Runner(store, rules, trunk, RecordedCalls(calls.db), complaints, clock)
    made = store.create("test", purpose, "agentless", "test.csv",
                        [Target(f"C{n}", phone, {}) for n, phone in enumerate(scripts)], calls.stamp())
    return runner, made, trunk, clock, calls


def test_no_dial_outside_the_window_nor_over_the_daily_cap(call_database: str) -> None:
    runner, made, trunk, clock, _ = campaign(call_database, "collections", {"13900000001": ["no_answer"] * 30})
    clock.set(datetime(2026, 3, 2, 7, 59))
    assert runner.run(made, until_idle=True) == 0  # 22:00-08:00 is closed
    for _ in range(40):  # a day in retry steps
        clock.advance(minutes=61)
        runner.run(made, until_idle=True)
    days = [when.date() for _, when in trunk.dialed]
    assert all(8 <= when.hour < 22 for _, when in trunk.dialed)
    assert max(days.count(day) for day in set(days)) == 6  # per_day of collections
    contact = runner.store.contacts(made.id)[0]
    assert contact.result == "no_answer" and not contact.final


def test_holidays_are_skipped(call_database: str) -> None:
    runner, made, trunk, clock, _ = campaign(call_database, "service_followup", {"13900000002": ["busy", "busy"]})
    clock.set(datetime(2026, 10, 1, 10, 0))  # National Day
    assert runner.run(made, until_idle=True) == 0
    clock.set(datetime(2026, 10, 8, 10, 0))
    assert runner.run(made, until_idle=True) == 1


def test_a_later_success_overwrites_a_provisional_no_answer(call_database: str) -> None:
    runner, made, trunk, clock, calls = campaign(call_database, "complaint_followup", {
        "13900000003": ["no_answer", {"ending": "completed", "satisfaction": "5"}],
        "13900000004": ["busy", "no_answer", "failed", "no_answer"],
        "13900000005": [{"ending": "completed", "satisfaction": "1"}]})
    for _ in range(10):  # two days: 2 attempts a day, 4 in all
        runner.run(made, until_idle=True)
        clock.advance(hours=4)
    results = {c.phone: (c.result, c.final, c.ticket is not None) for c in runner.store.contacts(made.id)}
    assert results == {"13900000003": ("completed", True, False), "13900000004": ("no_answer", True, False),
                       "13900000005": ("completed", True, True)}
    unhappy = [c for c in runner.store.contacts(made.id) if c.ticket][0]
    ticket = calls.tickets.entry(unhappy.ticket)
    assert (ticket.reason, ticket.skill, ticket.slots["satisfaction"]) == ("campaign_unhappy", "complaints", "1")
    assert [a["outcome"] for a in runner.store.attempts(runner.store.contacts(made.id)[0].id)] == ["no_answer", "completed"]


def test_a_customer_every_call_missed_is_sent_a_text_once_archived_as_an_attempt(call_database: str,
                                                                                  tmp_path: Path) -> None:
    base = load_config()
    adapters = {**base.section("adapters"), "sandbox": {"db": str(tmp_path / "bank.sqlite"), "clock": None}}
    config = Config({**base.raw, "adapters": adapters}, base.root)
    runner, made, trunk, clock, calls = campaign(call_database, "service_followup", {
        "13900000010": ["busy", "no_answer", "failed", "no_answer"], "13900000011": [{"ending": "completed"}]})
    runner.notices = Texts(Desk(config, call_database, clock))
    for _ in range(10):  # two days: 2 attempts a day, 4 in all
        runner.run(made, until_idle=True)
        clock.advance(hours=4)
    missed, reached = runner.store.contacts(made.id)
    assert [(a["method"], a["outcome"]) for a in runner.store.attempts(missed.id)] == [
        ("phone", "busy"), ("phone", "no_answer"), ("phone", "failed"), ("phone", "no_answer"), ("sms", "sent")]
    assert [a["method"] for a in runner.store.attempts(reached.id)] == ["phone"]
    bank = sqlite3.connect(tmp_path / "bank.sqlite")
    assert bank.execute("SELECT phone, text FROM outbox").fetchall() == [
        ("13900000010", "【示范银行】" + Catalog.load(config.intents_dir).prompts["sms_unreached"])]
    bank.close()
    figures = report(runner.store, runner.rules, made)
    assert figures["outcomes"]["no_answer"] == 2 and figures["messages"] == {"sms_sent": 1, "sms_not_sent": 0}
    assert figures["results"] == {"completed": 1, "no_answer": 1}


def test_a_purpose_tells_the_unreached_only_by_a_known_method() -> None:
    config = load_config()
    section = config.section("campaigns")
    marketing = {**section["purposes"]["marketing"], "unreached": "pigeon"}
    with pytest.raises(AssistantError, match="marketing: unreached must be sms"):
        CallingRules.from_config({**section, "purposes": {**section["purposes"], "marketing": marketing}})


def test_a_refusal_stops_further_calls_for_the_purpose(call_database: str) -> None:
    runner, made, trunk, clock, calls = campaign(call_database, "marketing", {"13900000006": [{"ending": "refused"}]})
    runner.run(made, until_idle=True)
    other = runner.store.create("again", "marketing", "agentless", "again.csv",
                                [Target(None, "13900000006", {})], calls.stamp())
    clock.advance(days=30)
    assert runner.run(other, until_idle=True) == 0
    assert runner.store.contacts(other.id)[0].result == "do_not_call"
    assert len(trunk.dialed) == 1


def test_a_number_listed_after_the_campaign_was_made_is_not_dialed_until_its_listing_ends(call_database: str) -> None:
    runner, made, trunk, clock, calls = campaign(call_database, "collections",
                                                 {"13900000007": ["busy", "busy"], "13900000008": ["busy", "busy"]})
    service = CampaignService(load_config(), clock, call_database)
    assert service.add_do_not_call("139-0000-0007", "*", days=None, reason="asked") is None  # bank-wide, for good
    assert service.add_do_not_call("13900000008", "collections", days=2, reason="court") == in_beijing(datetime(2026, 3, 4, 10, 0))
    runner.run(made, until_idle=True)
    assert trunk.dialed == []
    clock.advance(days=2, minutes=1)
    runner.run(made, until_idle=True)
    assert [number for number, _ in trunk.dialed] == ["13900000008"]
    results = {contact.phone: contact.result for contact in runner.store.contacts(made.id)}
    assert results["13900000007"] == "do_not_call"


@pytest.mark.parametrize("phone, purpose, says", [
    ("call me", "*", "'call me' is not a phone number"),
    ("13900000009", "lottery", "unknown purpose"),
])
def test_a_do_not_call_listing_names_a_number_and_a_purpose(call_database: str, phone: str, purpose: str,
                                                            says: str) -> None:
    service = CampaignService(load_config(), PinnedClock(MONDAY), call_database)
    with pytest.raises(AssistantError, match=says):
        service.add_do_not_call(phone, purpose, days=None, reason="asked")
    assert service.store.do_not_call() == []


@pytest.mark.parametrize("function, says", [
    (None, "config.yml: campaigns: purposes: marketing: function is missing"),
    ("balance_inquiry", "config.yml: campaigns: purposes: marketing: function 'balance_inquiry' is no outbound "
                        "function of intents/ (they are: collections_reminder, marketing_offer, service_survey, telesales_offer)"),
])
def test_a_purpose_names_the_script_its_answered_calls_open_with(function: str | None, says: str) -> None:
    config = load_config()
    section = config.section("campaigns")
    marketing = {key: value for key, value in section["purposes"]["marketing"].items() if key != "function"}
    if function is not None:
        marketing["function"] = function
    with pytest.raises(AssistantError) as refused:
        CallingRules.from_config({**section, "purposes": {**section["purposes"], "marketing": marketing}},
                                 Catalog.load(config.intents_dir).outbound)
    assert str(refused.value) == says
