"""Asterisk AudioSocket: a TCP server that takes each connection as one call.

Frames both ways: 1 type byte, a 2-byte big-endian payload length, the payload.

    0x00  hang-up (no payload; closing the socket is a hang-up too)
    0x01  the call's UUID, 16 bytes: the first frame of every call
    0x03  one DTMF key, 1 ASCII byte
    0x10  audio: signed 16-bit little-endian PCM, 8 kHz mono (20 ms = 320 bytes)
    0xFF  an error at the far end (payload: an optional error code)

The assistant answers with 0x10 frames of 20 ms at real-time pace (assistant/core/session.py), and
sends 0x00 when it ends a call itself (a turn that ends the call has been heard, or the call failed).
AudioSocket carries no caller id: the dialog asks who is calling when a function needs it. Asterisk
connects a call with the dialplan application `AudioSocket(${UUID()},host:port)`.

Anything malformed (a length wrong for its type, an unknown type, audio before the UUID, an oversized
frame, a connection closed inside a frame, nothing for `telephony.idle_s`) is one warning and that
call closed; every other call goes on.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import suppress

from assistant.core.frames import INBOUND, CallStarted
from assistant.core.session import CallOpener
from assistant.transports.line import CallLimit, Line, LineSettings, ProtocolError

log = logging.getLogger(__name__)

HANGUP, UUID, DTMF, AUDIO, ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF
SAMPLE_RATE = 8000
CHANNEL = "audiosocket"
MAX_AUDIO_BYTES = 3200  # 200 ms in one frame: Asterisk sends 20 ms; more is not a telephone line
# The payload lengths each type may have (audio also an even number of bytes: whole samples).
_LENGTHS = {HANGUP: range(0, 1), UUID: range(16, 17), DTMF: range(1, 2), AUDIO: range(2, MAX_AUDIO_BYTES + 1),
            ERROR: range(0, 17)}
_NAMES = {HANGUP: "hang-up", UUID: "UUID", DTMF: "DTMF", AUDIO: "audio", ERROR: "error"}


def frame(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket frame."""
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


def _hang_up(writer: asyncio.StreamWriter) -> None:
    if not writer.is_closing():
        writer.write(frame(HANGUP))


class _PeerHungUp(Exception):
    """The far end hung up (a 0x00 frame, or the socket closed between frames)."""


class _Sink:
    """Reply audio to the far end as 0x10 frames. Nothing to clear on barge-in: Asterisk plays what
    comes, and the session keeps at most 100 ms queued ahead of it."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    async def send(self, pcm: bytes) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(frame(AUDIO, pcm))
        with suppress(ConnectionError):  # the far end went away: the reading side ends the call
            await self.writer.drain()

    async def clear(self) -> None:
        pass


class AudioSocketServer:
    """Listens on host:port (port 0: any free one, then `port` holds it); one call per connection."""

    def __init__(self, host: str, port: int, open_call: CallOpener, max_calls: int | CallLimit = 32,
                 settings: LineSettings = LineSettings()) -> None:
        self.host, self.port = host, port
        self.open_call = open_call
        self.limit = CallLimit.of(max_calls)
        self.settings = settings
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """No new calls; every call in progress is hung up (its dialog closed) before this returns."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = "%s:%s" % (writer.get_extra_info("peername") or ("?", 0))[:2]
        try:
            if not self.limit.take():
                log.warning("audiosocket %s: refused: at the call limit (runtime.max_calls: %d)", peer,
                            self.limit.max_calls)
                _hang_up(writer)
                return
            try:
                await self._call(reader, writer, peer)
            finally:
                self.limit.give_back()
        finally:
            self._connections.discard(task)
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    async def _call(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        name = peer
        try:
            try:
                kind, payload = await self._frame(reader, self.settings.first_message_s)
            except _PeerHungUp:
                raise ProtocolError("the connection closed before its UUID frame") from None
            if kind != UUID:
                raise ProtocolError(f"the first frame must be the call's UUID (0x01), not {_NAMES[kind]} (0x{kind:02x})")
            call_id = str(uuid.UUID(bytes=payload))
            name = f"call {call_id} from {peer}"
            line = await Line.open(self.open_call, CallStarted(call_id, None, INBOUND, SAMPLE_RATE, CHANNEL),
                                   _Sink(writer))
            log.info("audiosocket %s: answered", name)
            try:
                await line.carry(self._read(reader, line))
                _hang_up(writer)  # the call ended on this side (its last turn heard, or its processors failed)
                if line.session.hung_up:
                    log.info("audiosocket %s: the assistant hung up", name)
            finally:
                await line.hang_up()
        except _PeerHungUp:
            log.info("audiosocket %s: hung up", name)
        except ProtocolError as error:
            log.warning("audiosocket %s: %s; call closed", name, error)
            _hang_up(writer)
        except ConnectionError as error:
            log.warning("audiosocket %s: connection lost (%s); call closed", name, error)
        except asyncio.CancelledError:  # the server is stopping
            _hang_up(writer)
            raise
        except Exception:
            log.exception("audiosocket %s: failed; call closed", name)
            _hang_up(writer)

    async def _read(self, reader: asyncio.StreamReader, line: Line) -> None:
        while True:
            kind, payload = await self._frame(reader, self.settings.idle_s)
            if kind == AUDIO:
                line.audio(payload)
            elif kind == DTMF:
                line.key(chr(payload[0]))
            elif kind == HANGUP:
                raise _PeerHungUp()
            elif kind == ERROR:
                code = f" (code 0x{payload.hex()})" if payload else ""
                raise ProtocolError(f"the far end reported an error{code}")
            else:
                raise ProtocolError("a second UUID frame in one call")

    @staticmethod
    async def _frame(reader: asyncio.StreamReader, timeout: float) -> tuple[int, bytes]:
        """The next frame, checked before its payload is read (an oversized length is never waited for)."""
        try:
            header = await asyncio.wait_for(reader.readexactly(3), timeout)
        except asyncio.IncompleteReadError as error:
            if error.partial:
                raise ProtocolError("the connection closed inside a frame header") from None
            raise _PeerHungUp() from None
        except asyncio.TimeoutError:
            raise ProtocolError(f"nothing received for {timeout:g} s") from None
        kind, length = header[0], int.from_bytes(header[1:], "big")
        if kind not in _LENGTHS:
            raise ProtocolError(f"unknown frame type 0x{kind:02x}")
        if length not in _LENGTHS[kind] or (kind == AUDIO and length % 2):
            allowed = _LENGTHS[kind]
            expected = (f"{allowed.start}" if len(allowed) == 1 else
                        f"an even number of bytes up to {MAX_AUDIO_BYTES}" if kind == AUDIO else f"at most {allowed.stop - 1}")
            raise ProtocolError(f"bad {_NAMES[kind]} frame: {length} bytes (expected {expected})")
        try:
            payload = await asyncio.wait_for(reader.readexactly(length), timeout)
        except asyncio.IncompleteReadError as error:
            raise ProtocolError(f"the connection closed inside a frame ({_NAMES[kind]}, "
                                f"{len(error.partial)} of {length} bytes)") from None
        except asyncio.TimeoutError:
            raise ProtocolError(f"a {_NAMES[kind]} frame stopped halfway for {timeout:g} s") from None
        return kind, payload
