"""Helpers for the agent desktop tests: a hand-off ticket as the dialog leaves it, a booked callback,
desk users, and a real `assistant serve` process on a free localhost port."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from assistant.desktop.accounts import Accounts
from assistant.desktop.settings import DesktopSettings
from assistant.queue.routing import CallQueue
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from domain.clock import real_clock

PASSWORD = "desk-test-password"
# A locked PIN, as the dialog hands it over: the transcript is masked, the PIN never in it.
LOCKED_CALL = {
    "reason": "locked", "caller": "13800138000", "customer_id": "C001", "verification": "locked",
    "function": "card_loss", "intent": "card_loss", "slots": {"card": "debit"}, "skill": "cards", "priority": 2,
    "transcript": ["caller: 我的卡丢了", "assistant: 请输入6位电话银行密码。", "caller: dtmf:****",
                   "assistant: 密码错误次数过多，已经被锁定。正在为您转接人工服务，请稍候。"],
}


def hand_off(store: CallStore, **context: Any) -> int:
    """A waiting ticket with the locked call's context, `context` changing any of it; its number."""
    details = {**LOCKED_CALL, **context}
    return store.tickets.add(store.open_call(details["caller"]), **details)


def book_callback(store: CallStore, due_at: str, phone: str = "13912345678", **context: Any) -> int:
    """A ticket booked as a callback for `due_at` (ISO 8601 with its offset), as Callbacks.book leaves
    it but without the SMS (no bank here), on a database that has the queue's tables; its number."""
    ticket = hand_off(store, **context)
    store.db.execute("UPDATE handoffs SET status = 'callback' WHERE id = ?", (ticket,))
    store.db.execute("INSERT INTO callbacks (ticket, phone, due_at, booked_at) VALUES (?, ?, ?, ?)",
                     (ticket, phone, due_at, store.stamp()))
    return ticket


def add_users(where: str, users: dict[str, list[str] | None]) -> None:
    """Desk users with PASSWORD: name → skills (an agent) or None (a supervisor)."""
    accounts = Accounts(CallQueue(CallStore(where, real_clock), QueueSettings()), DesktopSettings())
    for name, skills in users.items():
        accounts.add_user(name, "agent" if skills else "supervisor", PASSWORD, skills)
    accounts.db.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(database: str, logs: Path, count: int = 1) -> Iterator[list[str]]:
    """`count` `assistant serve` processes on `database` while the block runs (started together: each
    takes seconds to import); their base URLs. Each one's output goes to `logs`/serve-N.log."""
    servers = []
    try:
        for number in range(count):
            port, log = free_port(), logs / f"serve-{number + 1}.log"
            with log.open("w") as output:
                process = subprocess.Popen([sys.executable, "-m", "assistant.cli.main", "serve", "--port", str(port),
                                            "--database", database], stdout=output, stderr=subprocess.STDOUT)
            servers.append((process, f"http://127.0.0.1:{port}", log))
        for process, url, log in servers:
            _wait_until_up(process, url, log)
        yield [url for _, url, _ in servers]
    finally:
        for process, _, _ in servers:
            process.terminate()
        for process, _, _ in servers:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"assistant serve stopped:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"assistant serve did not come up in 60 s:\n{log.read_text()}")
