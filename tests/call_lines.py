"""What the telephony front-end tests share: a tiny call opener for protocol tests (the real
CallSession over one recording stage), the observer of real calls, and telephone recordings."""
from __future__ import annotations

import asyncio
import audioop
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import pytest

from assistant.core.frames import AudioChunk, CallStarted, EndOfCall, Frame, Interruption, SynthesizedAudio
from assistant.core.pipeline import Processor
from assistant.core.session import AudioSink, CallOpener, CallSession

RATE = 8000
FRAME_BYTES = 320  # 20 ms of 16-bit PCM at 8 kHz
LOUD = 10000  # a sample above this in a chunk makes _Recorder barge in
GREETING = bytes(range(256)) * 31  # 0.5 s of a recognisable "greeting" (not a whole number of frames)


class _Recorder(Processor):
    """Notes every frame; says GREETING when the call starts; a loud chunk barges in (a stand-in VAD)."""

    def __init__(self, frames: list[Frame]) -> None:
        self.frames = frames

    def process(self, frame: Frame) -> Iterator[Frame]:
        self.frames.append(frame)
        yield frame
        if isinstance(frame, CallStarted):
            yield SynthesizedAudio(GREETING, RATE, "greeting")
        elif isinstance(frame, AudioChunk) and audioop.max(frame.pcm, 2) > LOUD:
            yield Interruption()


class FakeCalls:
    """A call opener for protocol tests: each call is a real CallSession whose only stage records."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.calls: dict[str, list[Frame]] = {}

    def __call__(self, call: CallStarted, sink: AudioSink | None) -> CallSession:
        self.calls[call.call_id] = []
        return CallSession(call, [_Recorder(self.calls[call.call_id])], sink, self.executor)

    def ended(self, call_id: str) -> bool:
        return any(isinstance(f, EndOfCall) for f in self.calls.get(call_id, []))

    def of(self, call_id: str, kind: type) -> list[Any]:
        return [f for f in self.calls.get(call_id, []) if isinstance(f, kind)]


class Seen:
    """Every frame leaving a real call's processors, with the wall time it reached the event loop."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, Frame]] = []

    def __call__(self, frame: Frame) -> None:
        self.frames.append((time.monotonic(), frame))

    def of(self, kind: type) -> list[tuple[float, Any]]:
        return [(t, f) for t, f in self.frames if isinstance(f, kind)]


async def until(condition: Any, timeout: float, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        await asyncio.sleep(0.01)


def frames_of(pcm: bytes, size: int = FRAME_BYTES) -> list[bytes]:
    """20 ms pieces (the last one padded with silence)."""
    pcm += bytes(-len(pcm) % size)
    return [pcm[i:i + size] for i in range(0, len(pcm), size)]


class Talker:
    """A caller's phone: 20 ms of audio every 20 ms, in real time, silence while nothing is said."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self.send = send
        self.queue: deque[bytes] = deque()
        self.sent = 0  # frames so far
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def say(self, pcm: bytes) -> None:
        self.queue.extend(frames_of(pcm))

    @property
    def saying(self) -> bool:
        return bool(self.queue)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _run(self) -> None:
        start = time.monotonic()
        while True:
            await asyncio.sleep(max(0.0, start + self.sent * 0.02 - time.monotonic()))
            await self.send(self.queue.popleft() if self.queue else bytes(FRAME_BYTES))
            self.sent += 1


class _Server(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=_Server)


@asynccontextmanager
async def serving(server_class: Callable[..., S], open_call: CallOpener, **options: Any) -> AsyncIterator[S]:
    """A front-end on 127.0.0.1, any free port, for the length of the block."""
    server = server_class("127.0.0.1", 0, open_call, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def warnings(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    """The warning lines `logger` wrote."""
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == logging.WARNING]
