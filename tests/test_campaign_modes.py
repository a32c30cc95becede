"""Campaigns dialled for agents (assistant/campaigns/agents.py), on a pinned clock with a scripted trunk:
progressive dials only for a free agent of the purpose's skill, reserved for the call, and the answered
call becomes that agent's ticket with the contact's context; preview first shows the contact on the
agent's desk (the desk API, as a logged-in agent) and dials only on the agent's word.

`AgentTrunk` stands for the SIP trunk with the dialer's call opener (runtime/campaigns.py `handing_over`):
an answered call dialled for an agent is handed over as it opens, and what the queue showed then is kept.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from desk_server import PASSWORD
from fastapi.testclient import TestClient

from assistant.campaigns.agents import AGENT, AgentDesks, DeskSettings
from assistant.campaigns.results import RecordedCalls
from assistant.campaigns.rules import CallingRules
from assistant.campaigns.runner import Runner
from assistant.campaigns.store import Campaign, CampaignStore, Target
from assistant.catalog.catalog import Catalog
from assistant.core.dialing import Dialed, OutboundCall
from assistant.core.errors import AssistantError
from assistant.queue.handoff import HandOffQueue
from assistant.queue.routing import CallQueue, Entry
from assistant.runtime.campaigns import CampaignService
from assistant.runtime.desk import Desk, desk_app
from assistant.storage.calls import CallStore
from domain.clock import PinnedClock
from domain.config import Config, load_config

pytestmark = pytest.mark.both_databases
MONDAY = datetime(2026, 3, 2, 10, 0)
OVERDUE = {"days_overdue": "35", "amount_due": "5230.00", "card_tail": "4821"}


@dataclass
class AgentTrunk:
    calls: CallStore
    desks: AgentDesks
    scripts: dict[str, list[str]]  # number → per attempt: answered, busy, no_answer or failed
    dialled: list[OutboundCall] = field(default_factory=list)
    ringing: list[dict[str, str]] = field(default_factory=list)  # per dial: every agent's state as it rang
    handed: list[Entry | None] = field(default_factory=list)  # the tickets answered calls became as they opened
    at_once: int = 0
    most_at_once: int = 0
    counting: threading.Lock = field(default_factory=threading.Lock)

    def originate(self, call: OutboundCall, ring_timeout_s: float = 30.0) -> Dialed:
        with self.counting:
            self.at_once += 1
            self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            self.dialled.append(call)
            self.ringing.append({agent.name: agent.state for agent in self.desks.queue.agents()})
            time.sleep(0.05)  # a line dialling meanwhile would overlap this one
            outcome = self.scripts[call.number].pop(0)
            if outcome != "answered":
                return Dialed(outcome, "", 486 if outcome == "busy" else None)  # type: ignore[arg-type]
            call_id = self.calls.open_call(call.number)
            self.handed.append(self.desks.hand_over(call_id, dict(call.slots)))
            self.calls.close_call(call_id)
            return Dialed("answered", call_id, 200, talked_s=42.0)
        finally:
            with self.counting:
                self.at_once -= 1


@dataclass
class Setup:
    runner: Runner
    campaign: Campaign
    trunk: AgentTrunk
    queue: CallQueue
    store: CampaignStore


def setup(database: str, mode: str, purpose: str, targets: dict[str, dict[str, str]], scripts: dict[str, list[str]],
          agents: dict[str, list[str]], preview_s: float = 5.0, config: Config | None = None,
          names: Callable[[str], str | None] | None = None) -> Setup:
    config = config or load_config()
    clock = PinnedClock(MONDAY)
    calls = CallStore(database, clock)
    store = CampaignStore(calls.db)
    rules = CallingRules.from_config(config.section("campaigns"), Catalog.load(config.intents_dir).outbound)
    desk = Desk(config, database, clock)
    for name, skills in agents.items():
        desk.queue.set_agent(name, skills)
    desks = AgentDesks(desk.queue, store, DeskSettings(preview_s=preview_s, poll_s=0.02), names)
    trunk = AgentTrunk(calls, desks, scripts)
    runner = Runner(store, rules, trunk, RecordedCalls(calls.db), HandOffQueue(desk.callbacks), clock, desks=desks)
    made = store.create("dunning", purpose, mode, "list.csv",
                        [Target(f"C{n}", phone, context) for n, (phone, context) in enumerate(targets.items())],
                        calls.stamp())
    return Setup(runner, made, trunk, desk.queue, store)


@contextmanager
def running(runner: Runner, made: Campaign, until_idle: bool = True, lines: int = 1) -> Iterator[Callable[[], int]]:
    """The runner on a thread of its own; yields what it returned once joined (bounded: 10 s)."""
    stop = threading.Event()
    placed: list[int] = []
    thread = threading.Thread(target=lambda: placed.append(runner.run(made, until_idle, lines, stop=stop.is_set)))
    thread.start()
    try:
        yield lambda: (thread.join(10), placed[0])[1]
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive()


def eventually(check: Callable[[], Any], timeout_s: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.02)
    raise AssertionError("not within the time")


# Progressive.

def test_progressive_dials_nothing_without_a_free_agent_of_the_skill(call_database: str) -> None:
    made = setup(call_database, "progressive", "collections", {"13900000001": OVERDUE}, {"13900000001": ["answered"]},
                 {"李娜": ["general"], "王芳": ["cards"]})
    made.queue.set_agent("王芳", state="away")  # collections' skill is cards (its complaint_skill): nobody free
    assert made.runner.run(made.campaign, until_idle=True) == 0
    assert made.trunk.dialled == [] and made.store.contacts(made.campaign.id)[0].attempts == 0
    assert made.queue.agent("李娜").state == "available"  # an agent without the skill is not taken


def test_progressive_waits_for_an_agent_then_dials_one_call_at_a_time_each_for_the_reserved_agent(
        call_database: str) -> None:
    numbers = {"13900000001": ["answered"], "13900000002": ["answered"], "13900000003": ["answered"]}
    made = setup(call_database, "progressive", "collections", {n: OVERDUE for n in numbers}, numbers,
                 {"王芳": ["cards"]})
    made.queue.set_agent("王芳", state="away")
    with running(made.runner, made.campaign, until_idle=False, lines=2) as placed:  # waits, looking every poll_s
        time.sleep(0.3)
        assert made.trunk.dialled == []
        made.queue.set_agent("王芳", state="available")
        first = eventually(lambda: made.trunk.handed)[0]
        assert first is not None
        assert made.queue.agent("王芳").state == "on_call"  # the answered call is hers: she ends it on the desk
        time.sleep(0.2)
        assert len(made.trunk.dialled) == 1  # nobody free to dial the next for
        made.queue.finish("王芳")
        made.queue.wrap_up("王芳", "resolved")
        eventually(lambda: len(made.trunk.handed) == 2)
        made.queue.finish("王芳")
        made.queue.wrap_up("王芳", "resolved")
        assert placed() == 3  # every contact done: the runner stops
    assert made.trunk.most_at_once == 1  # two lines, one agent
    assert [state["王芳"] for state in made.trunk.ringing] == ["on_call"] * 3  # reserved before every dial
    assert all(call.slots[AGENT] == "王芳" and call.start_function is None for call in made.trunk.dialled)
    # the answered call's ticket, in the database: hers, taken, with the contact's context
    ticket = made.queue.entry(first.ticket)
    assert (ticket.agent, ticket.status, ticket.reason, ticket.skill) == ("王芳", "done", "campaign_call", "cards")
    # the lines race for the one agent: whichever contact the winner had claimed was dialled first
    assert ticket.caller == made.trunk.dialled[0].number and ticket.customer_id == f"C{list(numbers).index(ticket.caller)}"
    assert {k: ticket.slots[k] for k in OVERDUE} == OVERDUE
    assert (ticket.slots["campaign"], ticket.slots["purpose"], ticket.slots["mode"]) == ("dunning", "collections",
                                                                                        "progressive")
    contacts = made.store.contacts(made.campaign.id)
    tickets = {entry.caller: entry.ticket for entry in made.trunk.handed}  # in the order the lines won the agent
    assert [(c.result, c.final, c.ticket) for c in contacts] == [("to_agent", True, tickets[c.phone]) for c in contacts]
    assert [a["outcome"] for a in made.store.attempts(contacts[0].id)] == ["answered"]
    assert made.queue.agent("王芳").state == "on_call"  # the third call is still hers to end


def test_a_call_not_answered_frees_the_agent_at_once(call_database: str) -> None:
    numbers = {"13900000004": ["no_answer"], "13900000005": ["failed"]}
    made = setup(call_database, "progressive", "complaint_followup", {n: {"ticket": "17"} for n in numbers}, numbers,
                 {"王芳": ["complaints"]})
    assert made.runner.run(made.campaign, until_idle=True) == 2  # the agent was free again for the second
    assert [state["王芳"] for state in made.trunk.ringing] == ["on_call", "on_call"]  # reserved while it rang
    assert made.queue.agent("王芳").state == "available" and made.trunk.handed == []
    assert made.trunk.dialled[0].slots["complaint_ticket"] == "17"  # the complaint followed up: no ticket to wait with
    assert made.queue.waiting() == [] and made.queue.tickets.taken_by("王芳") is None


def test_a_reservation_a_stopped_runner_left_is_released_when_a_runner_starts(call_database: str) -> None:
    made = setup(call_database, "progressive", "collections", {"13900000010": OVERDUE}, {"13900000010": ["busy"]},
                 {"王芳": ["cards"]})
    contact = made.runner.next_contact(made.campaign)
    assert contact is not None and made.runner.desks is not None
    assert made.runner.desks.reserve("cards", made.campaign, contact) == "王芳"  # and the runner stopped
    assert made.runner.run(made.campaign, until_idle=True) == 0  # still within a preview and a ring: left alone
    made.runner.clock.advance(minutes=5)  # type: ignore[attr-defined]
    assert made.runner.run(made.campaign, until_idle=True) == 1
    assert made.queue.agent("王芳").state == "available"


# Preview, through the agent's desk.

@pytest.fixture()
def desk_config(config: Config) -> Config:
    return Config({**config.raw, "desktop": {**config.section("desktop"), "poll_s": 0.05, "dispatch_s": 0.05}},
                  config.root)


def agent_desks(config: Config, database: str) -> dict[str, TestClient]:
    """The desk app on the campaign's database, with 王芳 (cards) and 李娜 (cards) logged in."""
    app = desk_app(config, database, PinnedClock(MONDAY))
    clients = {}
    for name in ("王芳", "李娜"):
        app.state.services.accounts.add_user(name, "agent", PASSWORD, ["cards"])
        clients[name] = TestClient(app)
        assert clients[name].post("/api/login", json={"name": name, "password": PASSWORD}).status_code == 200
    return clients


def test_a_preview_shows_the_reserved_agent_the_contact_and_dials_only_on_her_word(
        call_database: str, desk_config: Config) -> None:
    desks = agent_desks(desk_config, call_database)
    numbers = {"13900000006": ["answered"]}
    made = setup(call_database, "preview", "collections", {"13900000006": {**OVERDUE, "name": "张伟"}}, numbers, {},
                 config=desk_config, names=lambda customer_id: "not asked: the list names the customer")
    desks["李娜"].put("/api/me/state", json={"state": "away"})
    with running(made.runner, made.campaign) as placed:
        shown = eventually(lambda: desks["王芳"].get("/api/me/preview").json())
        assert shown["campaign"] == "dunning" and shown["purpose"] == "collections"
        assert (shown["phone"], shown["customer_id"], shown["name"]) == ("13900000006", "C0", "张伟")
        assert shown["context"] == {**OVERDUE, "name": "张伟"}
        assert desks["王芳"].get("/api/me").json()["agent"]["state"] == "on_call"  # reserved for it
        time.sleep(0.2)
        assert made.trunk.dialled == []  # nothing before her word
        # the other agent neither sees it nor decides it
        assert desks["李娜"].get("/api/me/preview").json() is None
        assert desks["李娜"].post("/api/me/preview", json={"decision": "skip"}).status_code == 409
        assert desks["王芳"].post("/api/me/preview", json={"decision": "later"}).status_code == 422
        decided = desks["王芳"].post("/api/me/preview", json={"decision": "dial"})
        assert decided.status_code == 200 and decided.json()["contact"] == shown["contact"]
        assert placed() == 1
    assert [call.number for call in made.trunk.dialled] == ["13900000006"]
    current = desks["王芳"].get("/api/calls/current").json()  # the answered call is on her desk, with the context
    assert current["reason"] == "campaign_call" and current["caller"] == "13900000006" and current["slots"]["name"] == "张伟"
    assert {k: current["slots"][k] for k in OVERDUE} == OVERDUE
    assert desks["王芳"].get("/api/me/preview").json() is None
    assert desks["王芳"].post("/api/me/preview", json={"decision": "dial"}).status_code == 409  # decided once


def test_a_skipped_preview_is_archived_and_the_contact_closed(call_database: str, desk_config: Config) -> None:
    desks = agent_desks(desk_config, call_database)
    made = setup(call_database, "preview", "collections", {"13900000007": OVERDUE}, {"13900000007": ["answered"]}, {},
                 config=desk_config, names={"C0": "李四"}.get)  # as the bank's customer data gives it
    desks["李娜"].put("/api/me/state", json={"state": "away"})
    with running(made.runner, made.campaign) as placed:
        assert eventually(lambda: desks["王芳"].get("/api/me/preview").json())["name"] == "李四"
        assert desks["王芳"].post("/api/me/preview", json={"decision": "skip"}).status_code == 200
        assert placed() == 0
    assert made.trunk.dialled == []
    contact = made.store.contacts(made.campaign.id)[0]
    assert (contact.result, contact.final, contact.attempts) == ("skipped", True, 0)
    assert made.store.next_due(made.campaign.id) is None  # closed: not called again
    assert [(a["method"], a["outcome"], a["answers"]) for a in made.store.attempts(contact.id)] == [
        ("preview", "skipped", {"agent": "王芳"})]
    assert desks["王芳"].get("/api/me").json()["agent"]["state"] == "available"


def test_a_preview_nobody_decides_is_handed_back(call_database: str, desk_config: Config) -> None:
    desks = agent_desks(desk_config, call_database)
    made = setup(call_database, "preview", "collections", {"13900000008": OVERDUE}, {"13900000008": ["answered"]}, {},
                 preview_s=0.3, config=desk_config)
    desks["李娜"].put("/api/me/state", json={"state": "away"})
    assert made.runner.run(made.campaign, until_idle=True) == 0
    assert made.trunk.dialled == []
    contact = made.store.contacts(made.campaign.id)[0]
    assert (contact.result, contact.attempts) == (None, 0)
    assert made.store.next_due(made.campaign.id) == "2026-03-02T10:00:00+08:00"  # due now: the next free agent gets it
    assert [a["outcome"] for a in made.store.attempts(contact.id)] == ["handed_back"]
    assert desks["王芳"].get("/api/me").json()["agent"]["state"] == "away"  # not at the desk
    assert desks["王芳"].post("/api/me/preview", json={"decision": "dial"}).status_code == 409


def test_the_preview_endpoints_are_for_agents(call_database: str, desk_config: Config) -> None:
    app = desk_app(desk_config, call_database, PinnedClock(MONDAY))
    app.state.services.accounts.add_user("陈主管", "supervisor", PASSWORD)
    supervisor = TestClient(app)
    supervisor.post("/api/login", json={"name": "陈主管", "password": PASSWORD})
    assert supervisor.get("/api/me/preview").status_code == 403
    assert TestClient(app).get("/api/me/preview").status_code == 401


# The desk page, in headless Chromium against the desk app served on 127.0.0.1.

PAGE_PORT = 18100


@contextmanager
def desk_page_server(config: Config, database: str) -> Iterator[str]:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(desk_app(config, database, PinnedClock(MONDAY)), host="127.0.0.1",
                                           port=PAGE_PORT, log_level="warning"))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        eventually(lambda: server.started, timeout_s=20)
        yield f"http://127.0.0.1:{PAGE_PORT}"
    finally:
        server.should_exit = True
        thread.join(20)


@pytest.mark.slow
def test_the_desk_page_shows_the_preview_and_dials_on_the_click(tmp_path: Path, desk_config: Config) -> None:
    from test_desktop_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in

    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium binary (Debian's chromium package; ./run tests installs it)")
    from playwright.sync_api import expect, sync_playwright

    database = str(tmp_path / "calls.sqlite")
    agent_desks(desk_config, database)
    made = setup(database, "preview", "complaint_followup", {"13900000009": {"ticket": "17"}},
                 {"13900000009": ["answered"]}, {}, config=desk_config)
    made.queue.set_agent("李娜", state="away")
    made.queue.set_agent("王芳", ["complaints"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with desk_page_server(desk_config, database) as url, sync_playwright() as playwright, \
            running(made.runner, made.campaign) as placed:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_context(base_url=url, locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        log_in(page, "王芳")
        page.wait_for_url("**/agent")
        panel = page.locator("#preview")
        expect(panel).to_be_visible(timeout=10_000)
        for shown in ("dunning", "投诉回访", "13900000009", "C0"):
            expect(page.locator("#preview-facts")).to_contain_text(shown)
        expect(page.locator("#preview-context")).to_contain_text("回访的投诉工单")
        expect(page.locator("#preview-context")).to_contain_text("17")
        page.screenshot(path=str(ARTIFACTS / "10-agent-preview.png"), full_page=True)
        assert made.trunk.dialled == []
        page.click("#preview-dial")
        expect(page.locator("#call")).to_be_visible(timeout=10_000)  # the answered call, on her desk
        expect(page.locator("#call-facts")).to_contain_text("外呼接通")
        expect(page.locator("#call-slots")).to_contain_text("17")
        expect(panel).to_be_hidden()
        page.screenshot(path=str(ARTIFACTS / "11-agent-preview-answered.png"), full_page=True)
        assert placed() == 1
        chromium.close()
        assert errors == []
    assert [call.number for call in made.trunk.dialled] == ["13900000009"]


def test_campaign_run_names_the_customer_from_the_banks_data(tmp_path: Path) -> None:
    base = load_config()
    adapters = {**base.section("adapters"), "sandbox": {"db": str(tmp_path / "bank.sqlite"), "clock": None}}
    service = CampaignService(Config({**base.raw, "adapters": adapters}, base.root), PinnedClock(MONDAY),
                              str(tmp_path / "calls.sqlite"))
    assert (service._customer_name("C0001"), service._customer_name("C9999")) == ("张三", None)  # the sandbox's demo data


def test_the_desk_settings_come_from_config_yml_and_a_purpose_may_name_its_agents_skill() -> None:
    config = load_config()
    settings = DeskSettings.from_config(config.section("campaign_desks"))
    assert (settings.preview_s, settings.poll_s) == (120.0, 2.0)
    rules = CallingRules.from_config(config.section("campaigns"))
    collections = rules.purpose("collections")
    assert settings.skill(collections) == "cards"  # its complaint_skill
    assert DeskSettings(skills={"collections": "collections"}).skill(collections) == "collections"
    with pytest.raises(AssistantError, match="campaign_desks: preview_s must be above 0"):
        DeskSettings.from_config({"preview_s": 0})
    with pytest.raises(AssistantError, match="campaign_desks: give preview_s and/or poll_s"):
        DeskSettings.from_config({"preview_seconds": 30})
