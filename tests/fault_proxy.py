"""A real HTTP server in a thread, and a TCP proxy in front of it that misbehaves on request.

Faults are queued, one per request; with none queued the proxy passes requests through:
- "error": answers 500 itself, without forwarding (the server never sees the request);
- "drop":  forwards, lets the server commit and answer, then closes the connection unanswered;
- "slow":  forwards (the server commits at once) but holds the answer back for `delay` seconds.
"""
from __future__ import annotations

import socket
import threading
import time
from collections import deque

import uvicorn
from fastapi import FastAPI

_ERROR = (
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
    b"Connection: close\r\n\r\nerror"
)


class ServerThread:
    """uvicorn serving `app` on a free localhost port until stopped."""

    def __init__(self, app: FastAPI) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test HTTP server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class FaultProxy:
    def __init__(self, upstream_port: int, delay: float = 1.0) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self.faults: deque[str] = deque()
        self.requests = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            request = _read_request(client)
            if not request:
                return
            self.requests += 1
            fault = self.faults.popleft() if self.faults else "pass"
            if fault == "error":
                client.sendall(_ERROR)
                return
            response = self._forward(request)
            if fault == "drop":
                return
            if fault == "slow":
                time.sleep(self.delay)
            try:
                client.sendall(response)
            except OSError:  # the client gave up waiting
                pass

    def _forward(self, request: bytes) -> bytes:
        head, _, body = request.partition(b"\r\n\r\n")
        lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
        with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
            upstream.sendall(b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body)
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


def _read_request(client: socket.socket) -> bytes:
    """One HTTP request with a Content-Length body, or b"" if the client closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += client.recv(65536)
    return head + b"\r\n\r\n" + body
