"""`assistant telephony`: the front-ends callers reach the assistant through, in one worker process."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console

from assistant.core.errors import AssistantError
from assistant.runtime.address import Address
from domain.config import load_config

if TYPE_CHECKING:
    from assistant.runtime.telephony import FrontEnd, Telephony

err = Console(stderr=True)
ADDRESS = "HOST:PORT"


def telephony(
    sip: Optional[str] = typer.Option(None, "--sip", metavar=ADDRESS, help="answer SIP calls (INVITE to any user) here"),
    audiosocket: Optional[str] = typer.Option(None, "--audiosocket", metavar=ADDRESS,
                                              help="Asterisk AudioSocket: AudioSocket(${UUID()},HOST:PORT) in the dialplan"),
    media_streams: Optional[str] = typer.Option(None, "--media-streams", metavar=ADDRESS,
                                                help="WebSocket media streams (Twilio's format) at ws://HOST:PORT/media-stream"),
) -> None:
    """Answer calls until interrupted (Ctrl-C or SIGTERM): one line per front-end listening, then one
    log line per call answered and ended. Calls use the configured database ($ASSISTANT_DATABASE, else
    config.yml dialog.database); the call limit is config.yml runtime.max_calls."""
    wanted = [(name, Address.parse(text, option)) for name, option, text in
              (("sip", "--sip", sip), ("audiosocket", "--audiosocket", audiosocket),
               ("media-streams", "--media-streams", media_streams)) if text is not None]
    if not wanted:
        raise AssistantError("no front-end given: use --sip, --audiosocket and/or --media-streams HOST:PORT")
    logging.getLogger("assistant.transports").setLevel(logging.INFO)  # each call answered and ended
    from assistant.runtime.telephony import Telephony
    from assistant.runtime.voice import VoiceService

    with err.status("Loading the models and connecting to the NLU process (first start ~30 s)"):
        worker = Telephony(VoiceService(load_config()))
        makers = {"sip": worker.sip, "audiosocket": worker.audiosocket, "media-streams": worker.media_streams}
        front_ends = [(name, address, makers[name](address)) for name, address in wanted]
        worker.warm()
    asyncio.run(_serve(worker, front_ends))
    print("stopped", file=sys.stderr, flush=True)


async def _serve(worker: Telephony, front_ends: list[tuple[str, Address, FrontEnd]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await worker.serve(front_ends, stop, lambda line: print(line, flush=True))
