"""Choosing the speech engines from config.yml, with the fallbacks said out loud in the log."""
from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from typing import Any

from assistant.core.errors import ModelNotFoundError
from assistant.speech.asr.base import Recognizer
from assistant.speech.models import VOSK_CN, WHISPER, Download, ModelSource, locate, require
from assistant.speech.tts import load_voice_settings
from assistant.speech.tts.base import Synthesizer
from domain.config import Config

log = logging.getLogger(__name__)

# Whisper copies words from its prompt into transcripts of short or noisy audio. The prompt starts
# with this sentence, which no caller says: a transcript sharing words with it was copied, not heard.
PROMPT_CANARY = "以下是普通话的句子"


def whisper_prompt(titles: Iterable[str], names: Iterable[Iterable[str]]) -> str:
    """A biasing prompt: the canary, the functions as a caller asks for them, then groups of names
    (currencies, bill types, instruments), each group one sentence. Whisper reads about 220 tokens of
    prompt; a natural sentence biases it better than a bare word list."""
    sentences = [PROMPT_CANARY, "您好，我要" + "、".join(dict.fromkeys(titles))]
    sentences += ["、".join(group) for group in names if group]
    return "。".join(sentences) + "。"


def make_recognizer(config: Config, sample_rate: int, prompt: str | None = None) -> Recognizer:
    settings = config.section("asr")
    if settings.get("engine", "whisper") == "vosk":
        path = locate(VOSK_CN, config, (settings.get("vosk") or {}).get("model"))
        if path:
            from assistant.speech.asr.vosk import VoskRecognizer

            return VoskRecognizer(path, sample_rate=sample_rate)
        log.warning("ASR: %s not found; falling back to faster-whisper", VOSK_CN.name)
    from assistant.speech.asr.whisper import WhisperRecognizer

    w = settings.get("whisper") or {}
    return WhisperRecognizer(
        require(WHISPER, config, w.get("model")),
        prompt=prompt,
        canary=PROMPT_CANARY,
        compute_type=w.get("compute_type", "int8"),
        beam_size=w.get("beam_size", 5),
        threads=w.get("threads", 2),
    )


def voice_source(name: str, settings: dict[str, Any]) -> ModelSource:
    downloads = tuple(Download(d["url"], size=d.get("size"), md5=d.get("md5")) for d in settings.get("download", ()))
    return ModelSource(name, "PIPER_VOICE", f"the piper voice {name}", downloads)


def synthesizer_for(name: str, config: Config) -> Synthesizer:
    settings = load_voice_settings(name)
    if settings["engine"] == "espeak":
        from assistant.speech.tts.espeak import EspeakSynthesizer

        return EspeakSynthesizer(settings["voice"], settings.get("rate", 175), settings.get("pitch", 50))
    from assistant.speech.tts.piper import PiperSynthesizer

    if "package" in settings:  # a voice shipped inside a Python package
        folder = importlib.import_module(settings["package"]).data_dir()
    else:
        folder = require(voice_source(name, settings), config)
    return PiperSynthesizer(folder / settings["model"], length_scale=settings.get("length_scale"))


def make_synthesizer(config: Config) -> Synthesizer:
    settings = config.section("tts")
    try:
        return synthesizer_for(settings.get("voice", "zh_CN-huayan-medium"), config)
    except ModelNotFoundError as error:
        fallback = settings.get("fallback_voice", "espeak-cmn")
        log.warning("TTS: %s; falling back to %s", error, fallback)
        return synthesizer_for(fallback, config)
