"""Routing: skills-based, by priority then first come first served, one ticket to one agent only,
even with two processes taking from the same database; agent states; finished calls."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from assistant.core.errors import AssistantError
from assistant.queue.routing import AVAILABLE, AWAY, CallQueue
from assistant.queue.settings import QueueSettings, ReasonRule
from assistant.storage.calls import CallStore
from domain.clock import PinnedClock

pytestmark = pytest.mark.both_databases  # the queue on SQLite and on PostgreSQL (tests/databases.py)

TAKER = Path(__file__).with_name("queue_taker.py")
SETTINGS = QueueSettings({"locked": ReasonRule(2, "cards"), "backend_failed": ReasonRule(1)})


@pytest.fixture()
def clock() -> PinnedClock:
    return PinnedClock(datetime(2025, 1, 6, 10, 0))


@pytest.fixture()
def store(call_database: str, clock: PinnedClock) -> Iterator[CallStore]:
    store = CallStore(call_database, clock)
    yield store
    store.db.close()


@pytest.fixture()
def queue(store: CallStore) -> CallQueue:
    return CallQueue(store, SETTINGS)


def arrive(queue: CallQueue, store: CallStore, reason: str, skill: str, **context: object) -> int:
    """A ticket as the dialog opens it; the clock moves on a second."""
    skill, priority = queue.route(reason, skill)
    ticket = store.tickets.add(store.open_call("13800138000"), reason=reason, caller="13800138000",
                               customer_id=None, verification="unverified", function=None, intent=None, slots={}, transcript=[],
                               skill=skill, priority=priority, **context)
    store.clock.advance(seconds=1)
    return ticket


def test_reasons_set_priority_and_may_name_the_skill(queue: CallQueue) -> None:
    assert queue.route("locked", "securities") == ("cards", 2)
    assert queue.route("backend_failed", "complaints") == ("complaints", 1)
    assert queue.route("caller_request", "securities") == ("securities", 0)


def test_priority_first_then_oldest_first_within_the_agents_skills(queue: CallQueue, store: CallStore) -> None:
    general_1 = arrive(queue, store, "caller_request", "general")
    cards_1 = arrive(queue, store, "caller_request", "cards")
    general_2 = arrive(queue, store, "no_match", "general")
    failed = arrive(queue, store, "backend_failed", "general")
    locked = arrive(queue, store, "locked", "securities")  # to cards, priority 2
    securities = arrive(queue, store, "caller_request", "securities")
    assert [e.ticket for e in queue.waiting()] == [locked, failed, general_1, cards_1, general_2, securities]
    assert [e.ticket for e in queue.waiting("general")] == [failed, general_1, general_2]
    assert (queue.ahead(general_2), queue.ahead(failed), queue.ahead(cards_1)) == (2, 0, 1)

    queue.set_agent("cards_only", ["cards"])
    queue.set_agent("all_round", ["general", "cards"])
    queue.set_agent("broker", ["securities"])
    order = []
    for name in ("all_round", "cards_only", "all_round", "all_round", "broker", "all_round"):
        entry = queue.take_next(name)
        order.append(entry.ticket if entry else None)
        if entry:
            queue.finish(name)
            queue.set_agent(name, state=AVAILABLE)
    assert order == [locked, cards_1, failed, general_1, securities, general_2]
    assert queue.take_next("cards_only") is None and queue.waiting() == []


def test_only_an_available_agent_takes_a_call_and_finishing_wraps_up(queue: CallQueue, store: CallStore,
                                                                    clock: PinnedClock) -> None:
    ticket = arrive(queue, store, "caller_request", "general")
    queue.set_agent("王芳", ["general"], state=AWAY)
    with pytest.raises(AssistantError, match="王芳 is away, not available"):
        queue.take_next("王芳")
    queue.set_agent("王芳", state=AVAILABLE)
    entry = queue.take_next("王芳")
    assert (entry.ticket, entry.status, entry.agent) == (ticket, "taken", "王芳")
    assert queue.agent("王芳").state == "on_call"
    with pytest.raises(AssistantError, match="on_call, not available"):
        queue.take_next("王芳")
    with pytest.raises(AssistantError, match="on a call: finish it first"):
        queue.set_agent("王芳", state=AWAY)
    clock.advance(minutes=4)
    done = queue.finish("王芳")
    assert done.status == "done" and queue.agent("王芳").state == "wrap_up"
    assert store.db.row("SELECT taken_at, ended_at FROM handoffs WHERE id = ?", (ticket,)) == {
        "taken_at": "2025-01-06T10:00:01+08:00", "ended_at": "2025-01-06T10:04:01+08:00"}
    with pytest.raises(AssistantError, match="has no call to finish"):
        queue.finish("王芳")


def test_agents_need_skills_and_a_known_state(queue: CallQueue) -> None:
    with pytest.raises(AssistantError, match="give --skills to add one"):
        queue.set_agent("nobody", state=AVAILABLE)
    with pytest.raises(AssistantError, match="at least one skill"):
        queue.set_agent("nobody", [])
    with pytest.raises(AssistantError, match="one of available, on_call, wrap_up, away"):
        queue.set_agent("nobody", ["general"], state="lunch")
    with pytest.raises(AssistantError, match="no agent 'ghost'"):
        queue.take_next("ghost")
    assert queue.set_agent("王芳", ["general", "cards"]).to_json() == {
        "name": "王芳", "skills": ["general", "cards"], "state": "available", "since": "2025-01-06T10:00:00+08:00"}


def test_an_abandoned_ticket_leaves_the_queue_and_a_taken_one_is_not_abandoned(queue: CallQueue,
                                                                              store: CallStore) -> None:
    first = arrive(queue, store, "caller_request", "general")
    second = arrive(queue, store, "caller_request", "general")
    queue.set_agent("王芳", ["general"])
    queue.take_next("王芳")
    assert not queue.abandon(first)  # already with an agent
    assert queue.abandon(second) and queue.entry(second).status == "abandoned"
    assert queue.waiting() == []


def test_two_processes_never_take_the_same_ticket(tmp_path: Path, queue: CallQueue, store: CallStore,
                                                  call_database: str) -> None:
    tickets = {arrive(queue, store, "caller_request", "general") for _ in range(600)}
    for name in ("left", "right"):
        queue.set_agent(name, ["general"])
    start = tmp_path / "go"
    takers = [subprocess.Popen([sys.executable, str(TAKER), call_database, name, str(start)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for name in ("left", "right")]
    deadline = time.monotonic() + 60
    while not all(Path(f"{start}.{name}").exists() for name in ("left", "right")) and time.monotonic() < deadline:
        time.sleep(0.01)
    start.touch()
    results = [taker.communicate(timeout=120) for taker in takers]
    assert all(taker.returncode == 0 for taker in takers), [err for _, err in results]
    left, right = (json.loads(out) for out, _ in results)
    assert not set(left) & set(right)
    assert sorted(left + right) == sorted(tickets)  # each exactly once
    assert len(left) > 60 and len(right) > 60  # both really took part
    rows = {tuple(row.values()) for row in store.db.rows("SELECT id, agent, status FROM handoffs")}
    assert {(ticket, "left", "done") for ticket in left} | {(ticket, "right", "done") for ticket in right} == rows
    print(f"\ntwo processes: left took {len(left)}, right took {len(right)} of {len(tickets)}, none twice")
