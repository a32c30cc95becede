"""The whisper engine on real recorded Mandarin (../shared/models/speech), as the assistant uses it:
the staged faster-whisper base model, int8, with the domain prompt built from the catalog."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from assistant.core.audio import read_wav
from assistant.core.errors import ModelNotFoundError
from assistant.core.metrics import cer
from assistant.nlu.normalize import clean_text, normalize_numbers
from assistant.speech.asr.base import transcribe
from assistant.speech.asr.whisper import Hypothesis, WhisperRecognizer, copied_from_prompt, sounds_alike
from assistant.speech.engines import PROMPT_CANARY, whisper_prompt

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


@pytest.mark.parametrize(
    "text, other, alike",
    [
        ("外汇买卖。", "回回买买。", True),  # a title said on a telephone line, heard unprompted
        ("修改密码", "秋改密码。", True),
        ("贵州茅", "是的", False),  # a stretch of the prompt where the caller said something else
        ("外汇买卖", "欢迎欢迎买bye", False),
        ("外汇买卖", "", False),  # nothing heard unprompted
    ],
)
def test_sounds_alike_compares_pinyin(text: str, other: str, alike: bool) -> None:
    assert sounds_alike(text, other) is alike


def bare_recognizer(decodes: dict[str | None, list[Hypothesis]], sureness: dict[str, float] | None = None) -> Any:
    """A WhisperRecognizer without a model: `decodes` maps a prompt to the hypotheses Whisper gives."""
    recognizer = WhisperRecognizer.__new__(WhisperRecognizer)
    recognizer.prompt, recognizer.canary = PROMPT, PROMPT_CANARY
    recognizer.judge = None if sureness is None else sureness.__getitem__
    recognizer._encode = lambda audio: None
    recognizer._generate = lambda encoded, prompt, n=5: decodes[prompt][:n]
    return recognizer


AUDIO = bytes(32000)  # one second; the bare recogniser does not read it


def test_a_prompt_title_is_kept_when_heard_alike_without_the_prompt() -> None:
    recognizer = bare_recognizer({PROMPT: [Hypothesis("买入股票。", -0.3)], f"{PROMPT_CANARY}。": [Hypothesis("买路股票。", -0.5)]})
    assert recognizer.decode(AUDIO) == "买入股票。"


def test_a_prompt_copy_gives_way_to_the_unprompted_decode() -> None:
    recognizer = bare_recognizer({PROMPT: [Hypothesis("贵州茅", -0.3)], f"{PROMPT_CANARY}。": [Hypothesis("是的", -0.4)]})
    assert recognizer.decode(AUDIO) == "是的"


def test_a_request_the_prompt_made_look_like_no_speech_is_decoded_again_without_it() -> None:
    """转人工 on a low telephone line: the prompted decode is 贵州茅台 at no-speech 0.8 (dropped)."""
    recognizer = bare_recognizer({PROMPT: [], f"{PROMPT_CANARY}。": [Hypothesis("转人工", -0.6)]})
    assert recognizer.decode(AUDIO) == "转人工"


@pytest.mark.parametrize("canary_decode", ["以下是普通话", "以下。", "普通话的句子"])
def test_a_copy_of_the_canary_is_never_a_transcript(canary_decode: str) -> None:
    decodes = {PROMPT: [Hypothesis("贵州茅", -0.9)], f"{PROMPT_CANARY}。": [Hypothesis(canary_decode, -0.9)],
               None: [Hypothesis("对的", -0.7)]}
    assert bare_recognizer(decodes).decode(AUDIO) == "对的"  # decoded once more with no prompt at all
    decodes[None] = [Hypothesis("以下是普通话的句子", -0.7)]
    assert bare_recognizer(decodes).decode(AUDIO) == ""


def hypotheses(*pairs: tuple[str, float]) -> list[Hypothesis]:
    return [Hypothesis(text, logprob) for text, logprob in pairs]


@pytest.mark.parametrize(
    "nbest, sureness, chosen",
    [
        # the NLU is sure of the best hypothesis: runners-up are not even judged
        ([("我要转账", -0.2), ("我要转正", -0.3)], {"我要转账": 0.99}, "我要转账"),
        # unsure of the best, sure of a near runner-up
        ([("卡修委托", -0.3), ("查询委托", -0.5)], {"卡修委托": 0.0, "查询委托": 0.96}, "查询委托"),
        # the runner-up is far less likely to Whisper
        ([("卡修委托", -0.3), ("查询委托", -1.2)], {"卡修委托": 0.0, "查询委托": 0.96}, "卡修委托"),
        # in scope, but not sure enough to overrule what was heard (换一首歌 on a telephone line)
        ([("贵州歌。", -0.4), ("贵州客。", -0.5)], {"贵州歌。": 0.0, "贵州客。": 0.51}, "贵州歌。"),
        # a runner-up copied from the prompt is no evidence
        ([("使得", -0.3), ("贵州茅台", -0.4)], {"使得": 0.0, "贵州茅台": 0.9}, "使得"),
        # the surest of several
        ([("我想提课介意", -0.3), ("我想提克意见", -0.4), ("我想提克建议", -0.5)],
         {"我想提课介意": 0.0, "我想提克意见": 0.85, "我想提克建议": 0.99}, "我想提克建议"),
    ],
)
def test_an_unsure_transcript_gives_way_to_a_runner_up_the_nlu_is_sure_of(
    nbest: list[tuple[str, float]], sureness: dict[str, float], chosen: str
) -> None:
    recognizer = bare_recognizer({PROMPT: hypotheses(*nbest)}, sureness)
    assert recognizer.decode(AUDIO) == chosen


def test_without_a_judge_the_best_hypothesis_is_taken() -> None:
    recognizer = bare_recognizer({PROMPT: hypotheses(("卡修委托", -0.3), ("查询委托", -0.5))})
    assert recognizer.decode(AUDIO) == "卡修委托"


def test_no_speech_is_no_transcript() -> None:
    recognizer = bare_recognizer({PROMPT: [], f"{PROMPT_CANARY}。": []}, {})
    assert recognizer.decode(AUDIO) == ""


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


@pytest.mark.slow
def test_utterances_decoded_together_are_heard_as_they_are_alone(assistant: Any, banking_dev: list) -> None:
    """decode_batch: one encoder and one decoder pass for several calls' utterances, the same words."""
    recognizer = assistant.recognizer(16000)
    pcms = [read_wav(r.path, 16000).pcm for r in banking_dev if r.channel == "phone"][:3]
    pcms.append(bytes(800))  # 25 ms: too short to read, and it does not upset the batch
    alone = [recognizer.decode(pcm) for pcm in pcms]
    assert recognizer.decode_batch(pcms) == alone
    assert alone[-1] == "" and all(alone[:3])


def test_an_unknown_prompt_function_is_a_config_error(config: Any) -> None:
    from assistant.runtime.voice import VoiceService
    from domain.config import Config
    from domain.errors import ConfigError

    whisper = {**config.section("asr")["whisper"], "prompt_functions": ["balance_inquiry", "no_such_function"]}
    bad = Config({**config.raw, "asr": {**config.section("asr"), "whisper": whisper}}, config.root)
    with pytest.raises(ConfigError, match="no_such_function"):
        VoiceService(bad).asr_prompt()
