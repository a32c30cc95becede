"""Voice activity detection and endpointing on real recorded Mandarin (models_dir/speech/).

Where the speech really is: each recording carries its own lead-in and tail of room noise, so the
true speech edges are measured once from the clean recording with an energy detector: 10 ms frames,
power smoothed over 50 ms, and a frame counts as speech when its level is more than half-way (in dB)
between the recording's noise floor (10th percentile of frame levels) and its loudest frame. The
first and last such frames are the edges. Padding is digital silence; low white noise (RMS 30, about
-61 dBFS, above the recordings' own noise floor so the joins do not show) is then laid over the whole
stream, as on a real line. The detector must put SpeechStarted.t and SpeechStopped.t within 200 ms
of those edges.
"""
from __future__ import annotations

import csv

import numpy as np
import pytest

from assistant.core.audio import Audio, chunks, read_wav, resample
from assistant.core.errors import AudioFormatError
from assistant.core.frames import AudioChunk, Frame, SpeechPaused, SpeechStarted, SpeechStopped
from assistant.core.pipeline import Pipeline
from assistant.speech.vad import Vad, VadSettings
from domain.config import load_config

SPEECH_DIR = load_config().models_dir / "speech"
TOLERANCE = 0.2  # seconds
NOISE_RMS = 30.0
LEAD, TAIL, GAP = 1.5, 2.0, 2.0  # seconds of padding before, after and between utterances
# A short utterance with a quiet room (floor ~25 dB below its peak) and a longer one recorded
# with audible background noise (~15 dB below the speech). Not BAC009S0764W0122: its last 0.5 s is
# low-frequency rumble ~10 dB under the speech (no pitch left after 3.62 s), which webrtcvad counts
# as voice with 20/30 ms frames, so its stop lands 0.3-0.45 s after the speech.
RECORDINGS = ("IT0011W0001.wav", "BAC009S0764W0121.wav")

RATES = (8000, 16000)
FRAME_MS = (10, 20, 30)


def listed_recordings() -> set[str]:
    with (SPEECH_DIR / "transcripts.tsv").open(encoding="utf-8", newline="") as f:
        return {row["file"] for row in csv.DictReader(f, delimiter="\t")}


def recording(name: str, rate: int) -> np.ndarray:
    return np.frombuffer(read_wav(SPEECH_DIR / name, rate).pcm, dtype="<i2").astype(np.float64)


def level_db(x: np.ndarray, rate: int) -> np.ndarray:
    """Level of each 10 ms frame in dB, power smoothed over 50 ms."""
    size = rate // 100
    n = len(x) // size
    power = (x[: n * size].reshape(n, size) ** 2).mean(axis=1)
    return 10 * np.log10(np.convolve(power, np.ones(5) / 5, mode="same") + 1.0)


def speech_threshold(x: np.ndarray, rate: int) -> float:
    db = level_db(x, rate)
    return float((np.percentile(db, 10) + db.max()) / 2)


def speech_edges(x: np.ndarray, rate: int, threshold: float) -> tuple[float, float]:
    """First and last moment (s) of `x` whose level is above `threshold`."""
    loud = np.nonzero(level_db(x, rate) > threshold)[0]
    assert len(loud), "no speech found in the clean recording"
    return loud[0] / 100, (loud[-1] + 1) / 100


def noisy(parts: list[np.ndarray], rate: int, seed: int = 0) -> bytes:
    """Join the parts and lay low white noise over the whole stream."""
    signal = np.concatenate(parts)
    signal = signal + np.random.default_rng(seed).normal(0.0, NOISE_RMS, len(signal))
    return np.clip(np.round(signal), -32768, 32767).astype("<i2").tobytes()


def silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(int(round(seconds * rate)))


def run_vad(pcm: bytes, rate: int, settings: VadSettings, chunk_ms: int = 30) -> list[Frame]:
    """Push the stream through Pipeline([Vad]) chunk by chunk; returns the non-audio frames."""
    pipeline = Pipeline([Vad(settings, rate)])
    events: list[Frame] = []
    passed = b""
    for t, piece in chunks(Audio(pcm, rate), chunk_ms):
        for frame in pipeline.push(AudioChunk(piece, rate, t)):
            if isinstance(frame, AudioChunk):
                passed += frame.pcm
            else:
                events.append(frame)
    assert passed == pcm, "the VAD must pass every audio chunk on unchanged"
    return events


def utterances(events: list[Frame]) -> list[tuple[float, float]]:
    """(start, stop) of each utterance; checks Started/Stopped alternate and a pause precedes each stop."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    last_pause: float | None = None
    for event in events:
        if isinstance(event, SpeechStarted):
            assert start is None, f"SpeechStarted inside an open utterance: {events}"
            start, last_pause = event.t, None
        elif isinstance(event, SpeechPaused):
            assert start is not None, f"SpeechPaused outside an utterance: {events}"
            last_pause = event.t
        elif isinstance(event, SpeechStopped):
            assert start is not None, f"SpeechStopped without SpeechStarted: {events}"
            assert last_pause == event.t, f"no SpeechPaused at {event.t:.2f} s before SpeechStopped: {events}"
            assert event.decided_t > event.t
            spans.append((start, event.t))
            start = None
    assert start is None, f"utterance never closed: {events}"
    return spans


def describe(events: list[Frame]) -> str:
    return " ".join(f"{type(e).__name__}@{e.t:.2f}" for e in events)


def assert_edges(spans: list[tuple[float, float]], truth: list[tuple[float, float]], events: list[Frame]) -> None:
    assert len(spans) == len(truth), f"expected {len(truth)} utterance(s), got {describe(events)}"
    for (start, stop), (true_start, true_stop) in zip(spans, truth):
        assert abs(start - true_start) <= TOLERANCE, (
            f"SpeechStarted at {start:.2f} s, speech starts at {true_start:.2f} s: {describe(events)}"
        )
        assert abs(stop - true_stop) <= TOLERANCE, (
            f"SpeechStopped at {stop:.2f} s, speech stops at {true_stop:.2f} s: {describe(events)}"
        )


def test_recordings_are_listed_in_transcripts() -> None:
    assert set(RECORDINGS) <= listed_recordings()


@pytest.mark.parametrize("frame_ms", FRAME_MS)
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("name", RECORDINGS)
def test_one_utterance_edges(name: str, rate: int, frame_ms: int) -> None:
    x = recording(name, rate)
    start, stop = speech_edges(x, rate, speech_threshold(x, rate))
    pcm = noisy([silence(LEAD, rate), x, silence(TAIL, rate)], rate)
    events = run_vad(pcm, rate, VadSettings(frame_ms=frame_ms))
    assert_edges(utterances(events), [(LEAD + start, LEAD + stop)], events)


@pytest.mark.parametrize("frame_ms", FRAME_MS)
@pytest.mark.parametrize("rate", RATES)
def test_two_utterances_apart(rate: int, frame_ms: int) -> None:
    first, second = (recording(name, rate) for name in RECORDINGS)
    edges1 = speech_edges(first, rate, speech_threshold(first, rate))
    edges2 = speech_edges(second, rate, speech_threshold(second, rate))
    offset2 = LEAD + len(first) / rate + GAP
    pcm = noisy([silence(LEAD, rate), first, silence(GAP, rate), second, silence(TAIL, rate)], rate, seed=1)
    events = run_vad(pcm, rate, VadSettings(frame_ms=frame_ms))
    truth = [(LEAD + edges1[0], LEAD + edges1[1]), (offset2 + edges2[0], offset2 + edges2[1])]
    assert_edges(utterances(events), truth, events)


def split_recording(rate: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The longer recording cut in the middle of its speech, and the speech threshold of the whole."""
    x = recording(RECORDINGS[1], rate)
    threshold = speech_threshold(x, rate)
    start, stop = speech_edges(x, rate, threshold)
    cut = int((start + stop) / 2 * rate)
    return x[:cut], x[cut:], threshold


@pytest.mark.parametrize("rate", RATES)
def test_short_pause_stays_one_utterance(rate: int) -> None:
    settings = VadSettings()
    head, tail, threshold = split_recording(rate)
    pause = 0.4
    assert pause * 1000 < settings.end_ms
    start = speech_edges(head, rate, threshold)[0]
    stop = len(head) / rate + pause + speech_edges(tail, rate, threshold)[1]
    pcm = noisy([silence(LEAD, rate), head, silence(pause, rate), tail, silence(TAIL, rate)], rate, seed=2)
    events = run_vad(pcm, rate, settings)
    assert_edges(utterances(events), [(LEAD + start, LEAD + stop)], events)
    assert any(isinstance(e, SpeechPaused) and LEAD + len(head) / rate - 0.3 < e.t < LEAD + len(head) / rate + 0.1
               for e in events), f"the mid-sentence pause was not reported: {describe(events)}"


@pytest.mark.parametrize("rate", RATES)
def test_long_pause_splits_the_utterance(rate: int) -> None:
    settings = VadSettings()
    head, tail, threshold = split_recording(rate)
    pause = 1.2
    assert pause * 1000 > settings.end_ms + 2 * TOLERANCE * 1000
    head_edges, tail_edges = speech_edges(head, rate, threshold), speech_edges(tail, rate, threshold)
    resume = LEAD + len(head) / rate + pause
    pcm = noisy([silence(LEAD, rate), head, silence(pause, rate), tail, silence(TAIL, rate)], rate, seed=3)
    events = run_vad(pcm, rate, settings)
    truth = [(LEAD + head_edges[0], LEAD + head_edges[1]), (resume + tail_edges[0], resume + tail_edges[1])]
    assert_edges(utterances(events), truth, events)


@pytest.mark.parametrize("frame_ms", FRAME_MS)
@pytest.mark.parametrize("rate", RATES)
def test_click_does_not_open_an_utterance(rate: int, frame_ms: int) -> None:
    click = np.random.default_rng(4).normal(0.0, 8000.0, int(0.03 * rate))  # 30 ms, about -12 dBFS
    pcm = noisy([silence(1.0, rate), click, silence(2.0, rate)], rate, seed=5)
    assert run_vad(pcm, rate, VadSettings(frame_ms=frame_ms)) == []


@pytest.mark.parametrize("frame_ms", FRAME_MS)
@pytest.mark.parametrize("rate", RATES)
def test_short_word_opens_an_utterance(rate: int, frame_ms: int) -> None:
    """200 ms of real speech (a one-syllable answer such as 是 is about that long) is not a click."""
    x = recording(RECORDINGS[0], rate)
    start = speech_edges(x, rate, speech_threshold(x, rate))[0]
    word = x[int(start * rate) : int((start + 0.2) * rate)]
    pcm = noisy([silence(1.0, rate), word, silence(2.0, rate)], rate)
    events = run_vad(pcm, rate, VadSettings(frame_ms=frame_ms))
    assert_edges(utterances(events), [(1.0, 1.2)], events)


def test_noise_alone_opens_nothing() -> None:
    """Steady line noise from the first sample on (webrtcvad needs a moment to learn it)."""
    for rate in RATES:
        for frame_ms in FRAME_MS:
            pcm = noisy([silence(3.0, rate)], rate, seed=6)
            assert run_vad(pcm, rate, VadSettings(frame_ms=frame_ms)) == [], (rate, frame_ms)


def test_chunk_size_does_not_change_the_result() -> None:
    rate = 16000
    x = recording(RECORDINGS[0], rate)
    pcm = noisy([silence(LEAD, rate), x, silence(TAIL, rate)], rate)

    def summary(events: list[Frame]) -> list[tuple[str, float]]:
        return [(type(e).__name__, round(e.t, 6)) for e in events]

    by_30 = run_vad(pcm, rate, VadSettings(frame_ms=20), chunk_ms=30)
    by_7 = run_vad(pcm, rate, VadSettings(frame_ms=20), chunk_ms=7)
    assert len(utterances(by_30)) == 1
    assert summary(by_7) == summary(by_30)
    assert [e.preroll for e in by_7 if isinstance(e, SpeechStarted)] == [
        e.preroll for e in by_30 if isinstance(e, SpeechStarted)
    ]


def test_preroll_holds_audio_from_before_the_start() -> None:
    rate = 16000
    settings = VadSettings()
    x = recording(RECORDINGS[0], rate)
    pcm = noisy([silence(LEAD, rate), x, silence(TAIL, rate)], rate)
    started = next(e for e in run_vad(pcm, rate, settings) if isinstance(e, SpeechStarted))
    assert started.sample_rate == rate
    # the preroll is the stream audio that ends where detection happened and begins before `t`
    begin = pcm.find(started.preroll)
    assert begin >= 0 and begin % 2 == 0
    assert begin / 2 / rate <= started.t - settings.preroll_ms / 1000 + 1e-6


def test_passes_other_frames_on() -> None:
    vad = Vad(VadSettings(), 16000)
    stopped = SpeechStopped(t=1.0, decided_t=1.7)
    assert list(vad.process(stopped)) == [stopped]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"frame_ms": 25}, ["frame_ms", "10, 20 or 30", "25"]),
        ({"aggressiveness": 5}, ["aggressiveness", "0..3", "5"]),
        ({"aggressiveness": -1}, ["aggressiveness", "-1"]),
    ],
)
def test_bad_settings_raise_clear_errors(kwargs: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        VadSettings(**kwargs)
    for word in words:
        assert word in str(caught.value)


def test_settings_from_config_ignores_unknown_keys() -> None:
    settings = Vad.settings_from({"frame_ms": 20, "end_ms": 500, "something_else": 1})
    assert (settings.frame_ms, settings.end_ms) == (20, 500)
    with pytest.raises(ValueError, match="frame_ms"):
        Vad.settings_from({"frame_ms": 15})


def test_unsupported_stream_rate() -> None:
    with pytest.raises(AudioFormatError, match="44100 Hz"):
        Vad(VadSettings(), 44100)


def test_chunk_at_another_rate_is_refused() -> None:
    vad = Vad(VadSettings(), 16000)
    with pytest.raises(ValueError, match="8000 Hz"):
        list(vad.process(AudioChunk(bytes(480), 8000, 0.0)))


def test_resampled_recording_is_the_same_speech() -> None:
    """The 8 kHz copies used above hold the same speech edges as the 16 kHz originals."""
    x16 = recording(RECORDINGS[0], 16000)
    x8 = np.frombuffer(resample(Audio(x16.astype("<i2").tobytes(), 16000), 8000).pcm, dtype="<i2").astype(float)
    e16 = speech_edges(x16, 16000, speech_threshold(x16, 16000))
    e8 = speech_edges(x8, 8000, speech_threshold(x8, 8000))
    assert abs(e16[0] - e8[0]) <= 0.02 and abs(e16[1] - e8[1]) <= 0.02
