"""Kamailio (deploy/kamailio/kamailio.cfg) in front of two `assistant telephony --sip` workers on one
PostgreSQL schema, with sipp as the callers; everything on 127.0.0.1 ports 25800-25899.

Calls alternate between the workers; one worker is killed (SIGKILL) while a caller waits on it for a
person; calls placed at once are carried by the other worker (failover when the dead one does not
answer), and so is every call once the dispatcher has marked it down; the waiting caller is found by
the live worker's sweep and becomes a callback booked now, not lost.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from databases import postgres_schema
from test_sip import CALLER, SCENARIOS, caller_wav

from assistant.storage.database import Database, open_database
from assistant.storage.workers import WORKER_VARIABLE
from assistant.transports.sip import SAMPLE_RATE

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (shutil.which("sipp") and shutil.which("kamailio")),
                                 reason="sipp (Debian sip-tester) and kamailio are needed")]

REPO = Path(__file__).resolve().parents[1]
ASSISTANT = REPO / ".venv" / "bin" / "assistant"
DEPLOY = REPO / "deploy"
HOST = "127.0.0.1"
WORKER_PORTS = {"worker-1": 25800, "worker-2": 25830}  # each one's RTP from its SIP port + 2
PROXY_PORT = 25860
CALLERS = ((25870, 25880), (25875, 25890))  # sipp's SIP port and RTP port, one pair per caller at once
NO_REPLY_MS = 1500  # Kamailio gives up on a worker that sends nothing back this soon
DEAD_AFTER_S = 15  # config.yml cluster.dead_after_s
T = TypeVar("T")


@pytest.fixture()
def database() -> Iterator[str]:
    yield from postgres_schema()


def wait_for(found: Callable[[], T], timeout: float, what: str | Callable[[], str], every: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what if isinstance(what, str) else what()}"
        time.sleep(every)


class Processes:
    """Subprocesses with their output in files; all stopped at the end (SIGTERM, then SIGKILL)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(self.log(name), "wb") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       cwd=self.folder, env=env)
        self.running[name] = process
        return process

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def text(self, name: str) -> str:
        return self.log(name).read_text(errors="replace")

    def kill(self, name: str) -> None:
        process = self.running.pop(name)
        process.kill()
        process.wait(30)

    def stop_all(self) -> dict[str, int]:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in self.running.items():
            try:
                codes[name] = process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait(30)
        self.running.clear()
        return codes


def sipp_args(call: str, keys: dict[str, str], caller: int = 0, timeout_s: int = 60) -> list[str]:
    """A sipp caller placing one call (Call-ID `call`) through Kamailio."""
    sip_port, rtp_port = CALLERS[caller]
    args = ["sipp", "-sf", str(SCENARIOS / "keys_via_proxy.xml"), "-m", "1", "-i", HOST, "-p", str(sip_port),
            "-mi", HOST, "-mp", str(rtp_port), "-key", "caller", CALLER, "-cid_str", call, "-nostdin",
            "-timeout", f"{timeout_s}s", "-timeout_error", "-max_recv_loops", "1000"]
    for name, value in keys.items():
        args += ["-key", name, value]
    return [*args, f"{HOST}:{PROXY_PORT}"]


def short_calls(folder: Path, calls: list[str]) -> None:
    """Callers at once (one per pair of CALLERS ports), each hanging up 3 s after the answer; every BYE,
    routed by Kamailio, is answered 200."""
    keys = {"speak_ms": "1000", "keys": "#", "wait_ms": "2000"}
    placed = [subprocess.Popen(sipp_args(call, keys, caller), cwd=folder, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True) for caller, call in enumerate(calls)]
    for process in placed:
        try:
            _, err = process.communicate(timeout=90)
        finally:
            process.kill()
        assert process.returncode == 0, err[-2000:]


def turns(db: Database, call: str) -> list[Any]:
    return db.rows("SELECT t.heard, t.say FROM turns t JOIN calls c ON c.id = t.call_id WHERE c.line = ?", (call,))


def worker_of(db: Database, call: str) -> Any:
    """The worker the calls table says carried the call (None until it is recorded)."""
    return db.value("SELECT worker FROM calls WHERE line = ?", (call,))


def kamailio_cfg(folder: Path) -> Path:
    """The configuration deploy/cluster writes, for this test's ports and with faster probes."""
    spec = importlib.util.spec_from_file_location("cluster", DEPLOY / "cluster.py")
    assert spec is not None and spec.loader is not None
    cluster = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cluster)
    return cluster.kamailio_config(folder, PROXY_PORT, WORKER_PORTS, probe_s=1, no_reply_ms=NO_REPLY_MS)


def test_calls_alternate_survive_a_killed_worker_and_its_waiting_caller_is_called_back(
        tmp_path: Path, database: str) -> None:
    caller_wav(tmp_path, bytes(SAMPLE_RATE * 2))  # a second of silence: the callers only press keys
    env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_TRUNK"} | {"ASSISTANT_DATABASE": database}
    processes = Processes(tmp_path)
    db = open_database(database)
    try:
        for name, port in WORKER_PORTS.items():
            processes.start(name, [str(ASSISTANT), "telephony", "--sip", f"{HOST}:{port}"],
                            env | {WORKER_VARIABLE: name})
        for name in WORKER_PORTS:  # the models load first: minutes on a busy machine
            wait_for(lambda: f"worker {name}: heartbeat" in processes.text(name), 900, f"{name} to listen", 2)
        processes.start("kamailio", ["kamailio", "-DD", "-E", "-f", str(kamailio_cfg(tmp_path)), "-w", str(tmp_path)])
        wait_for(lambda: "Listening on" in processes.text("kamailio"), 30, "Kamailio to listen")

        calls = [f"alternate-{n}@{HOST}" for n in range(4)]
        for call in calls:
            short_calls(tmp_path, [call])
        carried = [wait_for(lambda: worker_of(db, call), 30, f"{call} in the calls table") for call in calls]
        assert set(carried) == set(WORKER_PORTS) and all(a != b for a, b in zip(carried, carried[1:])), carried

        # A caller presses 0 for a person once greeted, and waits on the line.
        waiting = processes.start("waiting-caller", sipp_args(
            f"waiting@{HOST}", {"speak_ms": "12000", "keys": "0", "wait_ms": "300000"}, caller=1, timeout_s=400))
        ticket = wait_for(lambda: db.row(
            "SELECT h.id, c.worker FROM handoffs h JOIN calls c ON c.id = h.call_id WHERE c.line = ? "
            "AND h.status = 'waiting'", (f"waiting@{HOST}",)), 120,
            lambda: f"the caller to wait for a person; their turns: {turns(db, f'waiting@{HOST}')}")
        # the contract: while the SIP caller waits, `queue list --json` shows the ticket with its transcript
        listed = subprocess.run([str(ASSISTANT), "queue", "list", "--json"], env=env, capture_output=True,
                                text=True, timeout=120)
        assert listed.returncode == 0, listed.stderr
        entry, = [e for e in map(json.loads, listed.stdout.splitlines()) if e["ticket"] == ticket["id"]]
        stored = json.loads(db.value("SELECT transcript FROM handoffs WHERE id = ?", (ticket["id"],)))
        assert (entry["caller"], entry["status"]) == (CALLER, "waiting")
        assert entry["transcript"] == stored and stored[0].startswith("caller: "), entry
        victim = ticket["worker"]
        survivor, = set(WORKER_PORTS) - {victim}
        processes.kill(victim)  # SIGKILL: no goodbye, no heartbeat any more
        assert waiting.poll() is None  # the caller was still on the line when cut off
        processes.kill("waiting-caller")

        # At once, while the dispatcher may not know yet: a call it sends to the dead worker goes
        # unanswered and is tried on the next worker.
        soon = [f"at-once-{n}@{HOST}" for n in range(2)]
        short_calls(tmp_path, soon)
        down = f"worker sip:{HOST}:{WORKER_PORTS[victim]} down"
        wait_for(lambda: down in processes.text("kamailio"), 30, "the dispatcher to mark the worker down")
        later = [f"after-down-{n}@{HOST}" for n in range(2)]
        for call in later:
            short_calls(tmp_path, [call])
        assert [wait_for(lambda: worker_of(db, call), 30, call) for call in soon + later] == [survivor] * 4

        booked = wait_for(lambda: db.row(
            "SELECT h.status, b.phone, b.due_at, b.booked_at FROM handoffs h JOIN callbacks b ON b.ticket = h.id "
            "WHERE h.id = ?", (ticket["id"],)), DEAD_AFTER_S + 45, "the sweep to book the callback")
        assert (booked["status"], booked["phone"]) == ("callback", CALLER)
        assert booked["due_at"] <= booked["booked_at"]  # due at once
        assert db.value("SELECT ended_at FROM calls WHERE line = ?", (f"waiting@{HOST}",))  # ended by the sweep
        assert f"ticket {ticket['id']}: the caller was cut off" in processes.text(survivor)
        beats = {row["id"]: row["beat_at"] for row in db.rows("SELECT id, beat_at FROM workers")}
        assert set(beats) == set(WORKER_PORTS) and beats[victim] < beats[survivor]
    finally:
        db.close()
        codes = processes.stop_all()
    assert codes.get(survivor) == 0, processes.text(survivor)[-3000:]
    assert "Traceback" not in processes.text(survivor)
