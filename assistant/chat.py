"""`assistant chat`: the call pipeline fed by the microphone, a recording or typed lines."""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.audio import STREAM_RATES, Audio, chunks, read_wav, write_wav
from assistant.errors import AssistantError
from assistant.frames import (
    AudioChunk,
    EndOfCall,
    FinalTranscript,
    Frame,
    IntentResult,
    PartialTranscript,
    ReplyText,
    SynthesizedAudio,
)
from assistant.pipeline import Processor

log = logging.getLogger(__name__)


class ConsoleView(Processor):
    """Shows the call as it happens: live partials, what was heard, where it went, the reply."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def process(self, frame: Frame) -> Iterator[Frame]:
        c = self.console
        if isinstance(frame, PartialTranscript):
            c.print(f"[dim]… {frame.text}[/dim]", highlight=False)
        elif isinstance(frame, FinalTranscript):
            c.print(f"[bold]caller:[/bold] {frame.text}", highlight=False)
        elif isinstance(frame, IntentResult):
            c.print(f"[cyan]  → {frame.function or '-'} ({frame.intent} {frame.confidence:.2f}) {frame.slots}[/cyan]", highlight=False)
        elif isinstance(frame, ReplyText):
            c.print(f"[green]assistant:[/green] {frame.text}", highlight=False)
        yield frame


class Recorder(Processor):
    """Keeps the reply audio and writes it to a WAV file when the call ends."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        self.path, self.rate, self.pcm = path, sample_rate, bytearray()

    def process(self, frame: Frame) -> Iterator[Frame]:
        from assistant.audio import resample

        if isinstance(frame, SynthesizedAudio):
            self.pcm += resample(Audio(frame.pcm, frame.sample_rate), self.rate).pcm
        elif isinstance(frame, EndOfCall) and self.pcm:
            write_wav(self.path, Audio(bytes(self.pcm), self.rate))
        yield frame


def run_chat(assistant: Any, text: bool, wav: Path | None, speak: bool, save: Path | None) -> None:
    console = Console()
    audio_cfg = assistant.config.section("audio")
    backend = audio_cfg.get("backend", "sounddevice")
    rate = 16000
    if wav:
        recording = read_wav(wav)
        rate = recording.sample_rate if recording.sample_rate in STREAM_RATES else 16000
        recording = read_wav(wav, rate)
    outputs: list[Processor] = [ConsoleView(console)]
    if save:
        outputs.append(Recorder(save, 16000))
    if speak:
        outputs.append(_loudspeaker(backend, required=not (text or wav)))
    pipeline = assistant.pipeline(rate, [o for o in outputs if o], speak=bool(speak or save))
    try:
        if text:
            console.print("[dim]Type what a caller would say; an empty line or Ctrl-D ends.[/dim]")
            for line in sys.stdin:
                if not line.strip():
                    break
                pipeline.push(FinalTranscript(assistant.normalizer.normalize(line.strip()), raw=line.strip()))
        elif wav:
            for t, pcm in chunks(recording, audio_cfg.get("chunk_ms", 30)):
                pipeline.push(AudioChunk(pcm, rate, t))
            silence = bytes(rate * 2)  # a second of silence closes a recording that ends mid-speech
            pipeline.push(AudioChunk(silence, rate, recording.seconds))
        else:
            from assistant.devices import Microphone

            console.print("[dim]Speak now; Ctrl-C ends.[/dim]")
            for chunk in Microphone(rate, audio_cfg.get("chunk_ms", 30), backend):
                pipeline.push(chunk)
    except KeyboardInterrupt:
        pass
    finally:
        pipeline.push(EndOfCall())


def _loudspeaker(backend: str, required: bool) -> Processor | None:
    from assistant.devices import Loudspeaker

    try:
        return Loudspeaker(16000, backend)
    except AssistantError as error:
        if required:
            raise
        log.warning("%s; replies are not played (use --save FILE to keep them)", error)
        return None
