"""One live call: frames from a transport, through the call's processors, to the transport's sink.

    session = CallSession(CallStarted(...), stages, sink, executor)
    task = asyncio.create_task(session.run())     # the assistant speaks first (the greeting)
    session.push(AudioChunk(...)) ...             # from the transport, as audio arrives
    session.push(EndOfCall())                     # hang-up: the session cleans up and `run` returns

Why asyncio plus a thread per busy call: transports are network servers (asyncio), while the
processors are synchronous and may block for a while (a Whisper decode waits its turn at the shared
speech worker, a back end answers slowly). Each call's processors run in a thread of the shared
executor, one frame at a time, so a slow step blocks only its own call; the event loop only moves
frames and paces audio.

Control frames overtake data: an EndOfCall pushed behind a second of queued audio is taken next.
The output end paces reply audio in 20 ms frames and keeps at most `ahead_s` (100 ms) queued at the
sink, so an Interruption (the caller barging in) drops what has not been played at once and the
caller hears at most that much more.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import Protocol

from assistant.core.audio import Audio, resample
from assistant.core.frames import (
    CallStarted,
    ControlFrame,
    EndOfCall,
    Frame,
    Interruption,
    SynthesizedAudio,
)
from assistant.core.pipeline import Pipeline, Processor

log = logging.getLogger(__name__)

FRAME_S = 0.02  # reply audio goes out in 20 ms frames, as RTP and the telephony sockets carry it


class AudioSink(Protocol):
    """The far end of a call's reply audio (a socket, a loudspeaker, a recorder)."""

    async def send(self, pcm: bytes) -> None:
        """One 20 ms frame of 16-bit mono PCM at the call's rate."""

    async def clear(self) -> None:
        """Drop audio the far end still buffers (barge-in); nothing to do for most sinks."""


class CallSession:
    """One call's frames through its processors to its sink (see the module's text)."""

    def __init__(self, call: CallStarted, stages: list[Processor], sink: AudioSink | None, executor: Executor,
                 observe: Callable[[Frame], None] | None = None, ahead_s: float = 0.1) -> None:
        """`observe` sees every frame that leaves the processors, on the event loop (views, metrics)."""
        self.call = call
        self.pipeline = Pipeline([*stages, _Outlet(self)])
        self.sink = sink
        self.executor = executor
        self.observe = observe
        self.ahead_s = ahead_s
        self.frame_bytes = int(call.sample_rate * FRAME_S) * 2
        self._inbox: asyncio.PriorityQueue[tuple[int, int, Frame]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._playback: deque[bytes] = deque()
        self._audio_ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.ended = False

    def push(self, frame: Frame) -> None:
        """Queue a frame from the transport (on the event loop); control frames go ahead of data."""
        if not self.ended:
            self._inbox.put_nowait((0 if isinstance(frame, ControlFrame) else 1, next(self._order), frame))

    async def run(self) -> None:
        """Until EndOfCall: the call's start first, then each frame in turn. A failing processor ends
        this call only (logged); the dialog is still closed."""
        self._loop = asyncio.get_running_loop()
        player = asyncio.create_task(self._play())
        try:
            frame: Frame = self.call
            while True:
                await self._loop.run_in_executor(self.executor, self.pipeline.push, frame)
                if isinstance(frame, EndOfCall):
                    break
                frame = (await self._inbox.get())[2]
        except Exception:
            log.exception("call %s failed; hanging up", self.call.call_id)
            await self._loop.run_in_executor(self.executor, self._close_quietly)
        finally:
            self.ended = True
            player.cancel()
            await asyncio.gather(player, return_exceptions=True)

    def _close_quietly(self) -> None:
        try:
            self.pipeline.push(EndOfCall())
        except Exception:
            log.exception("call %s: cleaning up after a failure failed too", self.call.call_id)

    def _leaving(self, frame: Frame, frames: list[bytes]) -> None:
        """A frame out of the processors, now on the event loop."""
        if isinstance(frame, Interruption):
            self._playback.clear()
            if self.sink:
                asyncio.ensure_future(self.sink.clear())
        elif frames:
            self._playback.extend(frames)
            self._audio_ready.set()
        if self.observe:
            self.observe(frame)

    async def _play(self) -> None:
        """Sends reply audio frame by frame at real-time pace, never more than `ahead_s` ahead."""
        due = time.monotonic()  # when the far end will have played everything sent so far
        while True:
            if not self._playback:
                self._audio_ready.clear()
                await self._audio_ready.wait()
                continue
            now = time.monotonic()
            due = max(due, now)
            if due - now > self.ahead_s:
                await asyncio.sleep(due - now - self.ahead_s)
                continue  # the queue may have been cleared meanwhile
            pcm = self._playback.popleft()
            if self.sink:
                await self.sink.send(pcm)
            due += FRAME_S


class _Outlet(Processor):
    """The last stage: hands each frame to the session's event loop, reply audio already cut into
    frames at the call's rate (here, in the call's thread, not on the loop)."""

    def __init__(self, session: CallSession) -> None:
        self.session = session

    def process(self, frame: Frame) -> Iterator[Frame]:
        frames: list[bytes] = []
        if isinstance(frame, SynthesizedAudio):
            pcm = resample(Audio(frame.pcm, frame.sample_rate), self.session.call.sample_rate).pcm
            size = self.session.frame_bytes
            pcm += bytes(-len(pcm) % size)  # the last frame padded with silence
            frames = [pcm[i:i + size] for i in range(0, len(pcm), size)]
        loop = self.session._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.session._leaving, frame, frames)
        yield frame


# What a transport needs of the rest of the system: a live call opened for it, e.g. VoiceService.open_call.
CallOpener = Callable[[CallStarted, "AudioSink | None"], CallSession]
