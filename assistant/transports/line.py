"""What the network front-ends (AudioSocket, media streams) share: one caller's call carried through
its CallSession, the worker's call limit, and the error that closes one call and nothing else.

A front-end reads its protocol and hands a `Line` what it found: caller audio (timed by the audio
itself, so stream time is the position in the call whatever the network's jitter), key presses and
the hang-up. Anything it cannot take raises `ProtocolError`: the front-end logs one line and closes
that call; the other calls never see it.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, fields
from typing import Any

from assistant.core.errors import AssistantError
from assistant.core.settings import numbers_above_zero
from assistant.core.frames import AudioChunk, CallStarted, Dtmf, EndOfCall
from assistant.core.session import AudioSink, CallOpener, CallSession
from assistant.transports.text import KEYS

log = logging.getLogger(__name__)

UNUSED_KEYS = frozenset("ABCD")  # DTMF has them; no phone keypad does, and the dialog takes none


class ProtocolError(Exception):
    """Input a front-end cannot take (malformed, out of order, unsupported): its call is closed."""


class CallLimit:
    """How many calls this worker takes at once (config.yml `runtime.max_calls`), counted across the
    front-ends that share it; a call over the limit is refused, so a proxy can send it elsewhere."""

    def __init__(self, max_calls: int) -> None:
        if max_calls < 1:
            raise AssistantError(f"the call limit must be at least 1, not {max_calls}")
        self.max_calls = max_calls
        self.active = 0

    @classmethod
    def of(cls, limit: int | CallLimit) -> CallLimit:
        """A front-end's limit: its own (a number) or one shared with other front-ends."""
        return limit if isinstance(limit, CallLimit) else cls(limit)

    def take(self) -> bool:
        """A place for one more call, if there is one (on the event loop: no lock needed)."""
        if self.active >= self.max_calls:
            return False
        self.active += 1
        return True

    def give_back(self) -> None:
        self.active -= 1


@dataclass(frozen=True)
class LineSettings:
    """config.yml `telephony:`: how long a front-end waits for a caller's line before dropping it."""

    first_message_s: float = 5.0  # a call's first message (AudioSocket's UUID, a media stream's start)
    idle_s: float = 30.0  # nothing at all for this long: a dead line (both protocols send audio every 20 ms)

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> LineSettings:
        own = {field.name: section[field.name] for field in fields(cls) if field.name in section}  # telephony: holds more
        return numbers_above_zero(cls, own, "telephony")


class Line:
    """One caller's call, running: `audio`, `key` as they arrive, `carry` the reading, then `hang_up`."""

    def __init__(self, session: CallSession) -> None:
        self.session = session
        self.call = session.call
        self.t = 0.0  # stream time: seconds of caller audio so far
        self._running = asyncio.create_task(session.run(), name=f"call {session.call.call_id}")

    @classmethod
    async def open(cls, open_call: CallOpener, call: CallStarted, sink: AudioSink) -> Line:
        """The call opened and started (the greeting begins). Opening builds the call's processors and
        its dialog record: in a thread, so that the other calls' audio keeps moving meanwhile."""
        session = await asyncio.get_running_loop().run_in_executor(None, open_call, call, sink)
        return cls(session)

    @property
    def ended(self) -> bool:
        return self._running.done()

    def audio(self, pcm: bytes) -> None:
        rate = self.call.sample_rate
        self.session.push(AudioChunk(pcm, rate, self.t))
        self.t += len(pcm) / 2 / rate

    def key(self, digit: str) -> None:
        """One key pressed. Never logged: it may be a digit of a PIN."""
        if digit in KEYS:
            self.session.push(Dtmf(digit))
        elif digit in UNUSED_KEYS:
            log.info("call %s: ignored a DTMF key A-D (no phone keypad has them)", self.call.call_id)
        else:
            raise ProtocolError("a DTMF key that is not 0-9, *, # or A-D")

    async def carry(self, reading: Coroutine[Any, Any, None]) -> None:
        """Runs the front-end's reading of the line until it returns (the caller hung up) or raises
        (ProtocolError, a dropped connection), or until the call ends by itself (the assistant hung
        up after a closing turn, or a processor failed: the session has logged it), whichever comes first."""
        reader = asyncio.ensure_future(reading)
        try:
            await asyncio.wait({reader, self._running}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done():
                reader.result()
            elif self.session.hung_up:
                log.info("call %s: the assistant hung up; closing its line", self.call.call_id)
            else:
                log.warning("call %s ended by itself; closing its line", self.call.call_id)
        finally:
            if not reader.done():
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    async def hang_up(self) -> None:
        """The call's end: the dialog closes (a waiting ticket is abandoned) and its tasks end.
        Shielded, so that a server stopping cannot leave a call half closed."""
        self.session.push(EndOfCall())
        await asyncio.shield(self._running)
