"""The predicted wait: Erlang C against textbook values and against a discrete-event simulation of
the same queue, and the figures it is computed from, read from the live queue database."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from queue_simulation import mean_wait

from assistant.queue.erlang import expected_wait
from assistant.queue.forecast import Forecast
from assistant.queue.routing import AVAILABLE, AWAY, CallQueue
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from domain.clock import PinnedClock

pytestmark = pytest.mark.both_databases  # the queue on SQLite and on PostgreSQL (tests/databases.py)

NOW = datetime(2025, 1, 6, 10, 0)


# The worked example of call-centre planning texts: 100 calls in 30 minutes, 180 s handle time, so
# 10 erlangs. Erlang C: P(wait) 0.6821 with 11 agents, 0.4494 with 12, 0.2853 with 13, where the
# average speed of answer is 17.1 s.
@pytest.mark.parametrize("agents, p_wait", [(11, 0.6821), (12, 0.4494), (13, 0.2853)])
def test_erlang_c_gives_the_textbook_values(agents: int, p_wait: float) -> None:
    wait = expected_wait(100 / 1800, 180, agents)
    assert wait * (agents - 10) / 180 == pytest.approx(p_wait, abs=1e-4)  # ASA = P(wait) × AHT / (N − A)


def test_the_textbook_average_speed_of_answer() -> None:
    assert expected_wait(100 / 1800, 180, 13) == pytest.approx(17.1, abs=0.05)
    assert expected_wait(1 / 600, 300, 1) == pytest.approx(300 * 0.5 / 0.5)  # M/M/1: ρ/(1−ρ) handle times


def test_no_prediction_without_agents_or_when_they_cannot_keep_up() -> None:
    assert expected_wait(1 / 60, 300, 0) is None
    assert expected_wait(1 / 60, 300, 5) is None  # 5 erlangs on 5 agents: the queue grows for ever
    assert expected_wait(0, 300, 2) == 0.0


# (arrivals per hour, handle time s, agents): occupancy 0.67, 0.75 and 0.83.
CASES = [(30, 240, 3), (45, 300, 5), (100, 180, 6)]


def compare(per_hour: int, handle_s: int, agents: int, callers: int) -> float:
    """Erlang C's wait against the mean of two simulation runs: the relative error."""
    predicted = expected_wait(per_hour / 3600, handle_s, agents)
    runs = [mean_wait(per_hour / 3600, handle_s, agents, callers=callers, seed=seed) for seed in range(2)]
    simulated = sum(runs) / len(runs)
    error = abs(predicted - simulated) / simulated
    print(f"\n{per_hour}/h, AHT {handle_s} s, {agents} agents, {len(runs)} × {callers} callers: "
          f"Erlang C {predicted:.1f} s, simulated {simulated:.1f} s ({', '.join(f'{s:.1f}' for s in runs)}), "
          f"error {error:.1%}")
    return error


@pytest.mark.parametrize("per_hour, handle_s, agents", CASES)
def test_erlang_c_agrees_with_a_simulation_of_the_same_queue(per_hour: int, handle_s: int, agents: int) -> None:
    assert compare(per_hour, handle_s, agents, callers=100_000) < 0.08  # ~3 % is the noise of a run this long


@pytest.mark.slow
@pytest.mark.parametrize("per_hour, handle_s, agents", CASES)
def test_erlang_c_agrees_with_a_long_simulation_within_two_percent(per_hour: int, handle_s: int, agents: int) -> None:
    assert compare(per_hour, handle_s, agents, callers=1_000_000) < 0.02


@pytest.fixture()
def desk(call_database: str) -> tuple[CallStore, CallQueue, Forecast]:
    store = CallStore(call_database, PinnedClock(NOW - timedelta(hours=2)))
    queue = CallQueue(store, QueueSettings(handle_time_s=300, handle_samples=3))
    return store, queue, Forecast(queue)


def add_ticket(store: CallStore, skill: str, status: str = "waiting") -> int:
    return store.tickets.add(store.open_call(None), reason="caller_request", caller=None, customer_id=None,
                             verification="unverified", function=None, intent=None, slots={}, transcript=[],
                             skill=skill, status=status)


def test_the_live_figures_come_from_the_database(desk: tuple[CallStore, CallQueue, Forecast]) -> None:
    store, queue, forecast = desk
    clock = store.clock
    assert forecast.staffing("cards").handle_s == 300  # no finished call yet: the default
    queue.set_agent("a", ["cards"])
    for handle_min in (2, 10, 4, 6):  # four finished calls; the latest three count
        add_ticket(store, "cards")
        queue.take_next("a")
        clock.advance(minutes=handle_min)
        queue.finish("a")
        queue.set_agent("a", state=AVAILABLE)
    add_ticket(store, "cards", status="abandoned")
    clock.set(NOW)  # the five tickets above are more than an hour old now
    for minutes in (50, 30, 10):
        clock.set(NOW - timedelta(minutes=minutes))
        add_ticket(store, "cards")
    add_ticket(store, "general")
    clock.set(NOW)
    queue.set_agent("b", ["cards", "general"])
    queue.set_agent("c", ["cards"], state=AWAY)
    queue.take_next("b")
    staffing = forecast.staffing("cards")
    assert staffing.arrivals_per_s == pytest.approx(3 / 3600)
    assert staffing.handle_s == pytest.approx((10 + 4 + 6) * 60 / 3)
    assert (staffing.staffed, staffing.busy, staffing.waiting) == (2, 1, 2)  # c is away; b is on a call


def test_a_callers_predicted_wait_matches_a_simulation_of_their_queue(desk: tuple[CallStore, CallQueue, Forecast]) -> None:
    """30 arrivals in the last hour, finished calls of 240 s, 3 staffed agents: the wait the caller
    hears is Erlang C's for that queue, and a simulation of that queue waits as long."""
    store, queue, forecast = desk
    clock = store.clock
    queue.set_agent("x", ["securities"])  # the clock is two hours back
    for _ in range(3):
        add_ticket(store, "securities")
        queue.take_next("x")
        clock.advance(seconds=240)
        queue.finish("x")
        queue.set_agent("x", state=AVAILABLE)
    clock.set(NOW - timedelta(minutes=59, seconds=30))
    tickets = []
    for _ in range(30):
        tickets.append(add_ticket(store, "securities"))
        clock.advance(seconds=119)
    for name in ("y", "z"):
        queue.set_agent(name, ["securities", "general"])
    wait = forecast.wait(tickets[-1])
    assert wait.ahead == 29
    assert wait.seconds == pytest.approx(expected_wait(30 / 3600, 240, 3))
    simulated = mean_wait(30 / 3600, 240, 3, callers=200_000, seed=7)
    error = abs(wait.seconds - simulated) / simulated
    print(f"\npredicted {wait.seconds:.1f} s, simulated {simulated:.1f} s, error {error:.1%}")
    assert error < 0.06


def test_agents_free_up_one_handle_time_over_the_staff_apart(desk: tuple[CallStore, CallQueue, Forecast]) -> None:
    store, queue, forecast = desk
    clock = store.clock
    assert forecast.staffing("cards").free_at(clock()) is None  # nobody staffed
    queue.set_agent("a", ["cards"])
    queue.set_agent("b", ["cards"])
    assert forecast.staffing("cards").free_at(clock()) == clock()  # both free
    add_ticket(store, "cards")
    queue.take_next("a")
    assert forecast.staffing("cards").free_at(clock()) == clock()  # b is free
    for _ in range(3):
        add_ticket(store, "cards")
    # b takes the first waiting ticket; after the other two, one more agent must come free: 3 of
    # them, one every 300 s / 2 agents.
    assert forecast.staffing("cards").free_at(clock()) == clock() + timedelta(seconds=3 * 150)
    assert forecast.staffing("cards").free_at(clock(), leaving=1) == clock() + timedelta(seconds=2 * 150)
