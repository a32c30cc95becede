"""Two `assistant serve` processes on one PostgreSQL database: six agents log in over HTTP and take,
end and wrap up calls on both servers at once until the queue is empty, and both servers' callback
schedulers hand due callbacks out at once; every ticket goes to exactly one agent. A schema of its
own per test (tests/databases.py), dropped afterwards."""
from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from databases import postgres_schema
from desk_server import PASSWORD, add_users, book_callback, hand_off, serving

from assistant.desktop.auth import COOKIE
from assistant.queue.routing import CallQueue
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from domain.clock import real_clock

pytestmark = pytest.mark.slow

TICKETS = 200
AGENTS = [f"agent{number}" for number in range(1, 7)]


@pytest.fixture()
def database() -> Iterator[str]:
    yield from postgres_schema()


def work(agent: str, servers: list[str]) -> list[tuple[int, int]]:
    """One agent's shift: log in on one server (the session is good on both: it is in the database),
    then take, end and wrap up calls, each step on a server picked at random, until none is left.
    The (ticket, server) pairs of the calls taken."""
    rng = random.Random(agent)
    with httpx.Client(base_url=servers[0], timeout=30) as first:
        token = first.post("/api/login", json={"name": agent, "password": PASSWORD}).cookies[COOKIE]
    clients = [httpx.Client(base_url=url, cookies={COOKIE: token}, timeout=30) for url in servers]
    taken = []
    try:
        while True:
            server = rng.randrange(len(clients))
            response = clients[server].post("/api/calls/next")
            assert response.status_code == 200, response.text
            if response.json() is None:
                return taken
            ticket = response.json()["ticket"]
            taken.append((ticket, server))
            assert rng.choice(clients).post(f"/api/calls/{ticket}/end").status_code == 200
            wrapped = rng.choice(clients).post(f"/api/calls/{ticket}/wrap-up", json={"disposition": "resolved"})
            assert wrapped.status_code == 200, wrapped.text
    finally:
        for client in clients:
            client.close()


def test_two_servers_hand_every_ticket_to_exactly_one_agent(database: str, tmp_path: Path) -> None:
    store = CallStore(database, real_clock)
    tickets = {hand_off(store, reason="caller_request", skill="general", priority=number % 3)
               for number in range(TICKETS)}
    add_users(database, {agent: ["general"] for agent in AGENTS})
    with serving(database, tmp_path, count=2) as servers, ThreadPoolExecutor(len(AGENTS)) as pool:
        shifts = dict(zip(AGENTS, pool.map(lambda agent: work(agent, servers), AGENTS)))

    taken = [ticket for shift in shifts.values() for ticket, _ in shift]
    assert len(taken) == len(set(taken)) == TICKETS and set(taken) == tickets  # each exactly once
    rows = store.db.rows("SELECT id, agent, status, disposition FROM handoffs")
    assert {(row["id"], row["agent"], row["status"], row["disposition"]) for row in rows} == {
        (ticket, agent, "done", "resolved") for agent, shift in shifts.items() for ticket, _ in shift}
    by_server = [sum(server == side for shift in shifts.values() for _, server in shift) for side in (0, 1)]
    assert min(by_server) > TICKETS / 10, by_server  # both servers really handed calls out
    assert all(shift for shift in shifts.values()), {agent: len(shift) for agent, shift in shifts.items()}
    store.db.close()
    print(f"\ntwo servers: {by_server[0]} and {by_server[1]} takes; per agent "
          f"{sorted(len(shift) for shift in shifts.values())}; none twice")


def test_two_servers_schedulers_hand_each_due_callback_to_exactly_one_agent(database: str, tmp_path: Path) -> None:
    """As many due callbacks as agents, nobody pressing "take next": each agent gets one, each callback
    goes to one agent, and the servers' logs name each once, with the number by its last 4 digits."""
    store = CallStore(database, real_clock)
    CallQueue(store, QueueSettings())  # the queue's tables, before the servers make them
    due = (real_clock() - timedelta(minutes=1)).isoformat(timespec="seconds")
    phones = [f"1391234{number:04d}" for number in range(len(AGENTS))]
    tickets = {book_callback(store, due, phone, reason="caller_request", skill="general", priority=0)
               for phone in phones}
    add_users(database, {agent: ["general"] for agent in AGENTS})
    with serving(database, tmp_path, count=2):
        deadline = time.monotonic() + 60  # ticks every 10 s (desktop.dispatch_s); a clash waits for the next
        while store.db.value("SELECT COUNT(*) FROM handoffs WHERE status = 'callback'") and time.monotonic() < deadline:
            time.sleep(0.5)
    rows = store.db.rows("SELECT id, agent, status FROM handoffs")
    assert {row["id"] for row in rows} == tickets and {row["status"] for row in rows} == {"taken"}
    assert sorted(row["agent"] for row in rows) == sorted(AGENTS)  # one each
    logs = "".join(log.read_text() for log in sorted(tmp_path.glob("serve-*.log")))
    handed = re.findall(r"callback #(\d+) due \S+ handed to (\w+) \(call 尾号\d{4}\)", logs)
    assert sorted(handed) == sorted((str(row["id"]), row["agent"]) for row in rows)
    assert not any(phone in logs for phone in phones)
    store.db.close()
