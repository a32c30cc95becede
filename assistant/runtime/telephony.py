"""One telephony worker: a voice service and the front-ends callers reach it through (SIP, Asterisk
AudioSocket, WebSocket media streams), all in one process and one event loop, on the configured
database (several workers may share one PostgreSQL). `assistant telephony` runs it.

Outbound calls go to the SIP peer `telephony.trunk` (config.yml, overridden by $ASSISTANT_TRUNK, a
HOST:PORT): a call to number N is an INVITE to sip:N@HOST:PORT, from the SIP front-end. With a trunk,
the worker also dials booked callbacks when they are due (`telephony.callbacks`). A process that only
dials (`assistant campaign run`) gets its own SIP front-end from `open_dialer`."""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from dataclasses import replace
from functools import cached_property
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from assistant.core.dialing import Dialed, OutboundCall
from assistant.core.errors import AssistantError
from assistant.core.settings import numbers_above_zero
from assistant.core.frames import OUTBOUND, CallStarted
from assistant.core.session import AudioSink, CallOpener, CallSession
from assistant.dialog.reasons import CALLER_REQUEST
from assistant.runtime.address import Address
from assistant.runtime.bridging import AgentBridge, bridge_settings
from assistant.runtime.workers import (
    CallbackDialer,
    DialSettings,
    WorkerWatch,
    callback_opener,
    line_noting,
    record_id,
    watch_settings,
)
from assistant.speech.asr.base import transcribe
from assistant.transports.audiosocket import AudioSocketServer
from assistant.transports.line import CallLimit, LineSettings
from assistant.transports.media_streams import PATH, MediaStreamServer
from assistant.transports.softphone import softphone_router
from domain.config import Config

if TYPE_CHECKING:  # the voice service's modules load the models' libraries: not needed to read options
    from assistant.runtime.voice import VoiceService
    from assistant.transports.sip import SipServer

log = logging.getLogger(__name__)

TELEPHONE_RATE = 8000  # every front-end here carries 8 kHz audio
TRUNK_VARIABLE = "ASSISTANT_TRUNK"  # HOST:PORT of the SIP peer for outbound calls, over config.yml's
DIAL_FROM = "127.0.0.1:0"  # config.yml telephony.dial_from unless set: open_dialer's own SIP address


class FrontEnd(Protocol):
    """A server callers reach the assistant through."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Telephony:
    """The worker's voice service and its front-ends. Every call counts against one limit (config.yml
    `runtime.max_calls`, the call threads' number too); a call over it is refused."""

    def __init__(self, voice: VoiceService) -> None:
        self.voice = voice
        self.max_calls = int(voice.config.section("runtime").get("max_calls", 32))
        self.limit = CallLimit(self.max_calls)
        section = voice.config.section("telephony")
        self.settings = LineSettings.from_config(section)
        self.trunk = trunk_address(section)
        self.dialing = dial_settings(section)
        self.dialer: CallbackDialer | None = None  # made with the SIP front-end when there is a trunk
        self.agent_phones = bridge_settings(section)
        self.bridge: AgentBridge | None = None  # made with the SIP front-end: agents' phones take its calls
        self.watching = watch_settings(voice.config.section("cluster"))

    def warm(self) -> None:
        """Loads now what the first call would otherwise wait for: the NLU process, Whisper at the
        telephone rate (one decode), the voice and the dialogs' database."""
        voice = self.voice
        _ = voice.understanding
        transcribe(voice.recognizer(TELEPHONE_RATE), bytes(TELEPHONE_RATE * 2))
        voice.synthesizer.synthesize("您好。")
        _ = voice.dialogs

    def sip(self, address: Address) -> FrontEnd:
        sip = _sip("--sip")
        if self.trunk is None:
            server = sip.SipServer(address.host, address.port, self.open_call, self.max_calls)
            self.bridge = AgentBridge(self.voice.dialogs.queue, server, self.agent_phones)
            return server
        callbacks = self.voice.dialogs.callbacks
        server = sip.SipServer(address.host, address.port, callback_opener(callbacks, self.open_call),
                               self.max_calls, trunk=str(self.trunk))
        self.dialer = CallbackDialer(callbacks, server, self._callback_function(), self.dialing)
        self.bridge = AgentBridge(self.voice.dialogs.queue, server, self.agent_phones)
        return server

    @cached_property
    def open_call(self) -> CallOpener:
        """The voice service's opener, its calls recorded under this worker's id with their line's id."""
        store = self.voice.dialogs.store
        store.worker = self.watching.worker
        return line_noting(store, self.voice.open_call)

    def _callback_function(self) -> str:
        """What an answered callback opens with: the catalog's hand-off at the caller's request."""
        function = next((f for f in self.voice.catalog.functions.values() if f.handoff == CALLER_REQUEST), None)
        if function is None:
            raise AssistantError(f"intents/: no function hands off for {CALLER_REQUEST}: answered callbacks "
                                 "need one to wait for an agent")
        return function.id

    def audiosocket(self, address: Address) -> AudioSocketServer:
        return AudioSocketServer(address.host, address.port, self.open_call, self.limit, self.settings)

    def media_streams(self, address: Address) -> MediaStreamServer:
        """The media-stream socket, and the browser softphone's page and socket on the same HTTP server."""
        return MediaStreamServer(address.host, address.port, self.open_call, self.limit, self.settings,
                                 [softphone_router(self.open_call)])

    async def serve(self, front_ends: list[tuple[str, Address, FrontEnd]], stop: asyncio.Event,
                    listening: Callable[[str], None]) -> None:
        """Starts each front-end (`listening` gets one line for each), runs until `stop` is set, then
        stops them: calls in progress are hung up and their dialogs closed."""
        started: list[FrontEnd] = []
        dialling: asyncio.Task[Any] | None = None
        bridging: asyncio.Task[Any] | None = None
        watch = WorkerWatch(self.voice.dialogs.store, self.voice.dialogs.callbacks, self.watching)
        watching: asyncio.Task[Any] | None = None
        try:
            for name, address, server in front_ends:
                try:
                    await server.start()
                except OSError as error:
                    raise AssistantError(f"{name}: cannot listen on {address} ({error.strerror or error})") from None
                started.append(server)
                listening(_listening_line(name, address, server))
            watching = asyncio.create_task(watch.run(stop))
            listening(f"worker {self.watching.worker}: heartbeat every {self.watching.beat_s:g} s")
            if self.dialer is not None:
                dialling = asyncio.create_task(self.dialer.run(stop))
                listening(f"callbacks dialled through {self.trunk} when due (at most {self.dialing.at_once} at once)")
            elif self.trunk is not None:
                log.warning("telephony.trunk is set but no --sip: callbacks are not dialled")
            if self.bridge is not None:
                bridging = asyncio.create_task(self.bridge.run(stop))
                listening(f"agents' phones take the SIP calls of tickets they take (looked for every "
                          f"{self.agent_phones.every_s:g} s)")
            await stop.wait()
        finally:
            if bridging is not None:
                stop.set()
                await bridging
            if watching is not None:
                stop.set()
                await watching
            if dialling is not None:
                stop.set()
                await dialling  # no new dials; those under way are hung up with the SIP front-end
            for server in reversed(started):
                await server.stop()
            if self.dialer is not None:
                await asyncio.to_thread(self.dialer.close)  # their outcomes recorded
            if self.bridge is not None:
                await asyncio.to_thread(self.bridge.close)


def open_dialer(config: Config) -> SipDialer:
    """The trunk's Dialer for a synchronous process that only dials (`assistant campaign run`): a SIP
    front-end at config.yml `telephony.dial_from` (an address the trunk can reach) whose answered calls
    talk to the assistant, on an event loop of its own in a background thread. The models are loaded
    before it returns; `close()` it when done."""
    sip = _sip("outbound calls")
    section = config.section("telephony")
    trunk = trunk_address(section)
    if trunk is None:
        raise AssistantError(sip.NO_TRUNK)
    local = Address.parse(str(section.get("dial_from") or DIAL_FROM), "config.yml telephony.dial_from")
    from assistant.runtime.voice import VoiceService

    worker = Telephony(VoiceService(config))
    worker.warm()
    calls = _Recorded(worker.voice.open_call)
    server = sip.SipServer(local.host, local.port, calls, worker.max_calls, trunk=str(trunk))
    # A preview or progressive campaign's answered call is its agent's ticket: put through to their phone.
    return SipDialer(server, calls, AgentBridge(worker.voice.dialogs.queue, server, worker.agent_phones))


class SipDialer:
    """A Dialer for plain threads: `originate` from any of them (each blocks for its call) while the SIP
    front-end runs on its own event loop. An answered call's `Dialed.call_id` is its record in the call
    store, where a campaign reads what the call came to."""

    def __init__(self, server: SipServer, calls: _Recorded, bridge: AgentBridge | None = None) -> None:
        self.server = server
        self.calls = calls
        self.bridge = bridge
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="dialer", daemon=True)
        self.thread.start()
        self.stop = asyncio.Event()
        self.bridging: concurrent.futures.Future[None] | None = None
        try:
            self._run(server.start())
        except BaseException:
            self._stop_loop()
            raise
        if bridge is not None:
            self.bridging = asyncio.run_coroutine_threadsafe(bridge.run(self.stop), self.loop)

    def originate(self, call: OutboundCall, ring_timeout_s: float = 30.0) -> Dialed:
        dialed = self.server.originate(call, ring_timeout_s)
        return replace(dialed, call_id=self.calls.record(dialed.call_id))

    def close(self) -> None:
        """Hangs up the calls still in progress and stops the SIP front-end (blocking); once is enough."""
        if self.loop.is_closed():
            return
        try:
            if self.bridging is not None:
                self.loop.call_soon_threadsafe(self.stop.set)
                self.bridging.result()
            self._run(self.server.stop())
            if self.bridge is not None:
                self.bridge.close()  # the agents' legs still ringing, answered or not
        finally:
            self._stop_loop()

    def _run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class _Recorded:
    """The voice service's call opener, noting each outbound call's record in the call store by its SIP Call-ID."""

    def __init__(self, open_call: CallOpener) -> None:
        self.open_call = open_call
        self.records: dict[str, str] = {}

    def __call__(self, call: CallStarted, sink: AudioSink | None) -> CallSession:
        session = self.open_call(call, sink)
        if call.direction == OUTBOUND:
            self.records[call.call_id] = record_id(session)
        return session

    def record(self, call_id: str) -> str:
        """The call store's id of the call `call_id` (a call never answered has none: `call_id` itself)."""
        return self.records.pop(call_id, call_id)


def _sip(wanted: str) -> ModuleType:
    """The SIP front-end's module, loaded here, not at the top: the SIP stack loads only when SIP is asked for."""
    try:
        from assistant.transports import sip
    except ImportError as error:
        raise AssistantError(f"{wanted}: the SIP front-end cannot be loaded ({error})") from None
    return sip


def trunk_address(section: dict[str, Any]) -> Address | None:
    """$ASSISTANT_TRUNK, else config.yml `telephony.trunk`: the SIP peer of outbound calls (None: none)."""
    variable = os.environ.get(TRUNK_VARIABLE, "").strip()
    text = variable or str(section.get("trunk") or "").strip()
    if not text:
        return None
    return Address.peer(text, f"${TRUNK_VARIABLE}" if variable else "config.yml telephony.trunk")


def dial_settings(section: dict[str, Any]) -> DialSettings:
    """config.yml `telephony.ring_s` and `telephony.callbacks`."""
    ring = numbers_above_zero(DialSettings, {"ring_s": section["ring_s"]} if "ring_s" in section else {}, "telephony")
    return numbers_above_zero(DialSettings, section.get("callbacks"), "telephony: callbacks", ring_s=ring.ring_s)


def _listening_line(name: str, address: Address, server: FrontEnd) -> str:
    bound = Address(address.host, getattr(server, "port", address.port))  # the port taken when 0 was given
    hint = _HINTS.get(name)
    return f"{name} listening on {bound}" + (f" ({hint.format(address=bound)})" if hint else "")


# How a peer reaches each front-end, printed with its address.
_HINTS = {"audiosocket": "Asterisk dialplan: AudioSocket(${{UUID()}},{address})",
          "media-streams": "ws://{address}" + PATH + "; the softphone: http://{address}/softphone"}
