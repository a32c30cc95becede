"""A browser softphone: a page where a person calls the assistant with the browser's microphone.

    app.include_router(softphone_router(voice.open_call))   GET /softphone, WebSocket /softphone/ws

The page (static/softphone.*) captures the microphone, downsamples it to 16 kHz 16-bit mono PCM in an
AudioWorklet and sends it as binary WebSocket messages of 20 ms; it plays the reply audio it gets back.
The protocol on /softphone/ws, in order:

    page → server   {"type": "start", "caller": "13800138000"}   first, once; "caller" may be left out
    server → page   {"type": "started", "call": CALL_ID}
    page → server   binary: 16 kHz 16-bit little-endian mono PCM, at most 100 ms per message, in real time
                    {"type": "dtmf", "digit": "1"}   one key: 0-9, * or #
                    {"type": "hangup"}               the server ends the call and closes the socket (1000)
    server → page   binary: the reply audio, 20 ms per message, at real-time pace
                    {"type": "clear"}                the caller barged in: drop all reply audio queued
                    {"type": "turn", ...}            what the dialog decided (core/turn.py, PINs hidden); after
                                                     one with "hangs_up": true and its audio, the socket is closed (1000)
                    {"type": "error", "message": M}  bad input: the call is ended and the socket closed

A malformed message (not JSON, an unknown type, audio before "start", an odd or oversized audio frame,
audio faster than real time) ends that call only: the page gets the error, the log one line, and the
contents of the bad message (perhaps a PIN) are echoed to neither. A page from another origin is
refused at the handshake: the page has no login, and this keeps other sites' scripts from calling.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from assistant.core.frames import INBOUND, AudioChunk, CallStarted, DialogTurn, Dtmf, EndOfCall, Frame
from assistant.core.session import CallOpener, CallSession

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
SAMPLE_RATE = 16000
CHANNEL = "softphone"
MAX_AUDIO_BYTES = SAMPLE_RATE * 2 // 10  # 100 ms: the page sends 20 ms, a late tick may carry a few together
MAX_TEXT_CHARS = 1024  # a control message is a few dozen characters
MAX_AHEAD_S = 2.0  # how far the audio received may run ahead of the wall clock since "start" (jitter)
START_TIMEOUT_S = 10.0  # a socket that says nothing is closed
DIGITS = frozenset("0123456789*#")
CALLER_ID = re.compile(r"\+?[0-9]{3,20}")
# The page's own files, and nothing else, are served from static/.
ASSETS = {"softphone.js": "text/javascript", "capture.js": "text/javascript", "softphone.css": "text/css"}
# The page loads nothing from elsewhere and runs no inline script; its socket is to its own origin.
PAGE_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# WebSocket close codes (RFC 6455)
NORMAL, UNSUPPORTED_DATA, POLICY_VIOLATION, TOO_BIG, INTERNAL_ERROR, TRY_AGAIN_LATER = 1000, 1003, 1008, 1009, 1011, 1013


def softphone_router(open_call: CallOpener) -> APIRouter:
    """The page at GET /softphone and its call socket at /softphone/ws; each call opened by `open_call`."""
    router = APIRouter()

    @router.get("/softphone", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "softphone.html", media_type="text/html", headers=PAGE_HEADERS)

    @router.get("/softphone/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in ASSETS:
            return Response(status_code=404)
        return FileResponse(STATIC / name, media_type=ASSETS[name], headers=PAGE_HEADERS)

    @router.websocket("/softphone/ws")
    async def call_socket(socket: WebSocket) -> None:
        if not _same_origin(socket):
            log.warning("softphone: refused a call socket from another origin (%s)", socket.headers.get("origin"))
            await socket.close(code=POLICY_VIOLATION)  # before accepting: the handshake is refused
            return
        await socket.accept()
        await _Call(socket, open_call).run()

    return router


def _same_origin(socket: WebSocket) -> bool:
    """Browsers say where a page came from; scripts and test clients send no Origin and are let in."""
    origin = socket.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == socket.headers.get("host")


class _Refused(Exception):
    """Bad input from the page: `message` is told to it, then the call ends with close `code`."""

    def __init__(self, message: str, code: int = POLICY_VIOLATION) -> None:
        super().__init__(message)
        self.code = code


class _Line:
    """The socket's sending side and the call's AudioSink: one message at a time, nothing once closed."""

    def __init__(self, socket: WebSocket) -> None:
        self.socket = socket
        self.lock = asyncio.Lock()
        self.open = True
        self.pending: set[asyncio.Task[None]] = set()

    async def send(self, pcm: bytes) -> None:
        await self._send({"type": "websocket.send", "bytes": pcm})

    async def clear(self) -> None:
        await self.send_json({"type": "clear"})

    async def send_json(self, message: dict[str, Any]) -> None:
        await self._send({"type": "websocket.send", "text": json.dumps(message, ensure_ascii=False)})

    def post_json(self, message: dict[str, Any]) -> None:
        """From a callback on the event loop: sent in order, after what is already on its way."""
        self._post(self.send_json(message))

    def post_close(self, code: int) -> None:
        self._post(self.close(code))

    def _post(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def close(self, code: int) -> None:
        current = asyncio.current_task()
        # the last turn (or error) posted goes out before the close
        await asyncio.gather(*(task for task in self.pending if task is not current), return_exceptions=True)
        async with self.lock:
            if self.open and self.socket.application_state == WebSocketState.CONNECTED:
                self.open = False
                try:
                    await self.socket.close(code=code)
                except (WebSocketDisconnect, RuntimeError):
                    pass  # the page closed it at the same moment
            self.open = False

    async def _send(self, message: dict[str, Any]) -> None:
        async with self.lock:
            if not self.open:
                return
            try:
                await self.socket.send(message)
            except (WebSocketDisconnect, RuntimeError):  # the page went away; the receiving side notices too
                self.open = False


class _Call:
    """One softphone call: the page's messages turned into frames of one CallSession."""

    def __init__(self, socket: WebSocket, open_call: CallOpener) -> None:
        self.socket = socket
        self.open_call = open_call
        self.line = _Line(socket)
        self.call_id = f"softphone-{uuid.uuid4().hex[:12]}"
        self.session: CallSession | None = None
        self.running: asyncio.Task[None] | None = None
        self.samples = 0  # caller audio received so far: the stream time of the next chunk
        self.started_at = 0.0  # when "start" came: the page sends audio from then on, in real time

    async def run(self) -> None:
        code = NORMAL
        try:
            await self._converse()
        except _Refused as refusal:
            log.warning("softphone call %s: %s; closing the call", self.call_id, refusal)
            await self.line.send_json({"type": "error", "message": str(refusal)})
            code = refusal.code
        except WebSocketDisconnect:
            pass  # the page went away: the call ends like a hang-up
        finally:
            # The hang-up first, before anything awaits: a handler cancelled (server shutdown) still ends its call.
            if self.session is not None:
                self.session.push(EndOfCall())
            await self.line.close(code)
            if self.running is not None:
                await asyncio.wait({self.running})  # not gather: were this handler cancelled, that would cancel the call

    async def _converse(self) -> None:
        try:
            first = await asyncio.wait_for(self.socket.receive(), START_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise _Refused(f"no start message within {START_TIMEOUT_S:g} s") from None
        self.started_at = time.monotonic()  # before the call is opened: a slow open delays, not speeds, the audio
        session = self._start(self._control(first))
        while True:
            message = await self.socket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                session.push(self._audio(message["bytes"]))
                continue
            control = self._control(message)
            if control["type"] == "hangup":
                return
            if control["type"] == "dtmf":
                session.push(self._key(control))
            elif control["type"] == "start":
                raise _Refused("the call has already started")
            else:
                raise _Refused("unknown message type (expected start, dtmf or hangup)")

    def _control(self, message: dict[str, Any]) -> dict[str, Any]:
        """A JSON control message, checked to be an object with a string "type"."""
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", NORMAL))
        text = message.get("text")
        if text is None:
            raise _Refused("audio before the start message: send {\"type\": \"start\"} first")
        if len(text) > MAX_TEXT_CHARS:
            raise _Refused(f"a control message is longer than {MAX_TEXT_CHARS} characters", TOO_BIG)
        try:
            control = json.loads(text)
        except ValueError:
            raise _Refused("a text message is not JSON", UNSUPPORTED_DATA) from None
        if not isinstance(control, dict) or not isinstance(control.get("type"), str):
            raise _Refused("a control message is a JSON object with a \"type\"")
        return control

    def _start(self, control: dict[str, Any]) -> CallSession:
        if control["type"] != "start":
            raise _Refused("the first message must be {\"type\": \"start\"}")
        caller = control.get("caller") or None
        if caller is not None and not (isinstance(caller, str) and CALLER_ID.fullmatch(caller)):
            raise _Refused("the caller id must be a phone number (3 to 20 digits)")
        call = CallStarted(self.call_id, caller, INBOUND, SAMPLE_RATE, CHANNEL)
        try:
            session = self.open_call(call, self.line)
        except Exception:
            log.exception("softphone call %s: the call could not be opened", self.call_id)
            raise _Refused("the assistant cannot take the call now; try again later", TRY_AGAIN_LATER) from None
        # Whatever the opener observes, it still does; the page is shown the turns as well.
        session.observe = _both(session.observe, self._turn)
        self.session, self.running = session, asyncio.create_task(session.run())
        self.running.add_done_callback(self._ended)
        self.line.post_json({"type": "started", "call": self.call_id})
        log.info("softphone call %s started", self.call_id)
        return session

    def _ended(self, _: asyncio.Task[None]) -> None:
        """The session ended by itself: the assistant hung up after a closing turn (a normal close), or
        a processor failed (logged there: the page is told); either way the page is let go."""
        if not self.line.open:
            return
        if self.session is not None and self.session.hung_up:
            self.line.post_close(NORMAL)
            return
        self.line.post_json({"type": "error", "message": "the call failed on our side; please call again"})
        self.line.post_close(INTERNAL_ERROR)

    def _audio(self, pcm: bytes) -> AudioChunk:
        if not pcm or len(pcm) % 2:
            raise _Refused(f"an audio frame of {len(pcm)} bytes: 16-bit samples take an even number", UNSUPPORTED_DATA)
        if len(pcm) > MAX_AUDIO_BYTES:
            raise _Refused(f"an audio frame of {len(pcm)} bytes is over {MAX_AUDIO_BYTES} (100 ms)", TOO_BIG)
        t = self.samples / SAMPLE_RATE
        if t - (time.monotonic() - self.started_at) > MAX_AHEAD_S:
            raise _Refused("audio arrives faster than real time")
        self.samples += len(pcm) // 2
        return AudioChunk(pcm, SAMPLE_RATE, t)

    @staticmethod
    def _key(control: dict[str, Any]) -> Dtmf:
        digit = control.get("digit")
        if not (isinstance(digit, str) and digit in DIGITS):
            raise _Refused("a key press is one of 0-9, * or #")
        return Dtmf(digit)

    def _turn(self, frame: Frame) -> None:
        if isinstance(frame, DialogTurn):
            self.line.post_json({"type": "turn", **frame.turn.to_json()})


def _both(first: Callable[[Frame], None] | None, second: Callable[[Frame], None]) -> Callable[[Frame], None]:
    if first is None:
        return second

    def observe(frame: Frame) -> None:
        first(frame)
        second(frame)

    return observe
