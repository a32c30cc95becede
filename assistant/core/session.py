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

A turn that ends the call (`Turn.hangs_up`: a function's ending, such as a survey's thanks) hangs up
once its reply has been played out at the far end (with no sink, at once): the session then ends as
a hang-up from the far end would (EndOfCall through the processors, so the dialog closes) and
`hung_up` is set, so the transport hangs up its side (SIP BYE, AudioSocket 0x00, a media stream's
close). From that turn on the caller is not heard: their audio and keys are dropped, so a barge-in
neither cuts the closing sentence short nor keeps the line open. The dialog has nothing left to say
(the call's ending is recorded), and a "好的，再见" or a cough over the goodbye would otherwise cut it
off mid-word or be answered on a call that is over. The far end hanging up meanwhile ends it at once.

A `tap` (recording.py: the call's recorder) is shown the caller's audio as it is pushed, each reply
frame as it is sent (also with no sink), and each turn; the call's clock starts with the session.
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
    AudioChunk,
    CallStarted,
    ControlFrame,
    DialogTurn,
    EndOfCall,
    Frame,
    Interruption,
    SynthesizedAudio,
)
from assistant.core.pipeline import Pipeline, Processor
from assistant.core.recording import CallTap

log = logging.getLogger(__name__)

FRAME_S = 0.02  # reply audio goes out in 20 ms frames, as RTP and the telephony sockets carry it
# After the last frame of a closing reply is due at the far end, the hang-up waits this much longer:
# what the network and the far end's jitter buffer still hold (tens of ms) is heard before the BYE.
HANG_UP_TAIL_S = 0.2


class AudioSink(Protocol):
    """The far end of a call's reply audio (a socket, a loudspeaker, a recorder)."""

    async def send(self, pcm: bytes) -> None:
        """One 20 ms frame of 16-bit mono PCM at the call's rate."""

    async def clear(self) -> None:
        """Drop audio the far end still buffers (barge-in); nothing to do for most sinks."""


class CallSession:
    """One call's frames through its processors to its sink (see the module's text)."""

    def __init__(self, call: CallStarted, stages: list[Processor], sink: AudioSink | None, executor: Executor,
                 observe: Callable[[Frame], None] | None = None, ahead_s: float = 0.1,
                 tap: CallTap | None = None) -> None:
        """`observe` sees every frame that leaves the processors, on the event loop (views, metrics);
        `tap` the call's audio both ways and its turns (see the module's text)."""
        self.call = call
        self.pipeline = Pipeline([*stages, _Outlet(self)])
        self.sink = sink
        self.executor = executor
        self.observe = observe
        self.ahead_s = ahead_s
        self.tap = tap
        self._started = time.monotonic()  # the call's clock
        self.frame_bytes = int(call.sample_rate * FRAME_S) * 2
        self._inbox: asyncio.PriorityQueue[tuple[int, int, Frame]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._playback: deque[bytes] = deque()
        self._audio_ready = asyncio.Event()
        self._due = 0.0  # when the far end will have played every reply frame sent so far
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False  # a turn that ends the call has left the processors
        self._end_pushed = False  # an EndOfCall was pushed: the far end hung up (or the server stops)
        self.ended = False
        self.hung_up = False  # the call ended on this side, after a turn that ends it (see the module's text)

    def push(self, frame: Frame) -> None:
        """Queue a frame from the transport (on the event loop); control frames go ahead of data."""
        if not self.ended:
            if isinstance(frame, EndOfCall) and not self._end_pushed:
                self._end_pushed = True
                self.pipeline.far_end_gone()  # a reply being synthesised stops at its next sentence
            if self.tap and isinstance(frame, AudioChunk):
                self.tap.heard(frame, time.monotonic() - self._started)
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
                if self._closing:  # what is still queued from the caller is dropped with the rest
                    self.hung_up = await self._played_out()
                    if self.hung_up:
                        log.info("call %s: its last turn has been heard; hanging up", self.call.call_id)
                    frame = EndOfCall()
                    continue
                frame = (await self._inbox.get())[2]
        except Exception:
            log.exception("call %s failed; hanging up", self.call.call_id)
            await self._loop.run_in_executor(self.executor, self._close_quietly)
        finally:
            self.ended = True
            player.cancel()
            await asyncio.gather(player, return_exceptions=True)
            if self.tap:
                await self._loop.run_in_executor(self.executor, self._close_tap, self.tap)

    def _close_quietly(self) -> None:
        try:
            self.pipeline.push(EndOfCall())
        except Exception:
            log.exception("call %s: cleaning up after a failure failed too", self.call.call_id)

    def _close_tap(self, tap: CallTap) -> None:
        try:
            tap.close()
        except Exception:
            log.exception("call %s: closing its recording failed", self.call.call_id)

    async def _played_out(self) -> bool:
        """Waits until the far end has played every reply frame (True), or has hung up itself (False).
        Bounded: nothing is queued any more, so the playback only shrinks."""
        if self.sink is None:
            return True
        while self._playback or time.monotonic() < self._due + HANG_UP_TAIL_S:
            if self._end_pushed:
                return False
            await asyncio.sleep(FRAME_S)
        return not self._end_pushed

    def _leaving(self, frame: Frame, frames: list[bytes]) -> None:
        """A frame out of the processors, now on the event loop."""
        if isinstance(frame, DialogTurn):
            self._closing |= frame.turn.hangs_up
            if self.tap:
                self.tap.turn(frame.turn)
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
        while True:
            if not self._playback:
                self._audio_ready.clear()
                await self._audio_ready.wait()
                continue
            now = time.monotonic()
            self._due = max(self._due, now)
            if self._due - now > self.ahead_s:
                await asyncio.sleep(self._due - now - self.ahead_s)
                continue  # the queue may have been cleared meanwhile
            pcm = self._playback.popleft()
            if self.tap:
                self.tap.said(pcm, self._due - self._started)
            self._due += FRAME_S  # before the send: a hang-up waiting on it never misses the frame in flight
            if self.sink:
                await self.sink.send(pcm)


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
