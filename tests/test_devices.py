"""Microphone and loudspeaker for real, through a private PulseAudio server with a null sink.

The server's default sink is `test_sink` and its default source is that sink's monitor, so what the
Loudspeaker plays comes back through the Microphone. For a whole call the default source is
`caller_sink`'s monitor instead: the test's caller plays into that sink, so the assistant hears the
caller and not its own voice, and what it says is heard on `test_sink`'s monitor. Both go through PortAudio's ALSA default device,
which the ALSA pulse plugin routes to PulseAudio when a server is running — the path the assistant
uses on a desktop. The server runs in its own HOME / XDG_RUNTIME_DIR under pytest's tmp dir and is
stopped after the module (and exits by itself 30 s after its last client, should pytest die).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any
from pathlib import Path

import numpy as np
import pytest

from assistant.core.audio import Audio, read_wav, resample
from assistant.core.errors import AssistantError
from assistant.cli.chat import run_chat, talk
from assistant.core.frames import AudioChunk, CallStarted, EndOfCall, Frame, Interruption, SynthesizedAudio
from assistant.core.pipeline import Processor
from assistant.core.session import CallSession
from assistant.transports.local import BACKENDS, Loudspeaker, Microphone
from domain.config import load_config

RECORDING = load_config().models_dir / "speech" / "IT0011W0001.wav"
TONE_LEVEL = 8000.0
CALLER = "13800138000"
SHARED_POOLS = ("call", "asr", "tts")  # thread name prefixes of the voice service's shared executors


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
            "-L", "module-null-sink sink_name=caller_sink",
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
    """What the Microphone hears while inside, chunk by chunk as PortAudio hands them over."""

    def __init__(self, rate: int, backend: str) -> None:
        self.mic = Microphone(rate, chunk_ms=30, backend=backend)
        self.chunks: list[AudioChunk] = []
        self.first = threading.Event()
        self.recording = ExitStack()

    def _heard(self, chunk: AudioChunk) -> None:
        self.chunks.append(chunk)
        self.first.set()

    def __enter__(self) -> Recorder:
        self.recording.enter_context(self.mic.open(self._heard))
        assert self.first.wait(20), "the microphone delivered nothing"
        return self

    def __exit__(self, *_: object) -> None:
        self.recording.close()

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


def share_played(recorded: np.ndarray, said: np.ndarray, piece: int = 3200) -> float:
    """Share of the 200 ms pieces of `said` found in `recorded` (correlation above 0.95). Output is
    kept at most 100 ms ahead of the device, so on a loaded machine the device may run dry for a
    moment: a piece cut by such a gap is missed, the rest are still found."""
    pieces = [p for i in range(0, len(said) - piece + 1, piece) if np.sqrt(((p := said[i:i + piece]) ** 2).mean()) > 100]
    return sum(best_alignment(recorded, p)[0] > 0.95 for p in pieces) / len(pieces)  # silent pieces match anything


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
        assert list(speaker.process(EndOfCall())) == [EndOfCall()]
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
            with Microphone(16000, backend=backend, device=device).open(lambda chunk: None):
                pass


def test_recording_is_there() -> None:
    assert Path(RECORDING).is_file()
    assert read_wav(RECORDING).sample_rate == 16000
    assert isinstance(Audio(b"", 16000).seconds, float)


class Seen(Processor):
    """Every frame that reaches it, in order."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds, self.frames = seconds, []

    def process(self, frame: Frame) -> Iterator[Frame]:
        self.frames.append(frame)
        if isinstance(frame, AudioChunk):
            time.sleep(self.seconds)  # a slow decode
        yield frame


class ThreadedMicrophone:
    """Stands in for PortAudio's input: 20 ms chunks handed over from a thread of its own in real
    time, then Ctrl-C (SIGINT to this process), as a person ends the chat."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.handover_s: list[float] = []  # how long each hand-over kept the "PortAudio" thread

    @contextmanager
    def open(self, heard: Callable[[AudioChunk], None]) -> Iterator[None]:
        stop = threading.Event()

        def run() -> None:
            for i in range(self.chunks):
                if stop.wait(0.02):
                    return
                start = time.monotonic()
                heard(AudioChunk(bytes(640), 16000, i * 0.02))
                self.handover_s.append(time.monotonic() - start)
            os.kill(os.getpid(), signal.SIGINT)

        thread = threading.Thread(target=run)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(5)


def test_a_live_call_takes_the_microphone_from_its_thread_and_ends_on_ctrl_c() -> None:
    """A slow decode never holds up the microphone; Ctrl-C hangs up and `talk` returns."""
    stage, view = Seen(seconds=0.05), Seen()
    microphone = ThreadedMicrophone(chunks=50)
    with ThreadPoolExecutor(2) as executor:
        start = time.monotonic()
        talk(lambda call, sink, observe: CallSession(call, [stage], sink, executor, observe),
             CallStarted("live"), microphone, [view], backend=None)
        took = time.monotonic() - start
    assert len(microphone.handover_s) == 50 and max(microphone.handover_s) < 0.01
    assert took < 1.0 + 0.5  # a second of audio, then the hang-up overtakes what is still queued
    chunks = [f.t for f in stage.frames if isinstance(f, AudioChunk)]
    assert isinstance(stage.frames[0], CallStarted) and stage.frames[-1] == EndOfCall()
    assert chunks == sorted(chunks) and 0 < len(chunks) < 50
    assert view.frames == stage.frames  # the views saw every frame that left the processors
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_microphone_that_cannot_open_still_hangs_the_call_up() -> None:
    class Broken:
        @contextmanager
        def open(self, heard: Callable[[AudioChunk], None]) -> Iterator[None]:
            raise AssistantError("cannot open the microphone (sounddevice): no device; try --text or --wav")
            yield

    stage = Seen()
    with ThreadPoolExecutor(2) as executor, pytest.raises(AssistantError, match="cannot open the microphone"):
        talk(lambda call, sink, observe: CallSession(call, [stage], sink, executor, observe),
             CallStarted("broken"), Broken(), [], backend=None)
    assert [type(f) for f in stage.frames] == [CallStarted, EndOfCall]


@pytest.fixture()
def caller_line(pulse: str) -> Iterator[str]:
    """The microphone hears `caller_sink` (what the test's caller plays), not the loudspeaker."""
    assert pactl(pulse, "set-default-source", "caller_sink.monitor").returncode == 0
    try:
        yield "caller_sink"
    finally:
        pactl(pulse, "set-default-source", "test_sink.monitor")


def loudness(path: Path) -> np.ndarray:
    """RMS per 10 ms of raw 16 kHz PCM captured so far."""
    return frames_10ms(np.fromfile(path, dtype="<i2").astype(np.float64), 16000)[0]


@pytest.mark.slow
def test_a_call_on_the_microphone_and_loudspeaker(pulse: str, caller_line: str, assistant: Any,
                                                   banking_dev: list, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`assistant chat` by voice: the greeting on the loudspeaker, a request said into the microphone
    routed to its function, Ctrl-C ends the call, and nothing is left running."""
    request = next(r for r in banking_dev if r.channel == "clean" and r.intent == "balance_inquiry")
    heard, saved = tmp_path / "loudspeaker.raw", tmp_path / "reply.wav"
    steps: list[str] = []
    done = threading.Event()

    def wait(what: str, condition: Callable[[np.ndarray], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not done.is_set() and time.monotonic() < deadline:
            if condition(loudness(heard)):
                steps.append(what)
                return True
            time.sleep(0.1)
        return False

    def quiet_after(start: int, quiet_s: float) -> Callable[[np.ndarray], bool]:
        """Loud audio after 10 ms frame `start`, then `quiet_s` without."""
        def condition(rms: np.ndarray) -> bool:
            loud = np.flatnonzero(rms[start:] > 300)
            return len(loud) > 0 and len(rms) - (start + loud[-1]) > quiet_s * 100
        return condition

    def caller() -> None:
        if wait("greeting", quiet_after(0, 0.8), 90):
            mark = len(loudness(heard))
            subprocess.run(["paplay", "--server", pulse, "-d", caller_line, str(request.path)], timeout=30, check=True)
            # the reply's sentences are synthesised one by one: on a busy machine the gap between
            # two can pass a second, so its end is 3 s of quiet (it then waits for the PIN)
            wait("reply", quiet_after(mark, 3.0), 90)
        if not done.is_set():
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C

    with heard.open("wb") as out:
        recorder = subprocess.Popen(["parec", "--server", pulse, "-d", "test_sink.monitor", "--raw", "--format=s16le",
                                     "--rate=16000", "--channels=1"], stdout=out)
        before = set(threading.enumerate())
        helper = threading.Thread(target=caller, name="test-caller")
        start = time.monotonic()
        helper.start()
        try:
            run_chat(assistant, text=False, wav=None, speak=True, save=saved, as_json=True, caller=CALLER)
        finally:
            done.set()
            helper.join(60)
            recorder.terminate()
            recorder.wait(10)
    took = time.monotonic() - start
    assert steps == ["greeting", "reply"], f"reached only {steps}"
    assert took < 240

    greeting, *turns = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert greeting["say"] == assistant.catalog.prompts["greeting"] and greeting["heard"] == ""
    assert [turn["intent"] for turn in turns] == [request.intent], turns

    # what the loudspeaker played is what the call said (--save keeps it): the greeting's first second
    # (the reply was heard: the caller waited for it above)
    said = np.frombuffer(read_wav(saved).pcm, dtype="<i2").astype(np.float64)
    played = np.fromfile(heard, dtype="<i2").astype(np.float64)
    # The greeting's first second only half: the device may run dry in the call's first seconds,
    # while the process is at its busiest (README, the open defect under "How it works").
    first = share_played(played, said[:16000])
    assert first >= 0.5, f"the greeting is not on the loudspeaker ({first:.0%} of its first second found)"
    onset = int(np.argmax(np.abs(said) > 1000))  # the greeting's first sound
    _, at = best_alignment(played, said[onset:onset + 3200])
    assert at > 0 and np.sqrt((played[:at] ** 2).mean()) < 100, "something was played before the greeting"

    left = [t.name for t in set(threading.enumerate()) - before if not t.name.startswith(SHARED_POOLS)]
    assert not left, left
