"""Supervisor figures: the arithmetic over hand-made tickets, callbacks and calls, with the clock pinned
at Monday 2025-01-06 12:00 Beijing time (the window is that day unless told)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from assistant.core.errors import AssistantError
from assistant.desktop.settings import DesktopSettings
from assistant.desktop.stats import Stats, Window
from assistant.queue.routing import CallQueue
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from assistant.storage.database import Database
from domain.clock import PinnedClock

DAY = "2025-01-06T"
NOON = datetime(2025, 1, 6, 12, 0)


def at(clock: str, day: str = DAY) -> str:
    return f"{day}{clock}+08:00"


def ticket(db: Database, created: str, status: str, taken: str | None = None, ended: str | None = None,
           disposition: str | None = None, call: str = "elsewhere") -> int:
    return db.insert("INSERT INTO handoffs (call_id, created_at, reason, verification, slots, transcript, status, "
                     "taken_at, ended_at, disposition) VALUES (?, ?, 'caller_request', 'unverified', '{}', '[]', ?, ?, ?, ?)",
                     (call, created, status, taken, ended, disposition))


def callback(db: Database, created: str, due: str, status: str, taken: str | None = None, ended: str | None = None,
             disposition: str | None = None) -> None:
    number = ticket(db, created, status, taken, ended, disposition)
    db.execute("INSERT INTO callbacks (ticket, phone, due_at, booked_at) VALUES (?, '13800138000', ?, ?)",
               (number, due, created))


def call(db: Database, started: str, ended: str | None, name: str) -> None:
    db.execute("INSERT INTO calls (id, caller, started_at, ended_at) VALUES (?, NULL, ?, ?)", (name, started, ended))


@pytest.fixture()
def stats(tmp_path: Path) -> Stats:
    queue = CallQueue(CallStore(tmp_path / "calls.sqlite", PinnedClock(NOON)), QueueSettings())
    db = queue.db
    # 09:00-10:00: answered in 10 s and in 20 s (on the target: in), one abandoned after 5 s.
    ticket(db, at("09:00:00"), "done", at("09:00:10"), at("09:05:10"), "resolved", call="third")
    ticket(db, at("09:10:00"), "done", at("09:10:20"), at("09:12:20"), "follow_up")
    ticket(db, at("09:20:00"), "abandoned", ended=at("09:20:05"))
    # 10:00-11:00: answered after a minute (still on the call), one still waiting, four callbacks booked.
    ticket(db, at("10:00:00"), "taken", at("10:01:00"))
    ticket(db, at("10:30:00"), "waiting")
    callback(db, at("10:40:00"), at("11:00:00"), "done", at("11:03:00"), at("11:08:00"), "resolved")  # kept
    callback(db, at("10:45:00"), at("11:30:00"), "taken", at("11:40:00"))  # 10 minutes late
    callback(db, at("10:50:00"), at("11:50:00"), "callback")  # due, nobody has it yet
    callback(db, at("10:55:00"), at("13:00:00"), "callback")  # not due yet
    # Yesterday: a call answered (not today's), and a callback booked for today 09:00, taken at 09:02.
    ticket(db, at("23:59:59", "2025-01-05T"), "done", at("23:59:59", "2025-01-05T"), at("00:04:59"))
    callback(db, at("18:00:00", "2025-01-05T"), at("09:00:00"), "done", at("09:02:00"), at("09:06:00"))
    # Calls: two the assistant finished alone, one handed over (the first ticket), one still on, one yesterday.
    call(db, at("08:00:00"), at("08:02:00"), "first")
    call(db, at("08:30:00"), at("08:35:00"), "second")
    call(db, at("09:00:00"), at("09:00:00"), "third")
    call(db, at("09:30:00"), None, "fourth")
    call(db, at("20:00:00", "2025-01-05T"), at("20:01:00", "2025-01-05T"), "yesterday")
    return Stats(queue, DesktopSettings())


def test_todays_figures(stats: Stats) -> None:
    figures = stats.figures()
    assert (figures.since, figures.until) == ("2025-01-06T00:00:00+08:00", "2025-01-07T00:00:00+08:00")
    assert (figures.arrivals, figures.answered, figures.answered_in_target, figures.abandoned) == (9, 3, 2, 1)
    assert figures.service_level == 2 / 4  # the abandoned call counts against it; waiting and callbacks do not
    assert figures.average_answer_s == (10 + 20 + 60) / 3
    assert figures.abandonment_rate == 1 / 4
    assert figures.average_handle_s == (300 + 120 + 300) / 3  # finished today-arrived tickets
    assert (figures.callbacks_due, figures.callbacks_kept, figures.callbacks_kept_rate) == (4, 2, 0.5)
    assert (figures.calls, figures.contained, figures.containment) == (4, 2, 0.5)
    assert figures.dispositions == {"resolved": 2, "follow_up": 1}


def test_hours_up_to_the_one_under_way(stats: Stats) -> None:
    hours = stats.figures().hours
    assert len(hours) == 13 and hours[0].start == "2025-01-06T00:00:00+08:00" and hours[-1].start == at("12:00:00")
    assert [(h.arrivals, h.answered, h.abandoned, h.service_level) for h in hours[8:11]] == [
        (0, 0, 0, None), (3, 2, 1, 2 / 3), (6, 1, 0, 0.0)]
    assert sum(h.arrivals for h in hours) == 9


def test_a_past_window_has_all_its_hours_and_only_its_tickets(stats: Stats) -> None:
    figures = stats.figures(Window.between(datetime(2025, 1, 5), datetime(2025, 1, 6)))
    assert len(figures.hours) == 24 and [h.arrivals for h in figures.hours[18::5]] == [1, 1]
    assert (figures.arrivals, figures.answered, figures.service_level, figures.average_answer_s) == (2, 1, 1.0, 0.0)
    assert (figures.callbacks_due, figures.calls, figures.contained) == (0, 1, 1)


def test_nothing_to_divide_gives_no_share(tmp_path: Path) -> None:
    queue = CallQueue(CallStore(tmp_path / "empty.sqlite", PinnedClock(NOON)), QueueSettings())
    figures = Stats(queue, DesktopSettings()).figures()
    assert (figures.service_level, figures.average_answer_s, figures.abandonment_rate, figures.containment,
            figures.callbacks_kept_rate) == (None, None, None, None, None)
    assert all(h.arrivals == 0 and h.service_level is None for h in figures.hours)


def test_targets_come_from_the_settings(stats: Stats) -> None:
    stats.settings = DesktopSettings(service_level_s=60, callback_grace_min=15)
    figures = stats.figures()
    assert (figures.answered_in_target, figures.service_level) == (3, 3 / 4)
    assert (figures.callbacks_kept, figures.service_level_s, figures.callback_grace_min) == (3, 60, 15)


def test_windows_are_checked() -> None:
    assert Window.day_of(datetime(2025, 1, 6, 23, 59)).since.isoformat() == "2025-01-06T00:00:00+08:00"
    with pytest.raises(AssistantError, match="must end after it starts"):
        Window.between(datetime(2025, 1, 6), datetime(2025, 1, 6))
    with pytest.raises(AssistantError, match="at most 31 days"):
        Window.between(datetime(2025, 1, 1), datetime(2025, 3, 1))
