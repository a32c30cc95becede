"""Due callbacks reach agents at their time, even when nobody presses "take next": while the server
runs, a background task hands them out every `dispatch_s` (Callbacks.dispatch, in a thread: it blocks
on the database).

Every server runs one, and so may `assistant queue dispatch`: dispatch claims each callback in a write
transaction of its own, so a callback goes to one agent however many of them look at once.

A telephony worker with a SIP trunk dials due callbacks instead (CallbackDialer): each dial in a thread
of its own, at most `at_once` at a time; the callback is off the desks while it rings, and its outcome
is recorded on it (assistant/queue/callbacks.py).

Recordings past their retention are deleted, file and row, by RecordingRetention, which runs where
the callback scheduler does.

Several telephony workers may share one database (deploy/: Kamailio in front). Each beats in the
`workers` table every `cluster.beat_s` (WorkerWatch), and with each beat sweeps: the callers a worker
silent for `cluster.dead_after_s` left waiting for a person are called back (Callbacks.call_back_stranded).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from assistant.core.dialing import TICKET, Dialed, Dialer, OutboundCall
from assistant.core.errors import AssistantError
from assistant.core.settings import numbers_above_zero
from assistant.core.frames import OUTBOUND, CallStarted
from assistant.core.session import AudioSink, CallOpener, CallSession
from assistant.dialog.responder import Responder
from assistant.queue.callbacks import Callbacks
from assistant.queue.routing import Entry
from assistant.runtime.desk import Desk
from assistant.storage.calls import CallStore
from assistant.storage.recordings import Recordings
from assistant.storage.workers import worker_id
from domain.clock import Clock
from domain.errors import UserError
from domain.masking import tail

log = logging.getLogger(__name__)


class CallbackScheduler:
    def __init__(self, desk: Desk, every_s: float) -> None:
        # Desk.callbacks is built at the first tick, not with the app: it opens the bank's back end
        # (Callbacks needs it for the SMS of bookings; handing out sends none), which takes a second.
        self.desk = desk
        self.every_s = every_s

    def tick(self) -> list[Entry]:
        """Hands every due callback to an available agent with its skill, now (blocking); those handed."""
        handed = self.desk.callbacks.dispatch()
        for entry in handed:
            booked = entry.callback or {}  # every ticket dispatch hands out has one
            # The number by its last 4 digits only: the log is read by more people than the agent.
            log.info("callback #%d due %s handed to %s (call %s)", entry.ticket, booked.get("due_at"),
                     entry.agent, tail(booked.get("phone", "")))
        return handed

    async def run(self, stop: asyncio.Event) -> None:
        """Ticks now and every `every_s` until `stop` is set; a tick under way is finished first, so no
        write transaction is cut off when the server stops."""
        await _every(self.tick, self.every_s, stop, "handing out due callbacks")


@dataclass(frozen=True)
class DialSettings:
    """config.yml `telephony.callbacks`: how booked callbacks are dialled through the trunk."""

    tries: int = 3  # dials (busy, no answer) before the callback is left on the desk
    retry_s: float = 600.0  # between two dials of one callback
    at_once: int = 2  # callbacks one worker dials at the same time
    every_s: float = 10.0  # how often due callbacks are looked for
    ring_s: float = 30.0  # config.yml telephony.ring_s: an unanswered call is cancelled after this


class CallbackDialer:
    """Dials due callbacks through `dialer`; an answered one opens with `start_function` (the catalog's
    hand-off at the caller's request) and waits for an agent with its ticket."""

    def __init__(self, callbacks: Callbacks, dialer: Dialer, start_function: str, settings: DialSettings) -> None:
        self.callbacks = callbacks
        self.dialer = dialer
        self.start_function = start_function
        self.settings = settings
        self.threads = ThreadPoolExecutor(settings.at_once, thread_name_prefix="dial")
        self.dialing: set[int] = set()  # tickets dialled by this worker now

    def tick(self) -> list[int]:
        """Starts dialling due callbacks while fewer than `at_once` are under way (blocking on the
        database, not on the calls); the tickets it started."""
        self.callbacks.release_dials(self.settings.ring_s + STALE_MARGIN_S)
        started = []
        for ticket in self.callbacks.to_dial(self.settings.tries):
            if len(self.dialing) >= self.settings.at_once:
                break
            dial = self.callbacks.start_dial(ticket, self.settings.tries, self.start_function)
            if dial is None:  # another worker or a desk has it
                continue
            self.dialing.add(ticket)
            self.threads.submit(self._dial, ticket, *dial)
            started.append(ticket)
        return started

    async def run(self, stop: asyncio.Event) -> None:
        """Ticks now and every `every_s` until `stop` is set."""
        await _every(self.tick, self.settings.every_s, stop, "dialling due callbacks")

    def close(self) -> None:
        """Waits for the dials under way to end and be recorded (blocking)."""
        self.threads.shutdown(wait=True)

    def _dial(self, ticket: int, attempt: int, call: OutboundCall) -> None:
        try:
            try:
                dialed = self.dialer.originate(call, self.settings.ring_s)
            except AssistantError as error:
                dialed = Dialed("failed", "", detail=str(error))
            self.callbacks.dialed(ticket, attempt, dialed, self.settings.tries, self.settings.retry_s)
        except Exception:  # logged here: nothing waits for this thread's result
            log.exception("callback #%d: dialling failed", ticket)
        finally:
            self.dialing.discard(ticket)


def callback_opener(callbacks: Callbacks, open_call: CallOpener) -> CallOpener:
    """`open_call` for the SIP front-end: an answered callback's ticket waits for an agent again (or
    goes to one) before its dialog opens, so that its first turn finds it waiting."""
    def open_answered(call: CallStarted, sink: AudioSink | None) -> CallSession:
        if call.direction == OUTBOUND and TICKET in call.slots:
            entry = callbacks.answered(int(call.slots[TICKET]))
            log.info("callback #%d answered: %s", entry.ticket,
                     f"put through to {entry.agent}" if entry.agent else f"waiting for an agent ({entry.skill})")
        return open_call(call, sink)
    return open_answered


class RecordingRetention:
    """Deletes the recordings of calls that started more than `days` ago (config.yml `recording.retention_days`)."""

    def __init__(self, recordings: Recordings, clock: Clock, days: float, every_s: float) -> None:
        self.recordings = recordings
        self.clock = clock
        self.days = days
        self.every_s = every_s

    def tick(self) -> list[Path]:
        """Deletes every recording past its retention now (blocking); the files deleted."""
        deleted = []
        for recording in self.recordings.started_before(self.recordings.stamp(self.clock() - timedelta(days=self.days))):
            recording.path.unlink(missing_ok=True)
            self.recordings.forget(recording.call_id)
            deleted.append(recording.path)
        if deleted:
            log.info("deleted %d recordings older than %g days", len(deleted), self.days)
        return deleted

    async def run(self, stop: asyncio.Event) -> None:
        """Ticks now and every `every_s` until `stop` is set."""
        await _every(self.tick, self.every_s, stop, "deleting old recordings")


@dataclass(frozen=True)
class WatchSettings:
    """config.yml `cluster:`: this worker's id, how often it beats, when another worker counts as dead."""

    worker: str
    beat_s: float = 3.0
    dead_after_s: float = 15.0


def watch_settings(section: dict[str, Any]) -> WatchSettings:
    """config.yml `cluster:` (the worker id: $ASSISTANT_WORKER, else `worker`, else host:pid)."""
    timing = {name: value for name, value in section.items() if name != "worker"}
    settings = numbers_above_zero(WatchSettings, timing, "cluster", worker=worker_id(str(section.get("worker") or "")))
    if 2 * settings.beat_s > settings.dead_after_s:
        raise AssistantError("config.yml: cluster: dead_after_s must be at least two beats (2 × beat_s)")
    return settings


class WorkerWatch:
    """This worker's heartbeat, and with each beat the sweep for callers a dead worker cut off. The
    first beat also sweeps what this worker's id left open before it started (a restart under a fixed id)."""

    def __init__(self, store: CallStore, callbacks: Callbacks, settings: WatchSettings) -> None:
        self.store = store
        self.callbacks = callbacks
        self.settings = settings
        self.started = False

    def tick(self) -> list[Entry]:
        """Beats, then books callbacks for the callers of dead workers and ends their calls; those tickets."""
        restarted = None if self.started else self.settings.worker
        self.store.workers.beat(self.settings.worker, started=not self.started)
        silent_since = self.store.workers.silent_since(self.settings.dead_after_s)
        swept = self.callbacks.call_back_stranded(silent_since, restarted)
        self.store.end_stranded(silent_since, restarted)
        self.started = True
        return swept

    async def run(self, stop: asyncio.Event) -> None:
        """Ticks now and every `beat_s` until `stop` is set."""
        await _every(self.tick, self.settings.beat_s, stop, "beating and sweeping")


def line_noting(store: CallStore, open_call: CallOpener) -> CallOpener:
    """`open_call` noting on each call's record its id on the line (SIP Call-ID, AudioSocket UUID, streamSid)."""
    def open_noted(call: CallStarted, sink: AudioSink | None) -> CallSession:
        session = open_call(call, sink)
        store.note_line(record_id(session), call.call_id)
        return session
    return open_noted


def record_id(session: CallSession) -> str:
    """The call store's id of a call the voice service opened."""
    responder = next(p for p in session.pipeline.processors if isinstance(p, Responder))
    return responder.dialog.record.call_id


STALE_MARGIN_S = 120.0  # a dial still without an outcome this long after its ring time: its worker stopped


async def _every(tick: Callable[[], Any], every_s: float, stop: asyncio.Event, doing: str) -> None:
    """`tick` in a thread now and every `every_s` until `stop` is set; a tick under way is finished first."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(tick)
        except UserError as error:  # the database refused (e.g. another server took the agent)
            log.warning("%s: %s; trying again in %g s", doing, error, every_s)
        except Exception:  # a bug must not end this for the rest of the server's life
            log.exception("%s failed; trying again in %g s", doing, every_s)
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
