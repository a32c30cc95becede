"""faster-whisper (CTranslate2, int8 on CPU) decoding whole utterances.

Whisper is not a streaming model: it encodes a fixed 30 s window, so each decode costs about the same
whatever the utterance length. The Transcriber hides that by decoding speculatively when the caller
pauses; this module only decodes. The beam's runners-up come with the best hypothesis at no extra
cost; when the NLU is unsure of the best one, a runner-up it is sure of is taken instead.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens
from pypinyin import lazy_pinyin
from rapidfuzz.fuzz import ratio

from assistant.core.audio import to_float
from assistant.core.errors import ModelNotFoundError

# Whisper's usual guards against decoding noise or silence into text.
_NO_SPEECH = 0.6
_LOW_LOGPROB = -1.0
_NOT_WORD = re.compile(r"[\W_]+")
# Silence appended to every utterance. Cut at a pause, a phone utterance ends 150 ms after its last
# word, and Whisper then often mishears that word (我要卖股票 → 我要买股票); with half a second of
# silence after it, 34 of banking_dev's 38 telephone requests route right instead of 29.
_TAIL_SILENCE_S = 0.5
# Whisper reads at most this many prompt tokens, the last ones (as faster-whisper keeps them). Today's
# prompt is 268 tokens, so its canary is cut off; given whole, banking_dev routed worse (clean 32, phone 30).
_PROMPT_TOKENS = 223
# Beam search keeps this many hypotheses anyway: asking for them all costs no decode time.
_HYPOTHESES = 5
# Below this NLU confidence a transcript is unsure, and a runner-up the NLU is at least this sure of
# replaces it (卡修委托 → 查询委托); 0.8 keeps 换一首歌 heard as 贵州客 (inform 0.51) out of banking.
_SURE = 0.8
# A runner-up must be nearly as likely to Whisper (mean log probability per token) as the best one.
_MARGIN = 0.5
# How alike, 0–100 over the toneless pinyin, a transcript and an unprompted decode must sound for the
# transcript to count as heard even though it matches the prompt (外汇买卖 heard as 回回买买 unprompted).
_SOUNDS_ALIKE = 70
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


class Hypothesis(NamedTuple):
    text: str
    logprob: float  # mean per token


@lru_cache(maxsize=None)
def _load_model(model_path: Path, compute_type: str, threads: int) -> WhisperModel:
    # Shared by the recognisers of every stream rate: all decode 16 kHz audio.
    return WhisperModel(str(model_path), device="cpu", compute_type=compute_type, cpu_threads=threads)


def copied_from_prompt(text: str, prompt: str, canary: str) -> bool:
    """True when a transcript looks copied from the prompt rather than heard: it holds two characters
    in a row of the canary sentence, it is nothing but a stretch of the prompt (是的 heard as 贵州茅),
    or it enumerates with 、 as the prompt does and names something from it."""
    if from_canary(text, canary):
        return True
    prompt = _NOT_WORD.sub("", prompt)
    pieces = [p for p in _NOT_WORD.split(text) if p]
    if "、" in text:
        return any(len(p) > 1 and p in prompt for p in pieces)
    return bool(pieces) and "".join(pieces) in prompt


def from_canary(text: str, canary: str) -> bool:
    """True when a transcript holds two characters in a row of the canary sentence."""
    return any(canary[i : i + 2] in text for i in range(len(canary) - 1))


def sounds_alike(text: str, other: str) -> bool:
    """True when the two transcripts' Chinese characters sound nearly the same, tones ignored."""
    syllables = ["".join(lazy_pinyin("".join(_CJK.findall(t)))) for t in (text, other)]
    return all(syllables) and ratio(*syllables) >= _SOUNDS_ALIKE


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
        self.tokenizer = Tokenizer(self.model.hf_tokenizer, True, task="transcribe", language=language)
        self.suppress = get_suppressed_tokens(self.tokenizer, [-1])
        # How sure the NLU is that a transcript asks for a function (0 when it asks for none); set by
        # the assistant. When it is unsure of the best hypothesis, a runner-up it is sure of is taken.
        self.judge: Callable[[str], float] | None = None

    def decode(self, pcm: bytes) -> str:
        return self.decode_batch([pcm])[0]

    def decode_batch(self, pcms: Sequence[bytes]) -> list[str]:
        """Each utterance's transcript; the encoder and the first (prompted) decode run once for all
        of them together. Re-decodes for a leaked prompt, which are rare, run one by one."""
        transcripts = [""] * len(pcms)
        readable = [i for i, pcm in enumerate(pcms) if len(pcm) >= self.sample_rate // 10 * 2]  # 0.1 s
        if not readable:
            return transcripts
        tail = np.zeros(int(_TAIL_SILENCE_S * self.sample_rate), np.float32)
        encodings = self._encode_all([np.concatenate([to_float(pcms[i]), tail]) for i in readable])
        for i, encoded, hypotheses in zip(readable, encodings, self._generate_all(encodings, self.prompt)):
            transcripts[i] = self._heard(encoded, hypotheses)
        return transcripts

    def _heard(self, encoded: ctranslate2.StorageView, hypotheses: list[Hypothesis]) -> str:
        """The transcript, from the prompted decode's hypotheses (and `encoded` to decode again)."""
        best = hypotheses[0].text if hypotheses else ""
        if self.prompt and (not hypotheses or copied_from_prompt(best, self.prompt, self.canary or "")):
            # The prompt may have leaked into the transcript, or made a short request look like no
            # speech (不对 decoded as 贵州茅台 with no-speech 0.8, then dropped): decode again with only
            # the canary, which keeps Whisper in simplified Mandarin without offering it domain words to
            # copy, and keep the prompted words only when that decode heard the same sounds (a caller
            # saying a title).
            heard = self._unprompted(encoded)
            return best if sounds_alike(best, heard) and not from_canary(best, self.canary or "") else heard
        return self._surest(hypotheses)

    def _unprompted(self, encoded: ctranslate2.StorageView) -> str:
        """The transcript decoded with only the canary as prompt; when Whisper copies the canary itself
        (对的 heard as 以下是普通话), decoded once more with no prompt at all; never prompt words."""
        for prompt in ([f"{self.canary}。"] if self.canary else []) + [None]:
            hypotheses = self._generate(encoded, prompt, 1)
            heard = hypotheses[0].text if hypotheses else ""
            if not from_canary(heard, self.canary or ""):
                return heard
        return ""

    def _surest(self, hypotheses: list[Hypothesis]) -> str:
        """The best hypothesis, or a near runner-up when the NLU is unsure of the best and sure of it."""
        if not hypotheses or self.judge is None or self.judge(hypotheses[0].text) >= _SURE:
            return hypotheses[0].text if hypotheses else ""
        best = hypotheses[0]
        sureness = {h.text: self.judge(h.text) for h in hypotheses[1:]
                    if best.logprob - h.logprob <= _MARGIN
                    and not (self.prompt and copied_from_prompt(h.text, self.prompt, self.canary or ""))}
        surest = max(sureness, key=sureness.__getitem__, default=None)
        return surest if surest is not None and sureness[surest] >= _SURE else best.text

    def _features(self, audio: np.ndarray) -> np.ndarray:
        features = self.model.feature_extractor(audio)
        return pad_or_trim(features[:, : features.shape[-1] - 1])

    def _encode(self, audio: np.ndarray) -> ctranslate2.StorageView:
        return self.model.encode(self._features(audio))

    def _encode_all(self, audios: list[np.ndarray]) -> list[ctranslate2.StorageView]:
        """One encoding per utterance, from one encoder pass over all of them."""
        if len(audios) == 1:
            return [self._encode(audios[0])]
        batch = np.asarray(self.model.encode(np.stack([self._features(a) for a in audios])))
        return [ctranslate2.StorageView.from_array(np.ascontiguousarray(batch[i : i + 1])) for i in range(len(audios))]

    def _generate_all(self, encodings: list[ctranslate2.StorageView], prompt: str | None) -> list[list[Hypothesis]]:
        """`_generate` for every encoding, in one decoder pass."""
        if len(encodings) == 1:
            return [self._generate(encodings[0], prompt)]
        stacked = ctranslate2.StorageView.from_array(np.concatenate([np.asarray(e) for e in encodings]))
        return self._beam(stacked, len(encodings), prompt, _HYPOTHESES)

    def _generate(self, encoded: ctranslate2.StorageView, prompt: str | None,
                  n: int = _HYPOTHESES) -> list[Hypothesis]:
        """Up to `n` beam hypotheses, best first; none when Whisper finds no speech."""
        return self._beam(encoded, 1, prompt, n)[0]

    def _beam(self, encoded: ctranslate2.StorageView, count: int, prompt: str | None, n: int) -> list[list[Hypothesis]]:
        """Up to `n` hypotheses for each of the `count` encodings in `encoded`.

        faster-whisper's transcribe() with temperature 0, no timestamps and no previous text, without
        encoding the audio again for each prompt. No temperature fallback: on noisy calls it re-decodes
        up to five times with sampling, taking 10 s or more and giving a different transcript each run.
        """
        results = self.model.model.generate(
            encoded,
            [self._prompt_tokens(prompt)] * count,
            beam_size=max(self.beam_size, n),
            num_hypotheses=n,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self.suppress,
            max_length=self.model.max_length,
        )
        return [self._hypotheses(result) for result in results]

    def _hypotheses(self, result: ctranslate2.models.WhisperGenerationResult) -> list[Hypothesis]:
        hypotheses = []
        for tokens, score in zip(result.sequences_ids, result.scores):
            logprob = score * len(tokens) / (len(tokens) + 1)  # as faster-whisper averages it
            if not (result.no_speech_prob > _NO_SPEECH and logprob < _LOW_LOGPROB):
                hypotheses.append(Hypothesis(self.tokenizer.decode(tokens).strip(), logprob))
        return hypotheses

    def _prompt_tokens(self, prompt: str | None) -> list[int]:
        tokens = []
        if prompt:
            tokens = [self.tokenizer.sot_prev, *self.tokenizer.encode(" " + prompt.strip())[-_PROMPT_TOKENS:]]
        return [*tokens, *self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]

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
