"""The live queue: a WebSocket that pushes the snapshot whenever the queue changes.

Changes come from any process (the dialog, `assistant queue`, another server on the same
database), so nothing here is told of them: each socket looks every `poll_s` at the board's cheap
fingerprint and sends the snapshot when it differs from the one it sent last. The sockets of one
server share one look per half poll interval and one snapshot per change, however many desks are open.
Before each push a socket looks its session up again: once it has expired or was logged out, the
socket is closed (1008) instead, and the desk goes to the login page.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket

from assistant.desktop.accounts import NOT_LOGGED_IN
from assistant.desktop.board import Board

POLICY_VIOLATION = 1008  # the WebSocket close code for "not allowed"


class Live:
    def __init__(self, board: Board, poll_s: float) -> None:
        self.board = board
        self.poll_s = poll_s
        self.lock = threading.Lock()
        self.looked = -float("inf")  # time.monotonic() of the latest look at the database
        self.fingerprint: Any = None
        self.snapshot: dict[str, Any] = {}

    def current(self) -> tuple[Any, dict[str, Any]]:
        """The fingerprint and the snapshot as of at most half a poll interval ago (blocking: run it
        in a thread)."""
        with self.lock:
            if time.monotonic() - self.looked >= self.poll_s / 2:
                fingerprint = self.board.fingerprint()
                if fingerprint != self.fingerprint:
                    self.snapshot = self.board.snapshot()
                    self.fingerprint = fingerprint
                self.looked = time.monotonic()
            return self.fingerprint, self.snapshot

    async def push(self, socket: WebSocket, logged_in: Callable[[], bool]) -> None:
        """Send the snapshot now and after every change until the desk closes the socket, or until
        `logged_in()` (blocking: a database lookup) says the socket's session has ended."""
        closed = asyncio.create_task(_closed(socket))
        sent = None
        try:
            while not closed.done():
                fingerprint, snapshot = await asyncio.to_thread(self.current)
                if fingerprint != sent:
                    if not await asyncio.to_thread(logged_in):
                        await socket.close(code=POLICY_VIOLATION, reason=NOT_LOGGED_IN)
                        return
                    # as of now: the desk counts waiting times on from it
                    await socket.send_json({**snapshot, "as_of": self.board.queue.stamp()})
                    sent = fingerprint
                await asyncio.wait({closed}, timeout=self.poll_s)
        finally:
            closed.cancel()


async def _closed(socket: WebSocket) -> None:
    """Returns when the desk closes the socket (what it sends is not read: the socket only pushes)."""
    while (await socket.receive())["type"] != "websocket.disconnect":
        pass
