"""`assistant chat`: the call pipeline fed by the microphone, a recording or typed lines."""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.core.errors import AssistantError
from assistant.core.frames import (
    INBOUND,
    OUTBOUND,
    CallStarted,
    DialogTurn,
    EndOfCall,
    Frame,
    PartialTranscript,
)
from assistant.core.pipeline import Pipeline, Processor
from assistant.core.session import CallSession
from assistant.transports.local import Loudspeaker, LoudspeakerSink, Microphone, converse
from assistant.transports.text import KEYS_PREFIX, typed_frames
from assistant.transports.wav import Recorder, call_audio, play_recording
from domain.redaction import redact

log = logging.getLogger(__name__)

LIVE_RATE = 16000  # the microphone's rate: what a wideband call carries


class ConsoleView(Processor):
    """Shows the call as it happens: live partials, what was heard, where it went, the reply.

    What was heard is shown as the dialog redacted it (a PIN said or typed never appears), and
    partials, which come before the dialog sees them, without digits.
    """

    def __init__(self, console: Console) -> None:
        self.console = console

    def process(self, frame: Frame) -> Iterator[Frame]:
        c = self.console
        if isinstance(frame, PartialTranscript):
            c.print(f"[dim]… {redact(frame.text, secret=True)}[/dim]", highlight=False)
        elif isinstance(frame, DialogTurn):
            turn = frame.turn
            if turn.heard or turn.intent or turn.function:  # not the greeting, which answers no one
                c.print(f"[bold]caller:[/bold] {turn.heard}", highlight=False)
                done = f" {turn.transaction.action}: {turn.transaction.status}" if turn.transaction else ""
                waiting = f" awaiting {turn.awaiting}" if turn.awaiting else ""
                c.print(f"[cyan]  → {turn.function or '-'} ({turn.intent or 'keys'}) {turn.slots}{done}{waiting}[/cyan]",
                        highlight=False)
            c.print(f"[green]assistant:[/green] {turn.say}", highlight=False)
        yield frame


class JsonView(Processor):
    """One JSON object per assistant turn on stdout, on one line, written as soon as it is decided."""

    def process(self, frame: Frame) -> Iterator[Frame]:
        if isinstance(frame, DialogTurn):
            print(json.dumps(frame.turn.to_json(), ensure_ascii=False), flush=True)
        yield frame


def run_chat(assistant: Any, text: bool, wav: Path | None, speak: bool, save: Path | None,
             as_json: bool = False, caller: str | None = None, outbound: str | None = None) -> None:
    """`as_json`: turns as JSON lines on stdout, hints on stderr; `caller`: the caller id; `outbound`:
    the call is an outbound one that opens with this function (a campaign's script), `caller` the
    number dialled. A turn that ends the call (`hangs_up`) ends the chat once it is shown.

    The microphone is a live call (a CallSession: barge-in stops the loudspeaker at once, a slow decode
    never holds up the microphone); a recording and typed lines have no live clock to keep, so their
    call is driven synchronously."""
    console = Console(stderr=as_json, soft_wrap=True)  # one line per frame, however long: scripts read them
    catalog = assistant.catalog
    if outbound is not None and outbound not in catalog.outbound and outbound not in catalog.functions:
        raise AssistantError(f"--outbound: no function {outbound!r} in intents/ "
                             f"(campaigns' scripts: {', '.join(catalog.outbound) or 'none'})")
    started = {"caller": caller, "direction": OUTBOUND if outbound else INBOUND, "start_function": outbound}
    audio_cfg = assistant.config.section("audio")
    backend = audio_cfg.get("backend", "sounddevice")
    chunk_ms = audio_cfg.get("chunk_ms", 30)
    views: list[Processor] = [JsonView() if as_json else ConsoleView(console)]
    if save:
        views.append(Recorder(save, 16000))
    if not (text or wav):
        call = CallStarted(call_id=uuid.uuid4().hex, sample_rate=LIVE_RATE, channel="local", **started)
        console.print("[dim]Speak now; Ctrl-C ends.[/dim]")
        talk(assistant.open_call, call, Microphone(LIVE_RATE, chunk_ms, backend), views, backend if speak else None)
        return
    recording = call_audio(wav) if wav else None
    rate = recording.sample_rate if recording else 16000
    if speak and (loudspeaker := _loudspeaker(backend)):
        views.append(loudspeaker)
    pipeline = assistant.pipeline(rate, views, speak=bool(speak or save), caller=caller,
                                  listen=not text)
    opening = pipeline.push(CallStarted(call_id=uuid.uuid4().hex, sample_rate=rate,
                                        channel="text" if text else "wav", **started))
    try:
        if _hangs_up(opening):
            console.print("[dim]The assistant hung up.[/dim]")
        elif recording:
            play_recording(pipeline, recording, chunk_ms)
        else:
            console.print(f"[dim]Type what a caller would say ({KEYS_PREFIX}123# for key presses); "
                          "an empty line or Ctrl-D ends.[/dim]")
            for line in sys.stdin:
                if not line.strip():
                    break
                frames = typed_frames(line.strip(), assistant.normalizer.normalize, assistant.understanding.limits)
                if any(_hangs_up(pipeline.push(frame)) for frame in frames):  # keys after it are not pressed
                    console.print("[dim]The assistant hung up.[/dim]")
                    break
    except KeyboardInterrupt:
        pass
    finally:
        pipeline.push(EndOfCall())


def _hangs_up(frames: list[Frame]) -> bool:
    """Whether a turn among `frames` (what left the pipeline) ends the call."""
    return any(isinstance(frame, DialogTurn) and frame.turn.hangs_up for frame in frames)


def talk(open_call: Callable[..., CallSession], call: CallStarted, microphone: Microphone,
         views: list[Processor], backend: str | None) -> None:
    """A live call from the microphone until Ctrl-C (or until it ends by itself): the reply on the
    loudspeaker of `backend` (none: not played), every frame leaving the call's processors through
    `views`, on the event loop."""
    sink = LoudspeakerSink(call.sample_rate, backend) if backend else None
    try:
        session = open_call(call, sink, Pipeline(views).push)
        asyncio.run(_until_ctrl_c(session, microphone))
    finally:
        if sink:
            sink.close()


async def _until_ctrl_c(session: CallSession, microphone: Microphone) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, session.push, EndOfCall())  # Ctrl-C hangs up: the call ends cleanly
    try:
        await converse(session, microphone)
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _loudspeaker(backend: str) -> Processor | None:
    """Replies played, if there is a loudspeaker: a recording or typed lines go on without one."""
    try:
        return Loudspeaker(16000, backend)
    except AssistantError as error:
        log.warning("%s; replies are not played (use --save FILE to keep them)", error)
        return None
