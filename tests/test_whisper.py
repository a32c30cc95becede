"""The whisper engine on real recorded Mandarin (../shared/models/speech), as the assistant uses it:
the staged faster-whisper base model, int8, with the domain prompt built from the catalog."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from assistant.asr.base import transcribe
from assistant.asr.whisper import WhisperRecognizer, copied_from_prompt
from assistant.audio import read_wav
from assistant.engines import PROMPT_CANARY, whisper_prompt
from assistant.errors import ModelNotFoundError
from assistant.metrics import cer
from assistant.normalize import clean_text, normalize_numbers

PROMPT = whisper_prompt(["查询余额", "银行卡挂失", "买入股票"], [["美元", "欧元"], ["贵州茅台", "工商银行"]])


def test_prompt_is_canary_then_functions_then_names() -> None:
    assert PROMPT == "以下是普通话的句子。您好，我要查询余额、银行卡挂失、买入股票。美元、欧元。贵州茅台、工商银行。"


@pytest.mark.parametrize(
    "transcript, copied",
    [
        ("以下是普通话", True),  # the canary itself
        ("贵州茅", True),  # a stretch of the prompt and nothing else
        ("贵州茅台、工商银行、国家银行、国家银行", True),  # a list continued from the prompt
        ("我要买入股票", False),  # a request that uses a prompt phrase
        ("我想买一百股贵州茅台", False),
        ("是的", False),
        ("", False),
    ],
)
def test_copies_of_the_prompt_are_recognised(transcript: str, copied: bool) -> None:
    assert copied_from_prompt(transcript, PROMPT, PROMPT_CANARY) is copied


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="model.bin"):
        WhisperRecognizer(tmp_path)


def _comparable(text: str) -> str:
    return normalize_numbers(clean_text(text))


@pytest.mark.slow
def test_mean_cer_on_recorded_mandarin(assistant: Any, speech_dir: Path) -> None:
    recognizer = assistant.recognizer(16000)
    with (speech_dir / "transcripts.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    scores = []
    for row in rows:
        heard = transcribe(recognizer, read_wav(speech_dir / row["file"], 16000).pcm)
        scores.append(cer(_comparable(row["text"]), _comparable(heard)))
        print(f"{row['file']}: CER {scores[-1]:.1%}  {row['text']} | {heard}")
    mean = sum(scores) / len(scores)
    print(f"mean CER over {len(scores)} recordings: {mean:.1%}")
    assert mean <= 0.25


@pytest.mark.slow
def test_telephone_rate_audio_is_recognised(assistant: Any, banking_dev: list) -> None:
    """An 8 kHz μ-law call is upsampled for Whisper and still heard."""
    request = next(r for r in banking_dev if r.channel == "phone" and r.utterance == "我想买入股票")
    audio = read_wav(request.path)
    assert audio.sample_rate == 8000
    heard = transcribe(assistant.recognizer(8000), read_wav(request.path, 16000).pcm)
    assert "买入股票" in clean_text(heard)
