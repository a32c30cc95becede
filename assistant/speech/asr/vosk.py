"""Vosk (Kaldi) speech recognition behind the `Recognizer` interface.

Vosk has no soft biasing: a phrase list can only be given as a runtime grammar, and a grammar lets the
decoder output nothing but its words. So `grammar_only=True` is for constrained prompts (yes/no, menu
choices) and the default free recognition, which ignores `phrases`, is for open requests.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import vosk

from assistant.core.audio import check_stream_rate
from assistant.core.errors import AssistantError, ModelNotFoundError

MODEL_TO_FETCH = "vosk-model-small-cn-0.22"
MODEL_DOWNLOADS = "https://alphacephei.com/vosk/models"
UNKNOWN_WORD = "[unk]"

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
_SPACES_BETWEEN_HAN = re.compile(f"(?<=[{_HAN}])\\s+(?=[{_HAN}])")


def remove_chinese_spaces(text: str) -> str:
    """Join the Chinese characters vosk writes space-separated; spaces next to other words stay."""
    return _SPACES_BETWEEN_HAN.sub("", text)


def has_runtime_grammar(model_path: Path) -> bool:
    """Small vosk models compose HCLr with Gr at run time and so accept grammars; a static HCLG does not."""
    graph = Path(model_path) / "graph"
    return (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()


@lru_cache(maxsize=None)
def _load_model(model_path: Path) -> vosk.Model:
    # Cached per folder: a model is hundreds of MB and recognisers for different prompts share it.
    if not model_path.is_dir():
        raise ModelNotFoundError(
            f"vosk model folder {model_path} not found; download {MODEL_TO_FETCH} from "
            f"{MODEL_DOWNLOADS} and unzip it there"
        )
    vosk.SetLogLevel(-1)
    try:
        return vosk.Model(str(model_path))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelNotFoundError(
            f"{model_path} is not a vosk model folder (vosk could not load it); put "
            f"{MODEL_TO_FETCH} from {MODEL_DOWNLOADS} there"
        ) from exc


class VoskRecognizer:
    """Streaming vosk recognition; with `grammar_only=True` the text is one of `phrases` or ""."""

    name = "vosk"

    def __init__(
        self,
        model_path: Path,
        sample_rate: int = 16000,
        phrases: list[str] | None = None,
        grammar_only: bool = False,
        chinese: bool = True,
    ) -> None:
        check_stream_rate(sample_rate)
        self.model_path = Path(model_path).resolve()
        self.sample_rate = sample_rate
        self.phrases = list(phrases or [])
        self.grammar_only = grammar_only
        self.chinese = chinese
        self._model = _load_model(self.model_path)
        self.supports_grammar = has_runtime_grammar(self.model_path)
        self._grammar = self._grammar_json() if grammar_only else None
        self._allowed = {self._clean(phrase) for phrase in self.phrases}

    def stream(self) -> VoskStream:
        if self._grammar is None:
            kaldi = vosk.KaldiRecognizer(self._model, self.sample_rate)
        else:
            kaldi = vosk.KaldiRecognizer(self._model, self.sample_rate, self._grammar)
        kaldi.SetWords(False)
        return VoskStream(kaldi, self)

    def output_text(self, raw: str) -> str:
        """Engine text as the caller sees it: no [unk], Chinese joined, and in grammar mode a phrase or ""."""
        text = self._clean(raw)
        if self.grammar_only and text not in self._allowed:
            # The grammar is a bigram model over the phrases' words, so vosk can string them
            # together ("계좌 이체 분실"); anything but a whole phrase is treated as not understood.
            return ""
        return text

    def _clean(self, raw: str) -> str:
        text = " ".join(word for word in raw.split() if word != UNKNOWN_WORD)
        return remove_chinese_spaces(text) if self.chinese else text

    def _grammar_json(self) -> str:
        if not self.phrases:
            raise ValueError("grammar_only=True needs a list of phrases")
        if not self.supports_grammar:
            raise AssistantError(
                f"vosk model {self.model_path} has a static graph (no graph/HCLr.fst + Gr.fst), so it "
                f"cannot be restricted to phrases; use a small vosk model such as {MODEL_TO_FETCH}"
            )
        unknown = sorted(
            {w for p in self.phrases for w in p.split() if self._model.vosk_model_find_word(w) < 0}
        )
        if unknown:
            # vosk would silently drop these words and the phrase could never be recognised.
            raise AssistantError(
                f"vosk model {self.model_path} does not know the words {', '.join(unknown)}; "
                "grammar phrases must be vocabulary words separated by spaces"
            )
        words = self.phrases
        if self._model.vosk_model_find_word(UNKNOWN_WORD) >= 0:
            words = [*words, UNKNOWN_WORD]  # lets speech outside the phrases decode as [unk]
        return json.dumps(words, ensure_ascii=False)


class VoskStream:
    """One utterance. Vosk may finalise a segment mid-stream (at a pause); those pieces are kept."""

    def __init__(self, kaldi: vosk.KaldiRecognizer, recognizer: VoskRecognizer) -> None:
        self._kaldi = kaldi
        self._recognizer = recognizer
        self._segments: list[str] = []
        self._last_partial = ""

    def accept(self, pcm: bytes) -> str | None:
        """Feed audio; returns the utterance's text so far when it changed."""
        if self._kaldi.AcceptWaveform(pcm):
            self._segments.append(json.loads(self._kaldi.Result())["text"])
            partial = self._text()
        else:
            partial = self._text(json.loads(self._kaldi.PartialResult())["partial"])
        if not partial or partial == self._last_partial:
            return None
        self._last_partial = partial
        return partial

    def finish(self) -> str:
        self._segments.append(json.loads(self._kaldi.FinalResult())["text"])
        return self._text()

    def _text(self, pending: str = "") -> str:
        return self._recognizer.output_text(" ".join([*self._segments, pending]))
