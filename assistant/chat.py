"""`assistant chat`: the call pipeline fed by the microphone, a recording or typed lines."""
from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.audio import STREAM_RATES, Audio, chunks, read_wav, write_wav
from assistant.errors import AssistantError
from assistant.dialog.keypad import END
from assistant.frames import (
    AudioChunk,
    DialogTurn,
    Dtmf,
    EndOfCall,
    FinalTranscript,
    Frame,
    PartialTranscript,
    SynthesizedAudio,
)
from assistant.pipeline import Pipeline, Processor
from assistant.redaction import redact

log = logging.getLogger(__name__)


KEYS_PREFIX = "dtmf:"  # a typed line of key presses: dtmf:147258
KEYS = frozenset("0123456789*#")


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
    try:
        if text:
            console.print(f"[dim]Type what a caller would say ({KEYS_PREFIX}123# for key presses); "
                          "an empty line or Ctrl-D ends.[/dim]")
            for line in sys.stdin:
                if not line.strip():
                    break
                for frame in typed_frames(line.strip(), assistant.normalizer.normalize):
                    pipeline.push(frame)
        elif wav:
            play_recording(pipeline, recording, audio_cfg.get("chunk_ms", 30))
        else:
            from assistant.devices import Microphone

            console.print("[dim]Speak now; Ctrl-C ends.[/dim]")
            for chunk in Microphone(rate, audio_cfg.get("chunk_ms", 30), backend):
                pipeline.push(chunk)
    except KeyboardInterrupt:
        pass
    finally:
        pipeline.push(EndOfCall())


def typed_frames(line: str, normalize: Any) -> list[Frame]:
    """A typed line as the frames a call would carry: what was said, or one Dtmf frame per key.

    A line of keys ends its entry (like the pause after the last key on a phone), so # is added
    when the line does not end with it.
    """
    if not line.startswith(KEYS_PREFIX):
        return [FinalTranscript(normalize(line), raw=line)]
    keys = line[len(KEYS_PREFIX):].strip()
    if not keys or not set(keys) <= KEYS:
        log.warning("ignored a line of keys: keys are 0-9, * and #")  # the line may hold a PIN
        return []
    return [Dtmf(key) for key in keys + ("" if keys.endswith(END) else END)]


def call_audio(path: Path) -> Audio:
    """A recording at the rate a call would carry it: its own if it is a stream rate, else 16 kHz."""
    recording = read_wav(path)
    return recording if recording.sample_rate in STREAM_RATES else read_wav(path, 16000)


def play_recording(pipeline: Pipeline, recording: Audio, chunk_ms: int) -> None:
    """Push a recording in as the caller, chunk by chunk, then a second of silence."""
    rate = recording.sample_rate
    for t, pcm in chunks(recording, chunk_ms):
        pipeline.push(AudioChunk(pcm, rate, t))
    silence = bytes(rate * 2)  # closes a recording that ends mid-speech
    pipeline.push(AudioChunk(silence, rate, recording.seconds))


def _loudspeaker(backend: str, required: bool) -> Processor | None:
    from assistant.devices import Loudspeaker

    try:
        return Loudspeaker(16000, backend)
    except AssistantError as error:
        if required:
            raise
        log.warning("%s; replies are not played (use --save FILE to keep them)", error)
        return None
