"""The agent desktop's API through FastAPI's TestClient, on a SQLite file of its own, with the clock
pinned at Monday 2025-01-06 10:00 Beijing time: logging in and its throttle, sessions, taking and
wrapping up calls, a call's readable context, who may read what, the supervisor's figures, the live
queue's WebSocket, the callback scheduler, and the OpenAPI schema with its offline docs."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from desk_server import LOCKED_CALL, PASSWORD, book_callback, hand_off
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from starlette.websockets import WebSocketDisconnect

from assistant.campaigns.store import Attempt, CampaignStore, Progress, Target
from assistant.core.errors import AssistantError
from assistant.desktop.accounts import NOT_LOGGED_IN, Accounts, LockedOut
from assistant.desktop.auth import COOKIE
from assistant.desktop.settings import DesktopSettings
from assistant.queue.routing import CallQueue
from assistant.queue.settings import QueueSettings
from assistant.runtime.desk import Desk, desk_app
from assistant.runtime.workers import CallbackScheduler
from assistant.storage.calls import CallStore
from domain.clock import PinnedClock
from domain.config import Config

AGENTS = {"王芳": ["general", "cards"], "李娜": ["general"]}
SUPERVISOR = "陈主管"


@pytest.fixture()
def clock() -> PinnedClock:
    return PinnedClock(datetime(2025, 1, 6, 10, 0))


@pytest.fixture()
def database(tmp_path: Path) -> str:
    return str(tmp_path / "calls.sqlite")


def quick(config: Config) -> Config:
    """config.yml with the live queue and the callback scheduler looking every 50 ms."""
    return Config({**config.raw, "desktop": {**config.section("desktop"), "poll_s": 0.05, "dispatch_s": 0.05}},
                  config.root)


@pytest.fixture()
def app(config: Config, database: str, clock: PinnedClock) -> FastAPI:
    app = desk_app(quick(config), database, clock)
    accounts = app.state.services.accounts
    for name, skills in AGENTS.items():
        accounts.add_user(name, "agent", PASSWORD, skills)
    accounts.add_user(SUPERVISOR, "supervisor", PASSWORD)
    return app


@pytest.fixture()
def store(database: str, clock: PinnedClock) -> CallStore:
    """The dialog's side: its own connection to the database."""
    return CallStore(database, clock)


def desk(app: FastAPI, name: str) -> TestClient:
    """A browser logged in as `name`."""
    client = TestClient(app)
    assert client.post("/api/login", json={"name": name, "password": PASSWORD}).status_code == 200
    return client


def arrive(store: CallStore, clock: PinnedClock, **context: object) -> int:
    """A hand-off ticket; the clock moves on a second."""
    ticket = hand_off(store, **context)
    clock.advance(seconds=1)
    return ticket


# Logging in and sessions.

def test_login_sets_a_strict_http_only_session_cookie(app: FastAPI) -> None:
    client = TestClient(app)
    response = client.post("/api/login", json={"name": "王芳", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json() == {"name": "王芳", "role": "agent", "agent": {
        "name": "王芳", "skills": ["general", "cards"], "state": "available", "since": "2025-01-06T10:00:00+08:00"}}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Max-Age=28800" in cookie  # config.yml desktop.session_minutes: 480
    assert client.get("/api/me").json()["role"] == "agent"
    assert desk(app, SUPERVISOR).get("/api/me").json() == {"name": SUPERVISOR, "role": "supervisor", "agent": None}


def test_a_wrong_password_and_an_unknown_user_get_the_same_refusal(app: FastAPI) -> None:
    client = TestClient(app)
    wrong = client.post("/api/login", json={"name": "王芳", "password": "not-the-password"})
    unknown = client.post("/api/login", json={"name": "nobody", "password": PASSWORD})
    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert wrong.json() == unknown.json() == {"detail": "wrong name or password"}
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers
    assert client.get("/api/me").status_code == 401
    missing = client.post("/api/login", json={"name": "王芳"})
    assert missing.status_code == 422 and missing.json() == {"detail": "body.password: field required"}


def test_passwords_are_salted_scrypt_and_sessions_kept_by_their_hash_only(app: FastAPI) -> None:
    client = desk(app, "王芳")
    db = app.state.services.accounts.db
    hashes = [row["password"] for row in db.rows("SELECT password FROM desk_users ORDER BY name")]
    assert all(h.startswith("scrypt$16384$8$1$") and PASSWORD not in h for h in hashes)
    assert len(set(hashes)) == len(hashes)  # the same password, a salt of its own each
    token = client.cookies[COOKIE]
    assert db.value("SELECT token_hash FROM desk_sessions") == hashlib.sha256(token.encode()).hexdigest()


def test_a_session_ends_when_it_expires_or_on_logout(app: FastAPI, clock: PinnedClock) -> None:
    client = desk(app, "王芳")
    clock.advance(minutes=479)
    assert client.get("/api/me").status_code == 200  # fixed from the login, however busy the desk was
    clock.advance(minutes=1)
    expired = client.get("/api/me")
    assert expired.status_code == 401 and expired.json() == {"detail": "not logged in, or the session has expired: "
                                                                       "log in again"}
    client = desk(app, "王芳")
    assert client.post("/api/logout").status_code == 204
    assert client.get("/api/me").status_code == 401
    forged = TestClient(app, cookies={COOKIE: "made-up"})
    assert forged.get("/api/queue").status_code == 401


def attempt(app: FastAPI, name: str, password: str) -> Response:
    return TestClient(app).post("/api/login", json={"name": name, "password": password})


@pytest.mark.parametrize("name", ["王芳", "nobody"])  # a user and a name nobody has: the same answers
def test_five_failed_logins_lock_the_name_until_the_window_passes(app: FastAPI, clock: PinnedClock, name: str) -> None:
    for _ in range(5):
        assert attempt(app, name, "not-the-password").status_code == 401
    clock.advance(minutes=10)
    locked = attempt(app, name, PASSWORD)  # the right password too
    assert locked.status_code == 429 and "set-cookie" not in locked.headers
    assert locked.json() == {"detail": "too many failed logins for this name: try again in 5 min"}
    assert locked.headers["retry-after"] == "300"  # 15 minutes (desktop.lockout_minutes) from the first failure
    assert attempt(app, "李娜", PASSWORD).status_code == 200  # other names are not held up
    clock.advance(minutes=4, seconds=59)
    assert attempt(app, name, PASSWORD).json() == {"detail": "too many failed logins for this name: try again in 1 min"}
    clock.advance(seconds=1)
    assert attempt(app, name, PASSWORD).status_code == (200 if name == "王芳" else 401)


def test_a_successful_login_clears_the_count(app: FastAPI) -> None:
    for _ in range(4):
        attempt(app, "王芳", "not-the-password")
    desk(app, "王芳")
    for _ in range(5):  # counted from none again
        assert attempt(app, "王芳", "not-the-password").status_code == 401
    assert attempt(app, "王芳", PASSWORD).status_code == 429


def test_every_server_on_the_database_sees_the_lock(app: FastAPI, config: Config, database: str,
                                                    clock: PinnedClock) -> None:
    for _ in range(5):
        attempt(app, "王芳", "not-the-password")
    another = desk_app(quick(config), database, clock)
    assert attempt(another, "王芳", PASSWORD).status_code == 429


@pytest.mark.both_databases
def test_parallel_guesses_through_several_connections_are_counted_exactly(call_database: str,
                                                                         clock: PinnedClock) -> None:
    """Ten wrong passwords at once, each through a connection of its own as from ten servers: five
    are checked and five locked out, however they interleave (each attempt is counted in one statement)."""
    servers = [Accounts(CallQueue(CallStore(call_database, clock), QueueSettings()), DesktopSettings())
               for _ in range(10)]
    servers[0].add_user("王芳", "agent", PASSWORD, ["general"])

    def guess(accounts: Accounts) -> str:
        try:
            return "wrong" if accounts.login("王芳", "not-the-password") is None else "in"
        except LockedOut:
            return "locked"

    with ThreadPoolExecutor(len(servers)) as pool:
        outcomes = sorted(pool.map(guess, servers))
    assert outcomes == ["locked"] * 5 + ["wrong"] * 5
    with pytest.raises(LockedOut):
        servers[0].login("王芳", PASSWORD)
    for accounts in servers:
        accounts.db.close()


# Calls.

def test_take_next_gives_the_oldest_highest_priority_ticket_with_its_context(
        app: FastAPI, store: CallStore, clock: PinnedClock) -> None:
    old = arrive(store, clock, reason="caller_request", skill="general", priority=0)
    locked = arrive(store, clock)  # cards, priority 2
    failed = arrive(store, clock, reason="backend_failed", skill="general", priority=2)
    wang = desk(app, "王芳")
    snapshot = wang.get("/api/queue").json()
    assert [(e["ticket"], e["position"]) for e in snapshot["waiting"]] == [(locked, 1), (failed, 1), (old, 2)]
    assert snapshot["waiting"][0]["caller"] == "*******8000" and snapshot["waiting_count"] == 3
    assert all(e["predicted_wait_s"] is not None for e in snapshot["waiting"])

    taken = wang.post("/api/calls/next").json()
    assert taken == {
        "ticket": locked, "created_at": "2025-01-06T10:00:01+08:00", "skill": "cards", "priority": 2,
        "status": "taken", "reason": "locked", "caller": "13800138000", "customer_id": "C001",
        "verification": "locked", "function": "card_loss", "function_title": "银行卡挂失", "intent": "card_loss",
        "intent_title": "银行卡挂失", "slots": {"card": "debit"}, "slots_shown": {"card": "借记卡"},
        "transcript": LOCKED_CALL["transcript"], "agent": "王芳", "disposition": None, "callback": None}
    assert wang.get("/api/calls/current").json() == taken
    assert desk(app, "李娜").post("/api/calls/next").json()["ticket"] == failed


def test_an_agent_reads_only_their_own_tickets(app: FastAPI, store: CallStore, clock: PinnedClock) -> None:
    """Another agent's ticket is answered as one that does not exist: ticket numbers cannot be probed."""
    ticket = arrive(store, clock)
    wang, li = desk(app, "王芳"), desk(app, "李娜")
    wang.post("/api/calls/next")
    assert wang.get(f"/api/calls/{ticket}").json()["agent"] == "王芳"
    for number in (ticket, 999):
        for response in (li.get(f"/api/calls/{number}"), li.post(f"/api/calls/{number}/end"),
                         li.post(f"/api/calls/{number}/wrap-up", json={"disposition": "resolved"})):
            assert response.status_code == 404 and response.json() == {"detail": f"no hand-off ticket {number}"}
    assert desk(app, SUPERVISOR).get(f"/api/calls/{ticket}").json()["ticket"] == ticket


def test_roles_keep_to_their_endpoints(app: FastAPI) -> None:
    assert desk(app, "王芳").get("/api/stats").json() == {"detail": "this is for supervisors only"}
    supervisor = desk(app, SUPERVISOR)
    for response in (supervisor.post("/api/calls/next"), supervisor.put("/api/me/state", json={"state": "away"})):
        assert response.status_code == 403 and "for agents" in response.json()["detail"]
    assert TestClient(app).get("/api/stats").status_code == 401


def test_the_supervisor_sees_every_campaign_with_its_figures(app: FastAPI, store: CallStore) -> None:
    campaigns = CampaignStore(store.db)
    assert desk(app, SUPERVISOR).get("/api/campaigns").json() == []
    for name in ("spring", "summer"):
        made = campaigns.create(name, "service_followup", "agentless", "list.csv",
                                [Target("C1", "13900000001", {}), Target(None, "13900000002", {})], store.stamp())
    contact = campaigns.claim_next(made.id, store.stamp())
    assert contact is not None
    campaigns.record(contact, Attempt("phone", "completed", {"satisfaction": "1"}, "c1"),
                     Progress("done", "completed", final=True), store.stamp(), "2025-01-06")
    shown = desk(app, SUPERVISOR).get("/api/campaigns").json()
    assert [c["campaign"] for c in shown] == ["summer", "spring"]  # the newest first
    summer = shown[0]
    assert (summer["contacts"], summer["attempted"], summer["pending"], summer["completion_rate"]) == (2, 1, 1, 1.0)
    assert summer["satisfaction"] == {"1": 1} and summer["dissatisfaction_rate"] == 1.0
    assert summer["messages"] == {"sms_sent": 0, "sms_not_sent": 0}
    assert desk(app, "王芳").get("/api/campaigns").json() == {"detail": "this is for supervisors only"}


def test_end_then_wrap_up_with_a_disposition(app: FastAPI, store: CallStore, clock: PinnedClock) -> None:
    ticket = arrive(store, clock)
    wang = desk(app, "王芳")
    assert wang.post("/api/calls/next").json()["ticket"] == ticket
    early = wang.post(f"/api/calls/{ticket}/wrap-up", json={"disposition": "resolved"})
    assert early.status_code == 409 and early.json() == {"detail": f"ticket {ticket} is not waiting for its wrap-up"}
    assert wang.put("/api/me/state", json={"state": "away"}).status_code == 409  # on a call

    clock.advance(minutes=4)
    ended = wang.post(f"/api/calls/{ticket}/end").json()
    assert (ended["status"], ended["disposition"]) == ("done", None)
    assert wang.get("/api/me").json()["agent"]["state"] == "wrap_up"
    assert wang.post("/api/calls/next").status_code == 409
    assert wang.post(f"/api/calls/{ticket}/end").status_code == 409
    assert wang.get("/api/dispositions").json() == ["resolved", "follow_up", "complaint_filed", "transferred",
                                                    "no_answer"]
    unknown = wang.post(f"/api/calls/{ticket}/wrap-up", json={"disposition": "lunch"})
    assert unknown.status_code == 422 and unknown.json()["detail"].startswith("disposition must be one of resolved")

    done = wang.post(f"/api/calls/{ticket}/wrap-up",
                     json={"disposition": "follow_up", "note": "客户报的卡号 6222021001121234，已解锁"}).json()
    assert (done["status"], done["disposition"]) == ("done", "follow_up")
    assert store.db.value("SELECT wrap_note FROM handoffs WHERE id = ?", (ticket,)) == "客户报的卡号 ************1234，已解锁"
    assert wang.get("/api/calls/current").json() is None
    assert wang.get("/api/me").json()["agent"]["state"] == "available"

    assert wang.put("/api/me/state", json={"state": "away"}).json()["state"] == "away"
    assert wang.post("/api/calls/next").json() == {"detail": "agent 王芳 is away, not available"}
    assert wang.put("/api/me/state", json={"state": "on_call"}).status_code == 422
    assert wang.put("/api/me/state", json={"state": "available"}).json()["state"] == "available"
    assert wang.post("/api/calls/next").json() is None  # nothing waiting


def test_calls_ending_within_one_second_are_each_wrapped_up_on_their_own(
        app: FastAPI, store: CallStore, clock: PinnedClock) -> None:
    older = hand_off(store, reason="caller_request", skill="general", priority=0)
    urgent = hand_off(store)  # a higher number, taken first; the clock stands still throughout
    wang = desk(app, "王芳")
    for ticket, disposition in ((urgent, "resolved"), (older, "follow_up")):
        assert wang.post("/api/calls/next").json()["ticket"] == ticket
        wang.post(f"/api/calls/{ticket}/end")
        assert wang.get("/api/calls/current").json()["ticket"] == ticket
        assert wang.post(f"/api/calls/{ticket}/wrap-up", json={"disposition": disposition}).status_code == 200
    assert store.db.rows("SELECT id, disposition FROM handoffs ORDER BY id") == [
        {"id": older, "disposition": "follow_up"}, {"id": urgent, "disposition": "resolved"}]


def test_callbacks_are_listed_with_the_number_masked(app: FastAPI, store: CallStore) -> None:
    book_callback(store, "2025-01-06T10:30:00+08:00")
    (booked,) = desk(app, "李娜").get("/api/callbacks").json()
    assert booked["callback"] == {"phone": "*******5678", "due_at": "2025-01-06T10:30:00+08:00",
                                  "confirmation": "unconfirmed"}
    assert booked["caller"] == "*******8000"


@pytest.mark.parametrize(("context", "titles", "shown"), [
    ({"function": "stock_buy", "intent": "human_agent", "slots": {"stock": "600519", "quantity": 200,
                                                                  "price": "1500.50"}},
     ("买入股票", "人工服务"), {"stock": "贵州茅台", "quantity": "200", "price": "1500.50"}),
    ({"function": "forex_trade", "intent": "forex_trade", "slots": {"side": "sell", "currency": "USD",
                                                                    "amount": "5000.00"}},
     ("外汇买卖", "外汇买卖"), {"side": "卖出", "currency": "美元", "amount": "5000.00"}),
    ({"function": "callback_request", "intent": "callback_request",
      "slots": {"phone_number": "*******8000", "when": "2025-01-06T15:30:00"}},
     ("预约回电", "预约回电"), {"phone_number": "尾号8000", "when": "1月6日15点30分"}),
    ({"function": "change_password", "intent": "nlu_fallback", "slots": {"old_pin": "****"}},
     ("修改密码", None), {"old_pin": "****"}),
])
def test_a_calls_context_reads_as_the_dialog_says_it_beside_the_raw_ids(
        app: FastAPI, store: CallStore, context: dict, titles: tuple, shown: dict) -> None:
    ticket = hand_off(store, **context)
    supervisor = desk(app, SUPERVISOR)
    for call in (supervisor.get(f"/api/calls/{ticket}").json(), supervisor.get("/api/queue").json()["waiting"][0]):
        assert (call["function_title"], call["intent_title"]) == titles
        assert call["slots_shown"] == shown  # amounts as they are; the masked phone number stays masked
        assert (call["function"], call["intent"], call["slots"]) == (
            context["function"], context["intent"], context["slots"])  # for scripts


# The supervisor's figures.

def test_supervisor_figures_on_a_hand_built_morning(app: FastAPI, store: CallStore, clock: PinnedClock) -> None:
    queue, wang = app.state.services.queue, desk(app, "王芳")
    clock.set(datetime(2025, 1, 6, 9, 0))
    answered_fast = hand_off(store)
    clock.advance(seconds=15)
    assert wang.post("/api/calls/next").json()["ticket"] == answered_fast  # 15 s: within the 20 s
    clock.advance(minutes=5)
    wang.post(f"/api/calls/{answered_fast}/end")
    wang.post(f"/api/calls/{answered_fast}/wrap-up", json={"disposition": "resolved"})
    abandoned = hand_off(store)
    clock.advance(seconds=30)
    assert queue.abandon(abandoned)
    answered_late = hand_off(store)
    clock.advance(seconds=60)
    assert wang.post("/api/calls/next").json()["ticket"] == answered_late  # 60 s: too late
    store.close_call(store.open_call(None))  # a call the assistant finished alone

    figures = desk(app, SUPERVISOR).get("/api/stats").json()
    assert {key: figures[key] for key in ("arrivals", "answered", "answered_in_target", "abandoned", "service_level",
                                          "average_answer_s", "abandonment_rate", "average_handle_s", "calls",
                                          "contained", "containment", "dispositions")} == {
        "arrivals": 3, "answered": 2, "answered_in_target": 1, "abandoned": 1, "service_level": 1 / 3,
        "average_answer_s": 37.5, "abandonment_rate": 1 / 3, "average_handle_s": 300.0, "calls": 4,
        "contained": 1, "containment": 1 / 4, "dispositions": {"resolved": 1}}
    assert len(figures["hours"]) == 10 and figures["hours"][9] == {
        "start": "2025-01-06T09:00:00+08:00", "arrivals": 3, "answered": 2, "abandoned": 1, "service_level": 1 / 3}


def test_supervisor_windows(app: FastAPI) -> None:
    supervisor = desk(app, SUPERVISOR)
    sunday = supervisor.get("/api/stats", params={"since": "2025-01-05T00:00:00", "until": "2025-01-06T00:00:00"})
    assert sunday.json()["since"] == "2025-01-05T00:00:00+08:00" and len(sunday.json()["hours"]) == 24
    assert supervisor.get("/api/stats", params={"since": "2025-01-05T00:00:00"}).json() == {
        "detail": "give both since and until, or neither (today)"}
    backwards = supervisor.get("/api/stats", params={"since": "2025-01-06T00:00:00", "until": "2025-01-05T00:00:00"})
    assert backwards.status_code == 422 and "must end after it starts" in backwards.json()["detail"]


# The live queue.

def test_the_websocket_pushes_a_ticket_added_by_another_connection(
        app: FastAPI, store: CallStore, clock: PinnedClock) -> None:
    with desk(app, "王芳").websocket_connect("/ws/queue") as socket:
        first = socket.receive_json()
        assert (first["waiting_count"], [a["name"] for a in first["agents"]]) == (0, ["李娜", "王芳"])
        ticket = arrive(store, clock)  # the dialog, on its own connection
        pushed = socket.receive_json()
        assert pushed["waiting_count"] == 1 and pushed["waiting"][0]["ticket"] == ticket
        assert pushed["waiting"][0]["transcript"] == LOCKED_CALL["transcript"]
        app.state.services.queue.set_agent("李娜", state="away")
        assert {a["name"]: a["state"] for a in socket.receive_json()["agents"]} == {"李娜": "away", "王芳": "available"}


def test_the_websocket_needs_a_session_and_the_desks_own_origin(app: FastAPI) -> None:
    for client, headers in ((TestClient(app), {}), (desk(app, "王芳"), {"origin": "http://elsewhere.example"})):
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect("/ws/queue", headers=headers):
                pass
        assert refused.value.code == 1008


@pytest.mark.parametrize("ending", ["expiry", "logout"])
def test_the_websocket_closes_at_the_next_push_once_the_session_has_ended(
        app: FastAPI, store: CallStore, clock: PinnedClock, ending: str) -> None:
    wang = desk(app, "王芳")
    with wang.websocket_connect("/ws/queue") as socket:
        socket.receive_json()
        if ending == "expiry":
            clock.advance(minutes=480)
        else:
            assert wang.post("/api/logout").status_code == 204
        arrive(store, clock)  # a change: pushed to live sessions only
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert (closed.value.code, closed.value.reason) == (1008, NOT_LOGGED_IN)


# The callback scheduler.

def test_a_due_callback_goes_to_an_available_agent_with_its_skill_at_the_next_tick(
        app: FastAPI, store: CallStore, clock: PinnedClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="assistant.runtime")
    ticket = book_callback(store, "2025-01-06T10:30:00+08:00")  # cards: 王芳 has the skill, 李娜 not
    scheduler = app.state.services.background[0]
    wang = desk(app, "王芳")
    with wang.websocket_connect("/ws/queue") as socket:
        assert [call["ticket"] for call in socket.receive_json()["callbacks"]] == [ticket]
        assert scheduler.tick() == []  # 10:00: not due yet
        clock.set(datetime(2025, 1, 6, 10, 30))
        (handed,) = scheduler.tick()
        assert (handed.ticket, handed.agent, handed.status) == (ticket, "王芳", "taken")
        pushed = socket.receive_json()
        assert pushed["callbacks"] == [] and {a["name"]: a["state"] for a in pushed["agents"]} == {
            "王芳": "on_call", "李娜": "available"}
    current = wang.get("/api/calls/current").json()  # what the desk opens when the push shows it on a call
    assert (current["ticket"], current["status"], current["function_title"]) == (ticket, "taken", "银行卡挂失")
    assert current["callback"] == {"phone": "13912345678", "due_at": "2025-01-06T10:30:00+08:00",
                                   "confirmation": "unconfirmed"}  # whole: the agent dials it
    assert scheduler.tick() == []  # handed out once
    logged = [r.getMessage() for r in caplog.records if r.name == "assistant.runtime.workers"]
    assert logged == [f"callback #{ticket} due 2025-01-06T10:30:00+08:00 handed to 王芳 (call 尾号5678)"]


def test_the_server_hands_callbacks_out_by_itself_and_stops_on_shutdown(app: FastAPI, store: CallStore) -> None:
    due = book_callback(store, "2025-01-06T09:55:00+08:00")
    with TestClient(app) as server:  # starts the app's lifespan: the scheduler, every 50 ms here
        assert server.post("/api/login", json={"name": "王芳", "password": PASSWORD}).status_code == 200
        deadline = time.monotonic() + 10
        while (current := server.get("/api/calls/current").json()) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert current is not None and current["ticket"] == due  # nobody pressed "take next"
    later = book_callback(store, "2025-01-06T09:58:00+08:00", skill="general")  # 李娜 is free for it
    time.sleep(0.3)  # six scheduler periods
    assert store.db.value("SELECT status FROM handoffs WHERE id = ?", (later,)) == "callback"  # stopped


@pytest.mark.both_databases
def test_schedulers_ticking_at_the_same_moment_hand_each_callback_out_once(
        config: Config, call_database: str, clock: PinnedClock) -> None:
    """Three servers' schedulers, each on a connection of its own, tick at once over eight due callbacks
    and eight available agents: no callback goes out twice, no agent gets two."""
    schedulers = [CallbackScheduler(Desk(config, call_database, clock), every_s=1) for _ in range(3)]
    agents = [f"agent{number}" for number in range(8)]
    for agent in agents:
        schedulers[0].desk.queue.set_agent(agent, ["general"])
    store = CallStore(call_database, clock)
    tickets = {book_callback(store, "2025-01-06T09:59:00+08:00", reason="caller_request", skill="general")
               for _ in agents}
    for scheduler in schedulers:
        assert scheduler.desk.callbacks  # built before the race: it opens the bank's back end, which takes a while
    start = threading.Barrier(len(schedulers))

    def tick(scheduler: CallbackScheduler) -> list[int]:
        start.wait()
        try:
            return [entry.ticket for entry in scheduler.tick()]
        except AssistantError:  # another server took the agent this one picked: the next tick goes on
            return []

    with ThreadPoolExecutor(len(schedulers)) as pool:
        handed = [ticket for got in pool.map(tick, schedulers) for ticket in got]
    handed += [entry.ticket for entry in schedulers[0].tick()]  # what a clash left for the next tick
    assert sorted(handed) == sorted(tickets)  # each once
    rows = store.db.rows("SELECT agent, status FROM handoffs")
    assert sorted(row["agent"] for row in rows) == agents and {row["status"] for row in rows} == {"taken"}
    for scheduler in [*schedulers, store]:
        (scheduler.desk.queue if isinstance(scheduler, CallbackScheduler) else scheduler).db.close()


def test_a_failed_tick_is_logged_and_the_next_one_comes(
        app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    scheduler = CallbackScheduler(app.state.services.background[0].desk, every_s=0.01)
    failures = iter([AssistantError("calls.sqlite: database is locked"), RuntimeError("a bug")])
    ticks = []

    def tick() -> list:
        ticks.append(time.monotonic())
        failure = next(failures, None)
        if failure:
            raise failure
        return []

    async def three_ticks() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(scheduler.run(stop))
        while len(ticks) < 3:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(running, timeout=1)  # returns once stopped

    monkeypatch.setattr(scheduler, "tick", tick)
    asyncio.run(three_ticks())
    problems = [(r.levelname, r.getMessage(), bool(r.exc_info)) for r in caplog.records]
    assert problems == [
        ("WARNING", "handing out due callbacks: calls.sqlite: database is locked; trying again in 0.01 s", False),
        ("ERROR", "handing out due callbacks failed; trying again in 0.01 s", True)]


# Pages and the schema.

def test_pages_follow_the_session_and_the_role(app: FastAPI) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    assert anonymous.get("/agent").headers["location"] == "/login"
    assert anonymous.get("/").headers["location"] == "/login"
    login = anonymous.get("/login")
    assert login.status_code == 200 and "script-src" not in login.headers["content-security-policy"]
    assert "default-src 'self'" in login.headers["content-security-policy"]
    supervisor = desk(app, SUPERVISOR)
    supervisor.follow_redirects = False
    assert supervisor.get("/agent").headers["location"] == "/supervisor"
    assert supervisor.get("/supervisor").status_code == 200
    assert TestClient(app).get("/static/chart.js").status_code == 200


def test_the_openapi_schema_lists_every_endpoint(app: FastAPI) -> None:
    client = TestClient(app)
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "Agent desktop (坐席工作台)"
    assert {path: sorted(ops) for path, ops in schema["paths"].items()} == {
        "/api/login": ["post"], "/api/logout": ["post"], "/api/me": ["get"], "/api/me/state": ["put"],
        "/api/queue": ["get"], "/api/callbacks": ["get"], "/api/dispositions": ["get"],
        "/api/calls/next": ["post"], "/api/calls/current": ["get"], "/api/calls/{ticket}": ["get"],
        "/api/calls/{ticket}/end": ["post"], "/api/calls/{ticket}/wrap-up": ["post"], "/api/stats": ["get"],
        "/api/calls/{ticket}/recording": ["get"], "/api/campaigns": ["get"],
        "/api/me/preview": ["get", "post"]}
    assert {tag["name"] for tag in schema["tags"]} == {"session", "queue", "calls", "agent", "supervisor"}
    assert {"Call", "WaitingCall", "Snapshot", "StatsOut", "CampaignOut", "Me", "Problem"} <= set(schema["components"]["schemas"])
    take = schema["paths"]["/api/calls/{ticket}/end"]["post"]
    assert {"200", "401", "403", "404", "409"} <= set(take["responses"]) and take["description"]
    assert "429" in schema["paths"]["/api/login"]["post"]["responses"]
    assert schema["openapi"] == "3.0.3"  # what the Swagger UI served here renders


def test_the_api_docs_load_swagger_ui_from_the_desk_itself(app: FastAPI) -> None:
    client = TestClient(app)
    page = client.get("/docs")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert sorted(assets) == ["/swagger-ui/favicon-32x32.png", "/swagger-ui/swagger-ui-bundle.js",
                              "/swagger-ui/swagger-ui.css"]
    assert not re.search(r"https?:|//\w", page.text)  # nothing from elsewhere, not even the validator badge
    assert "url: '/openapi.json'" in page.text and '"validatorUrl": null' in page.text
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/redoc").status_code == 404  # ReDoc would come from a CDN
