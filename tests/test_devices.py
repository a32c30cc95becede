"""Microphone and loudspeaker for real, through a private PulseAudio server with a null sink.

The server's default sink is `test_sink` and its default source is that sink's monitor, so what the
Loudspeaker plays comes back through the Microphone. Both go through PortAudio's ALSA default device,
which the ALSA pulse plugin routes to PulseAudio when a server is running — the path the assistant
uses on a desktop. The server runs in its own HOME / XDG_RUNTIME_DIR under pytest's tmp dir and is
stopped after the module (and exits by itself 30 s after its last client, should pytest die).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.core.audio import Audio, read_wav, resample
from assistant.core.errors import AssistantError
from assistant.core.frames import AudioChunk, EndOfCall, Interruption, SynthesizedAudio
from assistant.transports.local import BACKENDS, Loudspeaker, Microphone
from domain.config import load_config

RECORDING = load_config().models_dir / "speech" / "IT0011W0001.wav"
TONE_LEVEL = 8000.0


def pactl(server: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["pactl", "--server", server, *args], capture_output=True, text=True, timeout=10)


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.skip("pulseaudio / pactl not installed (apt packages pulseaudio and pulseaudio-utils)")
    if "sounddevice" in sys.modules:
        pytest.skip("PortAudio was initialised before the test server started; run this module on its own")
    home = tmp_path_factory.mktemp("pulse")
    server = f"unix:{home / 'native'}"
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home), "XDG_CONFIG_HOME": str(home / "config")}
    env.pop("PULSE_SERVER", None)
    log = (home / "daemon.log").open("wb")
    daemon = subprocess.Popen(
        [
            "pulseaudio", "-n", "--daemonize=no", "--system=false", "--use-pid-file=no",
            "--exit-idle-time=30", "--disallow-exit", "--log-target=stderr",
            "-L", f"module-native-protocol-unix socket={home / 'native'} auth-anonymous=1",
            "-L", "module-null-sink sink_name=test_sink",
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=log,
    )
    try:
        deadline = time.monotonic() + 30
        while pactl(server, "info").returncode != 0:
            if daemon.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"PulseAudio did not start:\n{(home / 'daemon.log').read_text(errors='replace')}")
            time.sleep(0.2)
        assert pactl(server, "set-default-sink", "test_sink").returncode == 0
        assert pactl(server, "set-default-source", "test_sink.monitor").returncode == 0
        info = pactl(server, "info").stdout
        assert "Default Sink: test_sink" in info and "Default Source: test_sink.monitor" in info, info
        saved = os.environ.get("PULSE_SERVER")
        os.environ["PULSE_SERVER"] = server  # read by the ALSA pulse plugin when PortAudio starts
        try:
            yield server
        finally:
            if saved is None:
                os.environ.pop("PULSE_SERVER", None)
            else:
                os.environ["PULSE_SERVER"] = saved
    finally:
        daemon.terminate()
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(5)
        log.close()


def tone(freq: float, rate: int, seconds: float) -> np.ndarray:
    return TONE_LEVEL * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)


def pcm_of(x: np.ndarray) -> bytes:
    return np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()


class Recorder:
    """A Microphone read on its own thread, as the chat loop reads it."""

    def __init__(self, rate: int, backend: str) -> None:
        self.mic = Microphone(rate, chunk_ms=30, backend=backend)
        self.chunks: list[AudioChunk] = []
        self.error: BaseException | None = None
        self.first = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for chunk in self.mic:
                self.chunks.append(chunk)
                self.first.set()
        except BaseException as error:  # surfaced in the test thread
            self.error = error
            self.first.set()

    def __enter__(self) -> Recorder:
        self.thread.start()
        assert self.first.wait(20), "the microphone delivered nothing"
        if self.error:
            raise self.error
        return self

    def __exit__(self, *_: object) -> None:
        self.mic.stop()
        self.thread.join(20)
        assert not self.thread.is_alive(), "the microphone did not stop"

    def samples(self) -> np.ndarray:
        return np.frombuffer(b"".join(c.pcm for c in self.chunks), dtype="<i2").astype(np.float64)


def frames_10ms(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Per 10 ms frame: RMS and dominant frequency."""
    size = rate // 100
    frames = x[: len(x) // size * size].reshape(-1, size)
    rms = np.sqrt((frames**2).mean(axis=1))
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1))
    return rms, np.fft.rfftfreq(size, 1 / rate)[spectrum.argmax(axis=1)]


def seconds_of(x: np.ndarray, rate: int, freq: float) -> float:
    """How long `freq` is the loud, dominant sound in `x`."""
    rms, peak = frames_10ms(x, rate)
    return float(np.count_nonzero((rms > TONE_LEVEL / 4) & (np.abs(peak - freq) < 60))) / 100


def best_alignment(recorded: np.ndarray, played: np.ndarray) -> tuple[float, int]:
    """Normalised cross-correlation peak of `played` inside `recorded`, and its lag in samples."""
    n = len(recorded) + len(played)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(played, size)), size)[: len(recorded)]
    lag = int(np.argmax(corr))
    window = recorded[lag : lag + len(played)]
    played = played[: len(window)]
    return float(corr[lag] / (np.linalg.norm(window) * np.linalg.norm(played) + 1e-9)), lag


def test_unknown_backend_is_refused() -> None:
    for make in (lambda: Microphone(16000, backend="alsa"), lambda: Loudspeaker(16000, backend="alsa")):
        with pytest.raises(AssistantError) as caught:
            make()
        assert "'alsa'" in str(caught.value) and all(b in str(caught.value) for b in BACKENDS)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_play_and_record(pulse: str, backend: str) -> None:
    """A tone and a real recording, played at the TTS voice's own rate, come back through the mic."""
    rate = 16000
    voice_rate = 22050  # piper's rate: the loudspeaker resamples
    speech = read_wav(RECORDING)
    played_tone = tone(1000.0, voice_rate, 1.0)
    with Recorder(rate, backend) as recorder:
        time.sleep(0.3)
        speaker = Loudspeaker(rate, backend=backend)
        out = list(speaker.process(SynthesizedAudio(pcm_of(played_tone), voice_rate, text="tone")))
        assert [type(f) for f in out] == [SynthesizedAudio]
        list(speaker.process(SynthesizedAudio(resample(speech, voice_rate).pcm, voice_rate, text="speech")))
        assert speaker.idle.wait(20), "the loudspeaker never finished"
        list(speaker.process(EndOfCall()))
        assert not speaker.thread.is_alive()
        time.sleep(0.5)
    x = recorder.samples()

    # the microphone's chunks: 30 ms each, timed by their position in the stream
    assert all(len(c.pcm) == rate * 30 // 1000 * 2 for c in recorder.chunks)
    assert all(c.sample_rate == rate for c in recorder.chunks)
    assert [round(c.t, 6) for c in recorder.chunks] == [round(i * 0.03, 6) for i in range(len(recorder.chunks))]

    # the tone: right pitch, right length (within 100 ms), unchanged level (within 1 dB)
    assert seconds_of(x, rate, 1000.0) == pytest.approx(1.0, abs=0.1)
    rms, peak = frames_10ms(x, rate)
    level = rms[(rms > TONE_LEVEL / 4) & (np.abs(peak - 1000.0) < 60)]
    assert 20 * np.log10(np.median(level) / (TONE_LEVEL / np.sqrt(2))) == pytest.approx(0.0, abs=1.0)

    # the speech: found in the recording, almost unchanged, after the tone
    reference = np.frombuffer(speech.pcm, dtype="<i2").astype(np.float64)
    similarity, lag = best_alignment(x, reference)
    assert similarity > 0.9, f"played speech not found in the recording (correlation {similarity:.2f})"
    tone_start = int(np.argmax((rms > TONE_LEVEL / 4) & (np.abs(peak - 1000.0) < 60))) * rate // 100
    assert lag / rate == pytest.approx(tone_start / rate + 1.0, abs=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_interruption_stops_playback(pulse: str, backend: str) -> None:
    """Barge-in drops the rest of the reply at once; the next reply plays whole."""
    rate = 16000
    with Recorder(rate, backend) as recorder:
        time.sleep(0.3)
        speaker = Loudspeaker(rate, backend=backend)
        list(speaker.process(SynthesizedAudio(pcm_of(tone(1000.0, rate, 3.0)), rate)))
        list(speaker.process(SynthesizedAudio(pcm_of(tone(1500.0, rate, 1.0)), rate)))  # queued, dropped
        time.sleep(0.5)
        list(speaker.process(Interruption()))
        assert speaker.idle.wait(5), "playback went on after the interruption"
        list(speaker.process(SynthesizedAudio(pcm_of(tone(2000.0, rate, 0.5)), rate)))
        assert speaker.idle.wait(10)
        list(speaker.process(EndOfCall()))
        time.sleep(0.5)
    x = recorder.samples()
    assert 0.2 <= seconds_of(x, rate, 1000.0) <= 1.0, "the interrupted reply played on"
    assert seconds_of(x, rate, 1500.0) == 0.0, "a reply queued before the interruption was played"
    assert seconds_of(x, rate, 2000.0) == pytest.approx(0.5, abs=0.1), "the next reply did not play whole"


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_telephone_rate(pulse: str, backend: str) -> None:
    """At 8 kHz (telephone streams) too: the tone comes back at its pitch."""
    rate = 8000
    with Recorder(rate, backend) as recorder:
        time.sleep(0.3)
        speaker = Loudspeaker(rate, backend=backend)
        list(speaker.process(SynthesizedAudio(pcm_of(tone(700.0, 16000, 0.6)), 16000)))
        assert speaker.idle.wait(10)
        list(speaker.process(EndOfCall()))
        time.sleep(0.4)
    assert all(len(c.pcm) == 8000 * 30 // 1000 * 2 for c in recorder.chunks)
    assert seconds_of(recorder.samples(), rate, 700.0) == pytest.approx(0.6, abs=0.1)


@pytest.mark.slow
def test_missing_devices_give_clear_errors(pulse: str) -> None:
    with pytest.raises(AssistantError, match=r"cannot open the loudspeaker \(sounddevice\)"):
        Loudspeaker(16000, backend="sounddevice", device="no-such-device")
    with pytest.raises(AssistantError, match=r"cannot open the loudspeaker \(pyaudio\)"):
        Loudspeaker(16000, backend="pyaudio", device="999")
    for backend, device in (("sounddevice", "no-such-device"), ("pyaudio", "999")):
        with pytest.raises(AssistantError, match=rf"cannot open the microphone \({backend}\).*--text or --wav"):
            next(iter(Microphone(16000, backend=backend, device=device)))


def test_recording_is_there() -> None:
    assert Path(RECORDING).is_file()
    assert read_wav(RECORDING).sample_rate == 16000
    assert isinstance(Audio(b"", 16000).seconds, float)
