"""Voice activity detection and end-of-utterance endpointing with webrtcvad.

An utterance opens after `start_ms` of voiced frames (most of a sliding window, so one click does not
open it) and closes after `end_ms` of unvoiced frames. A caller pausing mid-sentence for less than
`end_ms` stays inside one utterance. `pause_ms` into a silence the detector says so (SpeechPaused), so
the recogniser can start decoding before the utterance is known to be over.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import webrtcvad

from assistant.core.audio import check_stream_rate
from assistant.core.frames import AudioChunk, Frame, SpeechPaused, SpeechStarted, SpeechStopped
from assistant.core.pipeline import Processor

# webrtcvad calls the first ~100 ms of any steady background noise speech while its noise model
# settles; its verdicts are ignored for this long at the start of a stream.
WARMUP_MS = 150
# webrtcvad goes on saying "speech" for ~90 ms after any loud sound (its hangover), so a 30 ms click
# reads as ~120 ms of voice: the start window is start_ms plus that, to need start_ms of real voice.
HANGOVER_MS = 120


@dataclass(frozen=True)
class VadSettings:
    aggressiveness: int = 2
    frame_ms: int = 30
    start_ms: int = 90
    end_ms: int = 700
    preroll_ms: int = 300
    pause_ms: int = 150

    def __post_init__(self) -> None:
        if self.frame_ms not in (10, 20, 30):
            raise ValueError(f"vad frame_ms must be 10, 20 or 30, not {self.frame_ms}")
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError(f"vad aggressiveness must be 0..3, not {self.aggressiveness}")


class Vad(Processor):
    def __init__(self, settings: VadSettings, sample_rate: int) -> None:
        check_stream_rate(sample_rate)
        self.s = settings
        self.rate = sample_rate
        self.detector = webrtcvad.Vad(settings.aggressiveness)
        self.frame_bytes = sample_rate * settings.frame_ms // 1000 * 2
        n = lambda ms: max(1, ms // settings.frame_ms)  # noqa: E731
        self.start_frames, self.end_frames = n(settings.start_ms + HANGOVER_MS), n(settings.end_ms)
        self.pause_frames = n(settings.pause_ms)
        self.warmup_frames = -(-WARMUP_MS // settings.frame_ms)
        # (time, pcm, voiced) of recent frames while idle: the start window and the preroll
        self.recent: deque[tuple[float, bytes, bool]] = deque(maxlen=n(settings.preroll_ms) + self.start_frames)
        self.pending = b""
        self.pending_t = 0.0
        self.speaking = False
        self.silent_frames = 0
        self.last_voiced_end = 0.0

    def process(self, frame: Frame) -> Iterator[Frame]:
        if not isinstance(frame, AudioChunk):
            yield frame
            return
        if frame.sample_rate != self.rate:
            raise ValueError(f"VAD set up for {self.rate} Hz got a {frame.sample_rate} Hz chunk")
        if not self.pending:
            self.pending_t = frame.t
        self.pending += frame.pcm
        yield frame
        while len(self.pending) >= self.frame_bytes:
            pcm, self.pending = self.pending[: self.frame_bytes], self.pending[self.frame_bytes :]
            t = self.pending_t
            self.pending_t += self.s.frame_ms / 1000
            yield from self._frame(t, pcm)

    def _frame(self, t: float, pcm: bytes) -> Iterator[Frame]:
        voiced = self.detector.is_speech(pcm, self.rate)
        if self.warmup_frames:
            self.warmup_frames, voiced = self.warmup_frames - 1, False
        end = t + self.s.frame_ms / 1000
        if not self.speaking:
            self.recent.append((t, pcm, voiced))
            window = list(self.recent)[-self.start_frames :]
            # a full window, starting voiced and mostly voiced: one click does not open an utterance
            opens = len(window) == self.start_frames and window[0][2]
            if opens and sum(v for _, _, v in window) >= max(1, int(0.8 * self.start_frames)):
                self.speaking, self.silent_frames, self.last_voiced_end = True, 0, end
                preroll = b"".join(p for _, p, _ in self.recent)
                self.recent.clear()
                yield SpeechStarted(t=window[0][0], preroll=preroll, sample_rate=self.rate)
            return
        if voiced:
            self.silent_frames, self.last_voiced_end = 0, end
            return
        self.silent_frames += 1
        if self.silent_frames == self.pause_frames and self.pause_frames < self.end_frames:
            yield SpeechPaused(t=self.last_voiced_end)
        if self.silent_frames >= self.end_frames:
            self.speaking = False
            yield SpeechStopped(t=self.last_voiced_end, decided_t=end)

    @staticmethod
    def settings_from(config: dict) -> VadSettings:
        known = VadSettings.__dataclass_fields__
        return VadSettings(**{k: v for k, v in config.items() if k in known})
