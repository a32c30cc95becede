"""faster-whisper (CTranslate2, int8 on CPU) decoding whole utterances.

Whisper is not a streaming model: it encodes a fixed 30 s window, so each decode costs about the same
whatever the utterance length. The Transcriber hides that by decoding speculatively when the caller
pauses; this module only decodes.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel

from assistant.audio import to_float
from assistant.errors import ModelNotFoundError

# Whisper's usual guards against decoding noise or silence into text.
_NO_SPEECH = 0.6
_LOW_LOGPROB = -1.0
_NOT_WORD = re.compile(r"[\W_]+")
# Silence appended to every utterance. Cut at a pause, a phone utterance ends 150 ms after its last
# word, and Whisper then often mishears that word (我要卖股票 → 我要买股票); with half a second of
# silence after it, 34 of banking_dev's 38 telephone requests route right instead of 29.
_TAIL_SILENCE_S = 0.5


@lru_cache(maxsize=None)
def _load_model(model_path: Path, compute_type: str, threads: int) -> WhisperModel:
    # Shared by the recognisers of every stream rate: all decode 16 kHz audio.
    return WhisperModel(str(model_path), device="cpu", compute_type=compute_type, cpu_threads=threads)


def copied_from_prompt(text: str, prompt: str, canary: str) -> bool:
    """True when a transcript looks copied from the prompt rather than heard: it holds two characters
    in a row of the canary sentence, it is nothing but a stretch of the prompt (是的 heard as 贵州茅),
    or it enumerates with 、 as the prompt does and names something from it."""
    if any(canary[i : i + 2] in text for i in range(len(canary) - 1)):
        return True
    prompt = _NOT_WORD.sub("", prompt)
    pieces = [p for p in _NOT_WORD.split(text) if p]
    if "、" in text:
        return any(len(p) > 1 and p in prompt for p in pieces)
    return bool(pieces) and "".join(pieces) in prompt


class WhisperRecognizer:
    name = "whisper"
    sample_rate = 16000
    decodes_at_end = True  # no partials while audio arrives: worth decoding speculatively at pauses

    def __init__(
        self,
        model_path: Path,
        prompt: str | None = None,
        canary: str | None = None,
        compute_type: str = "int8",
        beam_size: int = 5,
        threads: int = 2,
        language: str = "zh",
    ) -> None:
        if not (model_path / "model.bin").is_file():
            raise ModelNotFoundError(f"no Whisper model in {model_path} (expected model.bin there)")
        self.model = _load_model(model_path.resolve(), compute_type, threads)
        self.prompt = prompt
        self.canary = canary
        self.beam_size = beam_size
        self.language = language

    def decode(self, pcm: bytes) -> str:
        if len(pcm) < self.sample_rate // 10 * 2:  # under 0.1 s: nothing Whisper can read
            return ""
        audio = np.concatenate([to_float(pcm), np.zeros(int(_TAIL_SILENCE_S * self.sample_rate), np.float32)])
        text = self._decode(audio, self.prompt)
        if self.prompt and copied_from_prompt(text, self.prompt, self.canary or ""):
            # the prompt leaked into the transcript: decode again with only the canary, which keeps
            # Whisper in simplified Mandarin without offering it domain words to copy
            text = self._decode(audio, f"{self.canary}。" if self.canary else None)
        return text

    def _decode(self, audio: np.ndarray, prompt: str | None) -> str:
        segments, _ = self.model.transcribe(
            audio,
            language=self.language,
            beam_size=self.beam_size,
            initial_prompt=prompt,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            # No temperature fallback: on noisy calls it re-decodes up to five times with sampling,
            # taking 10 s or more and giving a different transcript on every run.
            temperature=0.0,
        )
        return "".join(
            s.text for s in segments if not (s.no_speech_prob > _NO_SPEECH and s.avg_logprob < _LOW_LOGPROB)
        ).strip()

    def stream(self) -> WhisperStream:
        return WhisperStream(self)


class WhisperStream:
    def __init__(self, recognizer: WhisperRecognizer) -> None:
        self.recognizer = recognizer
        self.audio = bytearray()

    def accept(self, pcm: bytes) -> str | None:
        self.audio += pcm
        return None

    def finish(self) -> str:
        return self.recognizer.decode(bytes(self.audio))
