"""WebSocket media streams in the Twilio Media Streams format: one WebSocket is one call.

From the provider, JSON text messages, in order:

    connected   the socket is up (optional)
    start       start.streamSid, start.callSid, start.customParameters (a `caller` parameter is the
                caller id), start.mediaFormat {encoding: audio/x-mulaw, sampleRate: 8000, channels: 1}
    media       media.payload: base64 μ-law audio (20 ms = 160 bytes), media.track "inbound"
    dtmf        dtmf.digit: one key
    mark        a mark the assistant sent has been played (or cleared)
    stop        the call ended

To the provider: `media` (base64 μ-law reply audio, 20 ms at real-time pace), a `mark` after each reply
(when its audio has all been sent), and `clear` when the caller barges in, because the provider keeps
playing audio it has buffered otherwise. When the assistant ends the call (a turn that ends it has
been heard) the socket is closed with 1000 (normal); a call that failed on this side, with 1008.

Anything malformed (not JSON, bad base64, an unknown event, media before start, another media format,
a socket closed without `stop`, nothing for `telephony.idle_s`) is one warning and that socket closed;
every other call goes on. The server is uvicorn inside the worker's event loop; other routers (the
browser softphone) can share it.
"""
from __future__ import annotations

import asyncio
import audioop
import base64
import binascii
import contextlib
import itertools
import json
import logging
import re
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect

from assistant.core.frames import INBOUND, CallStarted
from assistant.core.session import CallOpener
from assistant.transports.line import CallLimit, Line, LineSettings, ProtocolError

log = logging.getLogger(__name__)

PATH = "/media-stream"  # the <Stream url="wss://HOST/media-stream"> a provider connects to
CHANNEL = "media-stream"
SAMPLE_RATE = 8000
ENCODING = "audio/x-mulaw"
MAX_MEDIA_BYTES = 1600  # 200 ms of μ-law in one message: providers send 20 ms
MAX_MESSAGE_BYTES = 64 * 1024  # a bigger WebSocket message is refused by the server itself
REPLY_GAP_S = 0.1  # reply audio that stops coming for this long has ended: a mark follows it
_CALLER = re.compile(r"\+?(\d{3,20})")
_EVENTS = frozenset({"connected", "start", "media", "dtmf", "mark", "stop"})
# WebSocket close codes (RFC 6455 §7.4.1)
NORMAL, UNSUPPORTED, POLICY, TRY_LATER = 1000, 1003, 1008, 1013


class _Stopped(Exception):
    """The provider sent `stop`: the call ended normally."""


@dataclass(frozen=True)
class StreamStart:
    """What a `start` message says about its call."""

    stream_sid: str
    call_sid: str | None
    caller: str | None

    @classmethod
    def parse(cls, message: dict[str, Any]) -> StreamStart:
        start = message.get("start")
        if not isinstance(start, dict):
            raise ProtocolError("a start message without its start object")
        sid = start.get("streamSid", message.get("streamSid"))
        if not isinstance(sid, str) or not 0 < len(sid) <= 64:
            raise ProtocolError("a start message without a streamSid")
        call_sid = start.get("callSid")
        if call_sid is not None and (not isinstance(call_sid, str) or not 0 < len(call_sid) <= 64):
            raise ProtocolError("a start message with a bad callSid")
        media_format = start.get("mediaFormat", {})
        if not isinstance(media_format, dict):
            raise ProtocolError("a start message with a bad mediaFormat")
        wanted = {"encoding": ENCODING, "sampleRate": SAMPLE_RATE, "channels": 1}
        got = {key: media_format.get(key, value) for key, value in wanted.items()}
        if got != wanted:
            raise ProtocolError(f"media format {got['encoding']} {got['sampleRate']} Hz {got['channels']} channel(s) "
                                f"is not supported (only {ENCODING} {SAMPLE_RATE} Hz mono)")
        parameters = start.get("customParameters") or {}
        if not isinstance(parameters, dict):
            raise ProtocolError("a start message whose customParameters is not an object")
        return cls(sid, call_sid, _caller(parameters.get("caller"), call_sid or sid))


def _caller(value: Any, call_id: str) -> str | None:
    """The `caller` custom parameter as a phone number (digits; a leading + dropped), else none."""
    if value is None or value == "":
        return None
    match = _CALLER.fullmatch(value) if isinstance(value, str) else None
    if not match:
        log.warning("media stream %s: the caller parameter is not a phone number; the caller is unknown", call_id)
        return None
    return match.group(1)


def parse_message(text: str | None) -> dict[str, Any]:
    """One provider message: a JSON object with a known `event`."""
    if text is None:
        raise ProtocolError("a binary WebSocket message (media streams send JSON text)")
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProtocolError(f"a message that is not JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message that is not a JSON object")
    event = message.get("event")
    if event not in _EVENTS:
        shown = event if isinstance(event, str) and event.isidentifier() and len(event) <= 32 else "?"
        raise ProtocolError(f"unknown event {shown!r}")
    return message


def media_pcm(message: dict[str, Any]) -> bytes | None:
    """The caller's audio of a media message as 16-bit PCM; None for another track (the reply's)."""
    media = message.get("media")
    if not isinstance(media, dict) or not isinstance(media.get("payload"), str):
        raise ProtocolError("a media message without a payload")
    if media.get("track", "inbound") not in ("inbound", "inbound_track"):
        return None
    payload = media["payload"]
    if len(payload) > (MAX_MEDIA_BYTES + 2) // 3 * 4:
        raise ProtocolError(f"a media payload over {MAX_MEDIA_BYTES} bytes")
    try:
        ulaw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("a media payload that is not base64") from None
    return audioop.ulaw2lin(ulaw, 2)


def dtmf_digit(message: dict[str, Any]) -> str:
    dtmf = message.get("dtmf")
    digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
    if not isinstance(digit, str) or len(digit) != 1:
        raise ProtocolError("a dtmf message without one digit")
    return digit


class _StreamSink:
    """Reply audio to the provider as media messages, a mark after each reply, clear on barge-in."""

    def __init__(self, ws: WebSocket, stream_sid: str) -> None:
        self.ws = ws
        self.stream_sid = stream_sid
        self.open = True
        self._sent = asyncio.Event()  # reply audio went out since the mark task last looked
        self._replies: Iterator[int] = itertools.count(1)
        self._marks = asyncio.create_task(self._mark_replies())

    async def send(self, pcm: bytes) -> None:
        payload = base64.b64encode(audioop.lin2ulaw(pcm, 2)).decode("ascii")
        await self._send({"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}})
        self._sent.set()

    async def clear(self) -> None:
        await self._send({"event": "clear", "streamSid": self.stream_sid})

    async def close(self) -> None:
        self.open = False
        self._marks.cancel()
        await asyncio.gather(self._marks, return_exceptions=True)

    async def _mark_replies(self) -> None:
        while True:
            await self._sent.wait()
            while self._sent.is_set():  # frames keep coming every 20 ms while a reply plays out
                self._sent.clear()
                await asyncio.sleep(REPLY_GAP_S)
            name = f"reply-{next(self._replies)}"
            await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def _send(self, message: dict[str, Any]) -> None:
        if not self.open:
            return
        try:
            await self.ws.send_text(json.dumps(message))
        except (WebSocketDisconnect, RuntimeError, OSError):  # gone: the reading side ends the call
            self.open = False


class MediaStreamServer:
    """An HTTP server on host:port (port 0: any free one, then `port` holds it) with the media-stream
    WebSocket at PATH, and any other `routers` (the softphone) on the same server."""

    def __init__(self, host: str, port: int, open_call: CallOpener, max_calls: int | CallLimit = 32,
                 settings: LineSettings = LineSettings(), routers: Iterable[APIRouter] = ()) -> None:
        self.host, self.port = host, port
        self.open_call = open_call
        self.limit = CallLimit.of(max_calls)
        self.settings = settings
        self.app = FastAPI(title="media streams", docs_url=None, redoc_url=None, openapi_url=None)
        self.app.add_api_websocket_route(PATH, self._stream)
        for router in routers:
            self.app.include_router(router)
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        # The socket is bound here, not by uvicorn, so that a busy port is an OSError to report (uvicorn
        # would exit the process), and uvicorn's own signal handling is left out: the worker has its own.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, lifespan="off", log_level="warning", ws_max_size=MAX_MESSAGE_BYTES,
                                timeout_graceful_shutdown=5)
        self._server = _Server(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
                raise OSError(f"the media-stream server on {self.host}:{self.port} did not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """No new calls; the sockets of calls in progress are closed and their calls hung up."""
        if self._server is None or self._serving is None:
            return
        self._stopping = True
        self._server.should_exit = True
        await self._serving

    async def _stream(self, ws: WebSocket) -> None:
        await ws.accept()
        peer = f"{ws.client.host}:{ws.client.port}" if ws.client else "?"
        if not self.limit.take():
            log.warning("media stream %s: refused: at the call limit (runtime.max_calls: %d)", peer, self.limit.max_calls)
            await ws.close(TRY_LATER, "at the call limit")
            return
        try:
            await self._call(ws, peer)
        finally:
            self.limit.give_back()

    async def _call(self, ws: WebSocket, peer: str) -> None:
        name, code, reason = peer, NORMAL, ""
        sink: _StreamSink | None = None
        try:
            start = await self._start(ws)
            call_id = start.call_sid or start.stream_sid
            name = f"call {call_id} from {peer}"
            sink = _StreamSink(ws, start.stream_sid)
            line = await Line.open(self.open_call, CallStarted(call_id, start.caller, INBOUND, SAMPLE_RATE, CHANNEL),
                                   sink)
            log.info("media stream %s: answered%s", name, "" if start.caller else " (no caller id)")
            try:
                await line.carry(self._read(ws, line, start.stream_sid))
                if line.session.hung_up:  # its last turn has been heard: a normal close ends the stream
                    log.info("media stream %s: the assistant hung up", name)
                    reason = "the assistant hung up"
                else:  # by itself: its processors failed
                    code, reason = POLICY, "the call ended"
            finally:
                await line.hang_up()
        except _Stopped:
            log.info("media stream %s: stopped", name)
        except WebSocketDisconnect:
            if self._stopping:
                log.info("media stream %s: closed (the server is stopping)", name)
            else:
                log.warning("media stream %s: the socket closed without a stop message; call closed", name)
        except ProtocolError as error:
            log.warning("media stream %s: %s; call closed", name, error)
            code, reason = POLICY, str(error)[:120]
        except Exception:
            log.exception("media stream %s: failed; call closed", name)
            code, reason = POLICY, "failed"
        finally:
            if sink is not None:
                await sink.close()
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):  # already closed
                await ws.close(code, reason)

    async def _receive(self, ws: WebSocket, timeout: float) -> dict[str, Any]:
        try:
            message = await asyncio.wait_for(ws.receive(), timeout)
        except asyncio.TimeoutError:
            raise ProtocolError(f"nothing received for {timeout:g} s") from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        return parse_message(message.get("text"))

    async def _start(self, ws: WebSocket) -> StreamStart:
        message = await self._receive(ws, self.settings.first_message_s)
        if message["event"] == "connected":
            message = await self._receive(ws, self.settings.first_message_s)
        if message["event"] != "start":
            raise ProtocolError(f"a {message['event']} message before start")
        return StreamStart.parse(message)

    async def _read(self, ws: WebSocket, line: Line, stream_sid: str) -> None:
        while True:
            message = await self._receive(ws, self.settings.idle_s)
            event = message["event"]
            if message.get("streamSid", stream_sid) != stream_sid:
                raise ProtocolError(f"a {event} message for another stream")
            if event == "media":
                pcm = media_pcm(message)
                if pcm:
                    line.audio(pcm)
            elif event == "dtmf":
                line.key(dtmf_digit(message))
            elif event == "mark":  # the provider has played a reply to its end (or cleared it)
                pass
            elif event == "stop":
                raise _Stopped()
            else:
                raise ProtocolError(f"a second {event} message")


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the worker process stops its servers itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
