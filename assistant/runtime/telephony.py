"""One telephony worker: a voice service and the front-ends callers reach it through (SIP, Asterisk
AudioSocket, WebSocket media streams), all in one process and one event loop, on the configured
database (several workers may share one PostgreSQL). `assistant telephony` runs it."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from assistant.core.errors import AssistantError
from assistant.runtime.address import Address
from assistant.speech.asr.base import transcribe
from assistant.transports.audiosocket import AudioSocketServer
from assistant.transports.line import CallLimit, LineSettings
from assistant.transports.media_streams import PATH, MediaStreamServer
from assistant.transports.softphone import softphone_router

if TYPE_CHECKING:  # the voice service's modules load the models' libraries: not needed to read options
    from assistant.runtime.voice import VoiceService

log = logging.getLogger(__name__)

TELEPHONE_RATE = 8000  # every front-end here carries 8 kHz audio


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
        self.settings = LineSettings.from_config(voice.config.section("telephony"))

    def warm(self) -> None:
        """Loads now what the first call would otherwise wait for: the NLU process, Whisper at the
        telephone rate (one decode), the voice and the dialogs' database."""
        voice = self.voice
        _ = voice.understanding
        transcribe(voice.recognizer(TELEPHONE_RATE), bytes(TELEPHONE_RATE * 2))
        voice.synthesizer.synthesize("您好。")
        _ = voice.dialogs

    def sip(self, address: Address) -> FrontEnd:
        try:  # here, not at the top: the SIP stack loads only when SIP is asked for
            from assistant.transports.sip import SipServer
        except ImportError as error:
            raise AssistantError(f"--sip: the SIP front-end cannot be loaded ({error})") from None
        return SipServer(address.host, address.port, self.voice.open_call, self.max_calls)

    def audiosocket(self, address: Address) -> AudioSocketServer:
        return AudioSocketServer(address.host, address.port, self.voice.open_call, self.limit, self.settings)

    def media_streams(self, address: Address) -> MediaStreamServer:
        """The media-stream socket, and the browser softphone's page and socket on the same HTTP server."""
        return MediaStreamServer(address.host, address.port, self.voice.open_call, self.limit, self.settings,
                                 [softphone_router(self.voice.open_call)])

    async def serve(self, front_ends: list[tuple[str, Address, FrontEnd]], stop: asyncio.Event,
                    listening: Callable[[str], None]) -> None:
        """Starts each front-end (`listening` gets one line for each), runs until `stop` is set, then
        stops them: calls in progress are hung up and their dialogs closed."""
        started: list[FrontEnd] = []
        try:
            for name, address, server in front_ends:
                try:
                    await server.start()
                except OSError as error:
                    raise AssistantError(f"{name}: cannot listen on {address} ({error.strerror or error})") from None
                started.append(server)
                listening(_listening_line(name, address, server))
            await stop.wait()
        finally:
            for server in reversed(started):
                await server.stop()


def _listening_line(name: str, address: Address, server: FrontEnd) -> str:
    bound = Address(address.host, getattr(server, "port", address.port))  # the port taken when 0 was given
    hint = _HINTS.get(name)
    return f"{name} listening on {bound}" + (f" ({hint.format(address=bound)})" if hint else "")


# How a peer reaches each front-end, printed with its address.
_HINTS = {"audiosocket": "Asterisk dialplan: AudioSocket(${{UUID()}},{address})",
          "media-streams": "ws://{address}" + PATH + "; the softphone: http://{address}/softphone"}
