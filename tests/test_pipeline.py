"""The call pipeline: frames through processors, from a caller's recording to reply audio."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.core.audio import Audio, chunks, read_wav
from assistant.core.frames import (
    AudioChunk,
    DialogTurn,
    EndOfCall,
    FinalTranscript,
    Frame,
    IntentResult,
    Interruption,
    ReplyText,
    SpeechPaused,
    SpeechStarted,
    SpeechStopped,
    SynthesizedAudio,
)
from assistant.core.pipeline import Pipeline, Processor
from assistant.speech.asr.whisper import WhisperStream
from assistant.speech.engines import synthesizer_for
from assistant.speech.speaker import Speaker
from assistant.speech.tts.prompt_cache import PromptCache


class Collect(Processor):
    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def process(self, frame: Frame) -> Iterator[Frame]:
        self.frames.append(frame)
        yield frame

    def of(self, kind: type) -> list[Any]:
        return [f for f in self.frames if isinstance(f, kind)]

    def first_index(self, kind: type) -> int:
        return next(i for i, f in enumerate(self.frames) if isinstance(f, kind))


class Echo(Processor):
    """Turns typed text into a reply: enough to see how frames move."""

    def process(self, frame: Frame) -> Iterator[Frame]:
        yield frame
        if isinstance(frame, FinalTranscript):
            yield ReplyText(f"你说了{frame.text}")


def test_frames_pass_depth_first_in_order() -> None:
    seen = Collect()
    out = Pipeline([Echo(), seen]).push(FinalTranscript("余额"))
    assert out == [FinalTranscript("余额"), ReplyText("你说了余额")]
    assert seen.frames == out
    assert Pipeline([seen]).push(EndOfCall()) == [EndOfCall()]  # frames nobody handles pass through


def test_speaker_speaks_sentence_by_sentence_and_stops_for_the_caller(config: Any, tmp_path: Path) -> None:
    synth = synthesizer_for("espeak-cmn", config)
    cache = PromptCache(synth, tmp_path)
    fixed = frozenset({"请问买入哪只股票？"})
    seen = Collect()
    pipeline = Pipeline([Speaker(synth, cache, fixed), seen])
    pipeline.push(ReplyText("好的，买入贵州茅台。请问买入哪只股票？"))
    audio = seen.of(SynthesizedAudio)
    assert [a.text for a in audio] == ["好的，买入贵州茅台。", "请问买入哪只股票？"]
    assert all(len(a.pcm) > synth.sample_rate // 5 for a in audio)  # each is real speech, > 0.1 s
    assert cache.path_for("请问买入哪只股票？").is_file()  # the fixed prompt was cached ...
    assert not cache.path_for("好的，买入贵州茅台。").exists()  # ... the caller's details never are
    out = pipeline.push(SpeechStarted(t=1.0, preroll=b"", sample_rate=16000))
    assert isinstance(out[0], Interruption)  # barge-in overtakes the frame that caused it


class CountingWhisper:
    """The real whisper recogniser, counting its decodes."""

    def __init__(self, recognizer: Any) -> None:
        self.inner, self.decodes = recognizer, 0
        self.name, self.sample_rate, self.decodes_at_end = recognizer.name, recognizer.sample_rate, True

    def decode(self, pcm: bytes) -> str:
        self.decodes += 1
        return self.inner.decode(pcm)

    def stream(self) -> WhisperStream:
        return WhisperStream(self)  # type: ignore[arg-type]


def feed(pipeline: Pipeline, audio: Audio) -> None:
    for t, pcm in chunks(audio, 30):
        pipeline.push(AudioChunk(pcm, audio.sample_rate, t))
    pipeline.push(AudioChunk(bytes(audio.sample_rate * 2), audio.sample_rate, audio.seconds))
    pipeline.push(EndOfCall())


@pytest.mark.slow
@pytest.mark.parametrize("channel", ["clean", "phone"])
def test_recording_to_reply_audio(assistant: Any, banking_dev: list, channel: str) -> None:
    request = next(r for r in banking_dev if r.channel == channel and r.utterance == "我想买入股票")
    audio = read_wav(request.path)
    assert audio.sample_rate == {"clean": 16000, "phone": 8000}[channel]  # fed at its own rate
    seen = Collect()
    pipeline = assistant.pipeline(audio.sample_rate, [seen], speak=True)
    counting = CountingWhisper(assistant.recognizer(audio.sample_rate))
    transcriber = next(p for p in pipeline.processors if type(p).__name__ == "Transcriber")
    transcriber.recognizer = counting
    feed(pipeline, audio)

    order = [SpeechStarted, SpeechPaused, SpeechStopped, FinalTranscript, IntentResult, ReplyText, SynthesizedAudio]
    indexes = [seen.first_index(kind) for kind in order]
    assert indexes == sorted(indexes)
    assert len(seen.of(SpeechStarted)) == len(seen.of(SpeechStopped)) == 1
    stopped = seen.of(SpeechStopped)[0]
    assert 0.3 <= seen.of(SpeechStarted)[0].t < 0.7 and stopped.t < audio.seconds  # 0.4 s of silence first
    assert stopped.decided_t - stopped.t == pytest.approx(0.7, abs=0.05)  # end_ms of silence closes it
    assert seen.of(IntentResult)[0].function == "stock_buy"
    assert seen.of(DialogTurn)[0].turn.function == "stock_buy"  # what it says depends on the caller and the hour
    # Whisper decoded once, during the end-of-utterance silence, and that decode was the transcript
    assert counting.decodes == 1
