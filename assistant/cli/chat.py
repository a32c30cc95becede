"""`assistant chat`: the call pipeline fed by the microphone, a recording or typed lines."""
from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.core.errors import AssistantError
from assistant.core.frames import (
    CallStarted,
    DialogTurn,
    EndOfCall,
    Frame,
    PartialTranscript,
)
from assistant.core.pipeline import Processor
from assistant.transports.text import KEYS_PREFIX, typed_frames
from assistant.transports.wav import Recorder, call_audio, play_recording
from domain.redaction import redact

log = logging.getLogger(__name__)


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
             as_json: bool = False, caller: str | None = None) -> None:
    """`as_json`: turns as JSON lines on stdout, hints on stderr; `caller`: the caller id."""
    console = Console(stderr=as_json, soft_wrap=True)  # one line per frame, however long: scripts read them
    audio_cfg = assistant.config.section("audio")
    backend = audio_cfg.get("backend", "sounddevice")
    rate = 16000
    if wav:
        recording = call_audio(wav)
        rate = recording.sample_rate
    outputs: list[Processor] = [JsonView() if as_json else ConsoleView(console)]
    if save:
        outputs.append(Recorder(save, 16000))
    if speak:
        outputs.append(_loudspeaker(backend, required=not (text or wav)))
    pipeline = assistant.pipeline(rate, [o for o in outputs if o], speak=bool(speak or save),
                                  caller=caller, listen=not text)
    channel = "text" if text else "wav" if wav else "local"
    pipeline.push(CallStarted(call_id=uuid.uuid4().hex, caller=caller, sample_rate=rate, channel=channel))
    try:
        if text:
            console.print(f"[dim]Type what a caller would say ({KEYS_PREFIX}123# for key presses); "
                          "an empty line or Ctrl-D ends.[/dim]")
            for line in sys.stdin:
                if not line.strip():
                    break
                for frame in typed_frames(line.strip(), assistant.normalizer.normalize, assistant.understanding.limits):
                    pipeline.push(frame)
        elif wav:
            play_recording(pipeline, recording, audio_cfg.get("chunk_ms", 30))
        else:
            from assistant.transports.local import Microphone

            console.print("[dim]Speak now; Ctrl-C ends.[/dim]")
            for chunk in Microphone(rate, audio_cfg.get("chunk_ms", 30), backend):
                pipeline.push(chunk)
    except KeyboardInterrupt:
        pass
    finally:
        pipeline.push(EndOfCall())


def _loudspeaker(backend: str, required: bool) -> Processor | None:
    from assistant.transports.local import Loudspeaker

    try:
        return Loudspeaker(16000, backend)
    except AssistantError as error:
        if required:
            raise
        log.warning("%s; replies are not played (use --save FILE to keep them)", error)
        return None
