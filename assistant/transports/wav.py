"""Recordings as the caller's end of a call: a WAV file played in at the rate a call would carry it,
the reply audio kept as a WAV file, and a recording heard as a call hears it.

`hear_recording` pushes a recording in at its own rate through the Vad → Transcriber → UnderstandingStage
stages of the voice service's `hearing`, then a second of silence (as `assistant chat --wav` plays
it). `assistant route --wav` and `assistant nlu test --voice` both hear recordings this way, so what
they report is what a caller saying the same would get.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core.audio import STREAM_RATES, Audio, chunks, read_wav, resample, write_wav
from assistant.core.frames import AudioChunk, EndOfCall, FinalTranscript, Frame, IntentResult, SynthesizedAudio
from assistant.core.pipeline import Pipeline, Processor


class Recorder(Processor):
    """Keeps the reply audio and writes it to a WAV file when the call ends."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        self.path, self.rate, self.pcm = path, sample_rate, bytearray()

    def process(self, frame: Frame) -> Iterator[Frame]:
        if isinstance(frame, SynthesizedAudio):
            self.pcm += resample(Audio(frame.pcm, frame.sample_rate), self.rate).pcm
        elif isinstance(frame, EndOfCall) and self.pcm:
            write_wav(self.path, Audio(bytes(self.pcm), self.rate))
        yield frame


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
