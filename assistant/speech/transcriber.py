"""Speech to text inside the pipeline: one recogniser stream per utterance.

For recognisers that only decode at the end (Whisper), decoding starts speculatively as soon as the
caller pauses (SpeechPaused). If the caller says nothing more before the utterance closes, that result
is the transcript and the decode has already run during the end-of-utterance silence; if they go on,
it is only shown as a partial. Decodes of every call queue at one shared worker (speech/workers.py).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future

from assistant.core.audio import Audio, resample
from assistant.core.frames import (
    AudioChunk,
    FinalTranscript,
    Frame,
    PartialTranscript,
    SpeechPaused,
    SpeechStarted,
    SpeechStopped,
)
from assistant.core.pipeline import Processor
from assistant.speech.asr.base import Recognizer, RecognizerStream, transcribe
from assistant.speech.workers import SpeechWorker


class Transcriber(Processor):
    def __init__(self, recognizer: Recognizer, normalize: Callable[[str], str], worker: SpeechWorker) -> None:
        self.recognizer = recognizer
        self.worker = worker
        self.normalize = normalize
        self.at_end = getattr(recognizer, "decodes_at_end", False)
        self.stream: RecognizerStream | None = None  # streaming recognisers only
        self.audio: Audio | None = None  # this utterance at the caller's rate (decode-at-end ones)
        self.speculation: tuple[float, Future[str]] | None = None
        self.shown: Future[str] | None = None  # the speculation already shown as a partial

    def process(self, frame: Frame) -> Iterator[Frame]:
        yield frame
        if isinstance(frame, SpeechStarted):
            self.speculation = None
            if self.at_end:
                self.audio = Audio(frame.preroll, frame.sample_rate)
            else:
                self.stream = self.recognizer.stream()
                yield from self._partial(self.stream.accept(self._at_rate(Audio(frame.preroll, frame.sample_rate))))
        elif isinstance(frame, AudioChunk):
            if self.audio:
                self.audio = Audio(self.audio.pcm + frame.pcm, frame.sample_rate)
                yield from self._speculation_as_partial()
            elif self.stream:
                yield from self._partial(self.stream.accept(self._at_rate(Audio(frame.pcm, frame.sample_rate))))
        elif isinstance(frame, SpeechPaused) and self.audio:
            self.speculation = (frame.t, self._submit(self.audio))
        elif isinstance(frame, SpeechStopped) and (self.audio or self.stream):
            raw = self._final(frame.t)
            self.audio = self.stream = None
            yield FinalTranscript(text=self.normalize(raw), raw=raw)

    def _speculation_as_partial(self) -> Iterator[Frame]:
        """What the caller said up to their last pause, once its decode is done: a live partial."""
        future = self.speculation[1] if self.speculation else None
        if future and future.done() and future is not self.shown:
            self.shown = future
            yield from self._partial(future.result())

    def _at_rate(self, audio: Audio) -> bytes:
        return resample(audio, self.recognizer.sample_rate).pcm

    def _submit(self, audio: Audio) -> Future[str]:
        """A decode of `audio` queued at the shared worker; a recogniser that decodes batches is
        given its decodes to batch with other calls' (of the same recogniser) waiting beside them."""
        pcm = self._at_rate(audio)
        batch = getattr(self.recognizer, "decode_batch", None)
        if batch is not None:
            return self.worker.submit_batched(batch, pcm)
        return self.worker.submit(transcribe, self.recognizer, pcm)

    def _partial(self, text: str | None) -> Iterator[Frame]:
        if text:
            yield PartialTranscript(self.normalize(text))

    def _final(self, last_voice: float) -> str:
        if self.stream:
            return self.stream.finish()
        if self.speculation:
            paused_at, future = self.speculation
            if paused_at == last_voice:
                return future.result()  # nothing voiced since the pause: same words
            future.cancel()  # stale: if it has not started, no decode is spent on it
        return self._submit(self.audio).result()
