"""A recording heard as a call hears it: pushed in at its own rate through the Vad → Transcriber →
Understander stages of `Assistant.hearing`, then a second of silence (as `assistant chat --wav` plays
it). `assistant route --wav` and `assistant nlu test --voice` both hear recordings this way, so what
they report is what a caller saying the same would get.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.frames import EndOfCall, FinalTranscript, Frame, IntentResult
from assistant.pipeline import Pipeline, Processor


@dataclass(frozen=True)
class HeardRecording:
    transcripts: list[str]  # one per utterance the VAD cut
    result: IntentResult

    @property
    def transcript(self) -> str:
        return "".join(self.transcripts)


def hear_recording(assistant: Any, path: Path) -> HeardRecording:
    """What the assistant understands of a recording. When the VAD cuts it into several utterances
    (or none), the transcripts, joined, are understood once: a recording is one request."""
    from assistant.chat import call_audio, play_recording

    recording = call_audio(path)
    heard = _Heard()
    pipeline = Pipeline([*assistant.hearing(recording.sample_rate), heard])
    play_recording(pipeline, recording, assistant.config.section("audio").get("chunk_ms", 30))
    pipeline.push(EndOfCall())
    transcripts = [t.text for t in heard.transcripts]
    if len(transcripts) == 1 and heard.intents:
        result = heard.intents[0]
    else:
        result = assistant.understanding.understand("".join(transcripts), normalized=True)
    return HeardRecording(transcripts, result)


class _Heard(Processor):
    """The last stage: keeps the transcripts and the intents."""

    def __init__(self) -> None:
        self.transcripts: list[FinalTranscript] = []
        self.intents: list[IntentResult] = []

    def process(self, frame: Frame) -> Iterator[Frame]:
        if isinstance(frame, FinalTranscript):
            self.transcripts.append(frame)
        elif isinstance(frame, IntentResult):
            self.intents.append(frame)
        yield frame
