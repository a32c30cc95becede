"""Call recording (assistant/storage/recordings.py, the tap in assistant/core/session.py): a stereo WAV
written as the call goes, both directions on the call's clock, silent while a PIN is asked for;
recordings deleted after their retention; the desk's route to a ticket's recording for those allowed
to hear it; and a real call whose recording the end-of-run scan listens to for keypad tones."""
from __future__ import annotations

import asyncio
import tempfile
import time
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from call_lines import FRAME_BYTES, Talker, until
from desk_server import PASSWORD, hand_off
from fastapi import FastAPI
from fastapi.testclient import TestClient
from secret_scan import dtmf_keys, secrets_in, wav_keys, written_texts

from assistant.core.audio import Audio, read_wav, write_wav
from assistant.core.frames import (
    AudioChunk,
    CallStarted,
    DialogTurn,
    Dtmf,
    EndOfCall,
    FinalTranscript,
    Frame,
    SynthesizedAudio,
)
from assistant.core.pipeline import Processor
from assistant.core.session import CallSession
from assistant.core.turn import Turn
from assistant.runtime.desk import desk_app
from assistant.runtime.workers import RecordingRetention
from assistant.storage.calls import CallStore
from assistant.storage.recordings import HOLD_S, CallRecorder, Recordings, StereoWav
from domain.clock import PinnedClock
from domain.config import Config

pytestmark = pytest.mark.both_databases

RATE = 8000
PIN = "147258"  # the seeded customer's, whom CALLER identifies
CALLER = "13800138000"
_TONES = {key: (row, column) for row, keys in zip((697, 770, 852, 941), ("123A", "456B", "789C", "*0#D"))
          for key, column in zip(keys, (1209, 1336, 1477, 1633))}


def tones(keys: str, rate: int = RATE, on_s: float = 0.1, off_s: float = 0.1) -> bytes:
    """Keys as in-band DTMF tones, each `on_s` long with `off_s` of silence after it."""
    t = np.arange(int(rate * on_s)) / rate
    gap = np.zeros(int(rate * off_s))
    parts = [np.concatenate([6000 * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)), gap])
             for low, high in (_TONES[key] for key in keys)]
    return np.concatenate(parts).astype("<i2").tobytes()


def turn(awaiting: str | None) -> Turn:
    return Turn("", "", None, None, awaiting, {}, None, None)


def channels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(path), "rb") as recording:
        assert (recording.getnchannels(), recording.getsampwidth(), recording.getframerate()) == (2, 2, RATE)
        samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2")
    return samples[0::2], samples[1::2]


def ramp(seconds: float, start: int) -> bytes:
    """Recognisable audio: every sample its own value."""
    return (np.arange(int(RATE * seconds)) + start).astype("<i2").tobytes()


# The writer.

def test_both_directions_are_written_aligned_and_the_file_is_a_valid_wav_after_every_append(tmp_path: Path) -> None:
    lengths: list[float] = []
    wav = StereoWav(tmp_path / "call.wav", RATE)
    recorder = CallRecorder(wav, lengths.append)
    caller, reply = ramp(3.0, 1), ramp(0.5, 20000)
    for i in range(150):  # 3 s of the caller in 20 ms chunks, pushed as they came
        recorder.heard(AudioChunk(caller[i * 320:(i + 1) * 320], RATE, i * 0.02), i * 0.02)
        if 25 <= i < 50:  # a reply frame starting 0.5 s in, sent while the caller talks
            recorder.said(reply[(i - 25) * 320:(i - 24) * 320], i * 0.02)
        with wave.open(str(wav.path), "rb") as partial:  # what a crash would leave
            assert partial.getnchannels() == 2 and partial.getnframes() == wav.frames
    assert 0 < wav.frames <= len(caller) // 2 - HOLD_S * RATE + 160  # written as it goes, HOLD_S behind
    recorder.close()
    left, right = channels(wav.path)
    assert left.tobytes() == caller
    assert not right[:4000].any() and right[4000:8000].tobytes() == reply and not right[8000:].any()
    assert lengths == [3.0]


def test_a_caller_stream_that_starts_late_is_placed_when_it_arrived(tmp_path: Path) -> None:
    wav = StereoWav(tmp_path / "call.wav", RATE)
    recorder = CallRecorder(wav, lambda seconds: None)
    recorder.said(ramp(0.02, 100), 0.0)  # the greeting starts at once
    caller = ramp(0.5, 1)
    for i in range(25):  # the transport's stream time starts at 0 a quarter of a second into the call
        recorder.heard(AudioChunk(caller[i * 320:(i + 1) * 320], RATE, i * 0.02), 0.25 + i * 0.02)
    recorder.close()
    left, right = channels(wav.path)
    assert not left[:2000].any() and left[2000:6000].tobytes() == caller
    assert right[:160].tobytes() == ramp(0.02, 100)


def test_from_the_turn_asking_for_a_pin_until_the_next_both_directions_are_silent(tmp_path: Path) -> None:
    wav = StereoWav(tmp_path / "call.wav", RATE)
    recorder = CallRecorder(wav, lambda seconds: None)
    loud = ramp(0.1, 1)
    for second, awaiting in enumerate(("account", "pin", None)):
        recorder.turn(turn(awaiting))
        recorder.heard(AudioChunk(loud, RATE, second), second)
        recorder.said(loud, second + 0.5)
    recorder.close()
    for channel, offset in zip(channels(wav.path), (0, 4000)):
        assert channel[offset:offset + 800].tobytes() == loud  # before
        assert len(channel) == 2 * RATE + 4000 + 800 and not channel[RATE:2 * RATE].any()  # muted, kept in time
        assert channel[2 * RATE + offset:2 * RATE + offset + 800].tobytes() == loud  # after


# The session's tap.

class Script(Processor):
    """A stand-in dialog: the greeting, a turn asking for a PIN on "查余额", the next turn on "done";
    each reply a key's tone, so the recording's right channel can be read back by ear."""

    REPLIES = {"查余额": ("pin", "0"), "done": (None, "5")}

    def process(self, frame: Frame) -> Iterator[Frame]:
        yield frame
        if isinstance(frame, CallStarted):
            awaiting, key = None, "*"
        elif isinstance(frame, FinalTranscript):
            awaiting, key = self.REPLIES[frame.text]
        else:
            return
        yield DialogTurn(turn(awaiting))
        yield SynthesizedAudio(tones(key), RATE, key)


class Counted:
    """The far end: how many reply frames it has been sent."""

    def __init__(self) -> None:
        self.frames = 0

    async def send(self, pcm: bytes) -> None:
        self.frames += 1

    async def clear(self) -> None:
        pass


async def played_out(sink: Counted, timeout: float) -> None:
    """Until no reply frame has gone out for 3 s (sentences are synthesised one by one)."""
    deadline = time.monotonic() + timeout
    sent = -1
    while sent != sink.frames:
        assert time.monotonic() < deadline, "the reply went on too long"
        sent = sink.frames
        await asyncio.sleep(3)


async def play(session: CallSession, pcm: bytes, clock: list[float]) -> None:
    """The caller's audio in real time, 20 ms at a time; `clock` holds the stream time so far."""
    start, t0 = time.monotonic(), clock[0]
    for i in range(0, len(pcm), FRAME_BYTES):
        await asyncio.sleep(max(0.0, start + (clock[0] - t0) - time.monotonic()))
        session.push(AudioChunk(pcm[i:i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0"), RATE, clock[0]))
        clock[0] += 0.02


def test_the_session_mutes_in_band_pin_tones_from_the_turn_asking_until_the_next(tmp_path: Path) -> None:
    wav = StereoWav(tmp_path / "call.wav", RATE)
    turns: list[Turn] = []

    async def call() -> None:
        sink = Counted()
        session = CallSession(CallStarted("t1", sample_rate=RATE), [Script()], sink, executor,
                              lambda f: turns.append(f.turn) if isinstance(f, DialogTurn) else None,
                              tap=CallRecorder(wav, lambda seconds: None))
        running = asyncio.create_task(session.run())
        clock = [0.0]
        await until(lambda: sink.frames >= 10, 5, "the greeting")
        await play(session, tones("12"), clock)
        session.push(FinalTranscript("查余额"))
        await until(lambda: len(turns) == 2, 5, "the turn asking for the PIN")
        await play(session, tones(PIN), clock)
        session.push(FinalTranscript("done"))
        await until(lambda: len(turns) == 3, 5, "the next turn")
        await play(session, tones("#9"), clock)
        await until(lambda: sink.frames >= 30, 5, "the last reply")
        session.push(EndOfCall())
        await asyncio.wait_for(running, 5)

    with ThreadPoolExecutor(2) as executor:
        asyncio.run(call())
    assert dtmf_keys(np.frombuffer(tones(PIN), dtype="<i2"), RATE) == PIN  # the ear hears tones like these
    assert wav_keys(wav.path) == ["12#9", "*5"]  # the PIN and the PIN prompt were not recorded


# Retention.

def test_recordings_past_their_retention_are_deleted_file_and_row(call_database: str, tmp_path: Path) -> None:
    clock = PinnedClock(datetime(2025, 1, 6, 10, 0))
    store = CallStore(call_database, clock)
    recordings = Recordings(store.db, store.stamp)
    paths = []
    for days_later in (0, 60):
        clock.advance(days=days_later)
        call_id = store.open_call(CALLER)
        paths.append(tmp_path / f"{call_id}.wav")
        StereoWav(paths[-1], RATE).close()
        recordings.add(call_id, paths[-1])
    clock.advance(days=31)  # the first is 91 days old, the second 31
    retention = RecordingRetention(recordings, clock, days=90, every_s=3600)
    assert retention.tick() == [paths[0]] and retention.tick() == []
    assert not paths[0].exists() and paths[1].exists()
    assert [r.path for r in recordings.started_before(store.stamp())] == [paths[1]]
    store.db.close()


def test_the_desk_server_runs_the_retention_job_as_configured(config: Config, call_database: str) -> None:
    app = desk_app(config, call_database, PinnedClock(datetime(2025, 1, 6, 10, 0)))
    kept = [work for work in app.state.services.background if isinstance(work, RecordingRetention)]
    assert [(r.days, r.every_s) for r in kept] == [(90, 3600)]  # config.yml recording.retention_days


# The desk.

def logged_in(app: FastAPI, name: str) -> TestClient:
    client = TestClient(app)
    assert client.post("/api/login", json={"name": name, "password": PASSWORD}).status_code == 200
    return client


@pytest.fixture()
def desk(config: Config, call_database: str) -> Iterator[tuple[FastAPI, CallStore]]:
    clock = PinnedClock(datetime(2025, 1, 6, 10, 0))
    app = desk_app(config, call_database, clock)
    accounts = app.state.services.accounts
    for name in ("王芳", "李娜"):
        accounts.add_user(name, "agent", PASSWORD, ["general", "cards"])
    accounts.add_user("陈主管", "supervisor", PASSWORD)
    store = CallStore(call_database, clock)
    yield app, store
    store.db.close()


def test_a_tickets_recording_is_for_supervisors_and_the_agent_who_took_it(desk: tuple[FastAPI, CallStore],
                                                                          tmp_path: Path) -> None:
    app, store = desk
    recorded, unrecorded = hand_off(store), hand_off(store)
    path = tmp_path / "call.wav"
    wav = StereoWav(path, RATE)
    wav.append(ramp(0.1, 1), ramp(0.1, 2))
    wav.close()
    call_id = store.db.value("SELECT call_id FROM handoffs WHERE id = ?", (recorded,))
    Recordings(store.db, store.stamp).add(call_id, path)
    wang, li, chen = (logged_in(app, name) for name in ("王芳", "李娜", "陈主管"))
    assert wang.post("/api/calls/next").json()["ticket"] == recorded
    for allowed in (chen, wang):
        heard = allowed.get(f"/api/calls/{recorded}/recording")
        assert heard.status_code == 200 and heard.headers["content-type"] == "audio/wav"
        assert heard.content == path.read_bytes()
    assert li.get(f"/api/calls/{recorded}/recording").status_code == 403
    assert chen.get(f"/api/calls/{unrecorded}/recording").status_code == 404
    assert chen.get("/api/calls/999/recording").status_code == 404
    assert li.get("/api/calls/999/recording").status_code == 403  # an agent cannot probe for tickets
    assert TestClient(app).get(f"/api/calls/{recorded}/recording").status_code == 401
    path.unlink()
    assert chen.get(f"/api/calls/{recorded}/recording").status_code == 404


def test_the_agent_page_links_the_calls_recording(desk: tuple[FastAPI, CallStore]) -> None:
    app, _ = desk
    page = logged_in(app, "王芳")
    assert 'id="call-recording"' in page.get("/agent").text
    script = page.get("/static/desk.js").text
    assert "/api/calls/${ticket}/recording" in script and 'el("audio"' in script


# A real call.

@pytest.mark.slow
def test_a_real_call_is_recorded_both_ways_and_its_pin_tones_are_not(assistant: Any, banking_dev: list,
                                                                     tmp_path: Path) -> None:
    request = next(r for r in banking_dev if r.channel == "phone" and r.utterance == "查询余额")
    audio = read_wav(request.path)
    assert audio.sample_rate == RATE
    pin_tones = tones(PIN + "#")

    async def call() -> tuple[CallSession, list[Turn]]:
        turns: list[Turn] = []
        sink = Counted()
        session = assistant.open_call(CallStarted("recorded", CALLER, sample_rate=RATE, channel="test"), sink,
                                      lambda f: turns.append(f.turn) if isinstance(f, DialogTurn) else None)
        running = asyncio.create_task(session.run())
        stream_t = [0.0]

        async def send(pcm: bytes) -> None:
            session.push(AudioChunk(pcm, RATE, stream_t[0]))
            stream_t[0] += 0.02

        phone = Talker(send)
        phone.start()
        try:
            await until(lambda: sink.frames > 0, 120, "the greeting")
            await played_out(sink, 120)
            phone.say(audio.pcm)
            await until(lambda: any(t.awaiting == "pin" for t in turns), 120, "the PIN prompt")
            asked = len(turns)
            await played_out(sink, 120)
            phone.say(pin_tones)  # the phone sends the keys in band and as RFC 4733 events
            await until(lambda: not phone.saying, 10, "the tones")
            for key in PIN + "#":
                session.push(Dtmf(key))
            await until(lambda: len(turns) > asked, 120, "the balance")
            assert turns[-1].transaction is not None and turns[-1].transaction.status == "ok"
            await played_out(sink, 120)
        finally:
            await phone.stop()
        session.push(EndOfCall())
        await asyncio.wait_for(running, 60)
        return session, turns

    session, turns = asyncio.run(call())
    path = session.tap.wav.path
    recording = assistant.recordings.of_call(path.stem)
    assert recording.path == path and recording.duration_s == pytest.approx(session.tap.wav.seconds)
    assert recording.duration_s > audio.seconds + len(pin_tones) / 2 / RATE
    assert dtmf_keys(np.frombuffer(pin_tones, dtype="<i2"), RATE) == PIN + "#"  # tones the ear would catch
    assert not any(PIN in keys for keys in wav_keys(path))
    heard = []
    for side, samples in zip(("caller", "assistant"), channels(path)):
        mono = tmp_path / f"{side}.wav"
        write_wav(mono, Audio(samples.tobytes(), RATE))
        heard.append(assistant.hear_recording(mono).transcript)
    caller, said = heard
    assert "余额" in caller
    assert "余额" in said and "借记卡" in said  # the greeting and the balance


def test_the_end_of_run_scan_hears_a_pins_tones_in_a_recording() -> None:
    with tempfile.TemporaryDirectory() as folder:  # not the run's temporary folders, which the scan reads
        wav = StereoWav(Path(folder) / "call.wav", RATE)
        said = tones(PIN)
        wav.append(bytes(len(said)), said)
        wav.close()
        assert [secrets_in({PIN}, text) for _, text in written_texts([Path(folder)])] == [{PIN}]
