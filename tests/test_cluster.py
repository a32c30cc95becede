"""Several telephony workers on one database: each call's worker and line in the calls table, the
workers' heartbeats, and the sweep that calls back the callers a dead worker left waiting for a person
(assistant/runtime/workers.py WorkerWatch), on SQLite and on PostgreSQL. Kamailio in front of real
workers: test_kamailio.py.

Real conversations (tests/conversation.py): 张三 calls from 13800138000 and presses 0 for a person.
"""
from __future__ import annotations

import pytest
from conversation import CALLER, Call, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)

from assistant.core.errors import AssistantError
from assistant.queue.callbacks import CUT_OFF
from assistant.runtime.workers import WatchSettings, WorkerWatch, watch_settings
from assistant.storage.calls import CallStore
from assistant.storage.database import open_database
from assistant.storage.workers import WORKER_VARIABLE, Heartbeats, beat_stamp

pytestmark = pytest.mark.both_databases  # tests/databases.py

LONG_AGO = "2000-01-01T00:00:00.000+00:00"  # a heartbeat this old: its worker died


def waiting_on(world: World, worker: str, caller: str | None = CALLER) -> tuple[Call, int]:
    """A caller of `worker` waiting for a person (0 in the key menu); their call and ticket."""
    world.store.worker = worker
    call = world.call(caller=caller)
    turn = call.keys("0")
    assert turn.escalation is not None and world.ticket(turn.escalation)["status"] == "waiting"
    return call, turn.escalation


def watch(world: World, worker: str) -> WorkerWatch:
    return WorkerWatch(world.store, world.dialogs().callbacks, WatchSettings(worker, beat_s=1, dead_after_s=2))


def died(world: World, worker: str) -> None:
    world.store.db.execute("UPDATE workers SET beat_at = ? WHERE id = ?", (LONG_AGO, worker))


def silent(beats: Heartbeats, since: str) -> list[str]:
    """The workers not beaten since `since`."""
    return [row["id"] for row in beats.all() if row["beat_at"] < since]


def test_each_call_is_recorded_with_its_worker_and_line(world: World) -> None:
    world.store.worker = "worker-a"
    call = world.call()
    world.store.note_line(call.dialog.record.call_id, "1-2345@127.0.0.1")
    (row,) = world.store_rows("SELECT worker, line FROM calls WHERE id = ?", call.dialog.record.call_id)
    assert row == {"worker": "worker-a", "line": "1-2345@127.0.0.1"}


def test_a_calls_table_of_an_older_release_gets_the_columns(world: World, call_database: str) -> None:
    """The store adds what a database made before these columns lacks (here: a fresh one, made the old way)."""
    world.store.db.close()
    db = open_database(call_database)
    db.execute("DROP TABLE IF EXISTS callback_dials")
    for table in ("callbacks", "handoffs", "turns", "calls"):
        db.execute(f"DROP TABLE {table}")
    db.execute("CREATE TABLE calls (id TEXT PRIMARY KEY, caller TEXT, started_at TEXT NOT NULL, ended_at TEXT)")
    db.execute("INSERT INTO calls (id, caller, started_at) VALUES ('old', NULL, '2025-01-01T00:00:00+08:00')")
    store = CallStore(db, world.clock)
    world.store = store
    assert store.db.rows("SELECT id, worker, line FROM calls") == [{"id": "old", "worker": None, "line": None}]
    assert store.db.value("SELECT worker FROM calls WHERE id = ?", (store.open_call(None),)) == store.worker


def test_the_worker_id_is_the_variable_else_configured_else_host_and_pid(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKER_VARIABLE, raising=False)
    assert watch_settings({"worker": "worker-7", "beat_s": 2, "dead_after_s": 10}) == WatchSettings("worker-7", 2, 10)
    host_pid = watch_settings({}).worker
    assert host_pid.rsplit(":", 1)[1].isdigit() and host_pid.count(":") >= 1
    monkeypatch.setenv(WORKER_VARIABLE, "from-env")
    assert watch_settings({"worker": "worker-7"}).worker == "from-env"
    for bad in ({"beat_s": 10, "dead_after_s": 15}, {"beat_s": 0}, {"beat_s": "often"}, {"heartbeat": 3}):
        with pytest.raises(AssistantError, match="config.yml: cluster: "):
            watch_settings(bad)


def test_a_heartbeat_keeps_its_start_and_moves_its_beat(world: World) -> None:
    beats = Heartbeats(world.store.db)
    before = beat_stamp()
    beats.beat("worker-a", started=True)
    (first,) = beats.all()
    beats.beat("worker-a")
    beats.beat("worker-b", started=True)
    second = {row["id"]: row for row in beats.all()}
    assert first["started_at"] == first["beat_at"] >= before
    assert second["worker-a"]["started_at"] == first["started_at"]
    assert second["worker-a"]["beat_at"] >= first["beat_at"]
    assert silent(beats, before) == [] and silent(beats, beats.silent_since(-60)) == ["worker-a", "worker-b"]
    died(world, "worker-a")
    assert silent(beats, beats.silent_since(15)) == ["worker-a"]
    beats.beat("worker-a", started=True)  # started again under the same id
    assert silent(beats, beats.silent_since(15)) == []


def test_the_callers_a_dead_worker_left_waiting_are_called_back_or_shown_cut_off(world: World) -> None:
    alive, dead = watch(world, "worker-b"), watch(world, "worker-a")
    dead.tick()
    alive.tick()
    call_a, with_number = waiting_on(world, "worker-a")
    _, without_number = waiting_on(world, "worker-a", caller=None)
    _, on_alive = waiting_on(world, "worker-b")
    assert alive.tick() == []  # worker-a still beats
    died(world, "worker-a")

    swept = alive.tick()
    assert [entry.ticket for entry in swept] == [with_number, without_number]
    booked, cut_off = swept
    assert booked.status == "callback" and booked.callback is not None
    assert (booked.callback["phone"], booked.callback["due_at"]) == (CALLER, world.store.stamp())  # due now
    assert world.rows("SELECT phone, text FROM outbox") and world.rows("SELECT phone FROM outbox")[0]["phone"] == CALLER
    assert (cut_off.status, cut_off.disposition) == ("abandoned", CUT_OFF)
    assert "number is unknown" in world.ticket(without_number)["wrap_note"]
    assert world.ticket(on_alive)["status"] == "waiting"
    ended = world.store_rows("SELECT worker, ended_at FROM calls WHERE ended_at IS NOT NULL")
    assert {row["worker"] for row in ended} == {"worker-a"}
    assert world.store.db.value("SELECT ended_at FROM calls WHERE id = ?", (call_a.dialog.record.call_id,))
    assert alive.tick() == [] and watch(world, "worker-c").tick() == []  # swept once, by whichever looks first


def test_an_answered_callback_waiting_again_is_not_swept_by_its_first_calls_worker(world: World) -> None:
    alive = watch(world, "worker-b")
    alive.tick()
    _, ticket = waiting_on(world, "worker-a")
    world.store.workers.beat("worker-a")
    died(world, "worker-a")
    assert [entry.ticket for entry in alive.tick()] == [ticket]
    world.store.tickets.start_dial(ticket, tries=3)
    assert world.store.tickets.answered(ticket)  # another call carries it now
    assert alive.tick() == [] and world.ticket(ticket)["status"] == "waiting"


def test_a_worker_restarted_under_its_id_sweeps_what_it_left_before(world: World) -> None:
    before = watch(world, "worker-a")
    before.tick()
    _, ticket = waiting_on(world, "worker-a")
    again = watch(world, "worker-a")  # the process died and started again at once: never silent
    assert [entry.ticket for entry in again.tick()] == [ticket]
    _, later = waiting_on(world, "worker-a")
    assert again.tick() == [] and world.ticket(later)["status"] == "waiting"
