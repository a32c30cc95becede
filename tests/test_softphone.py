"""The browser softphone (assistant/transports/softphone.py): its WebSocket protocol, bad input from a
page ending that call only, and (slow) a person's call in headless Chromium, the microphone a banking_dev
recording, routed by the real models, the reply audio played on the page and the PIN keyed on its keypad."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from assistant.core.audio import Audio, read_wav, resample, write_wav
from assistant.core.frames import (
    AudioChunk,
    CallStarted,
    DialogTurn,
    Dtmf,
    EndOfCall,
    FinalTranscript,
    Frame,
    IntentResult,
    Interruption,
    SpeechStarted,
    SpeechStopped,
    SynthesizedAudio,
)
from assistant.core.pipeline import Processor
from assistant.core.session import AudioSink, CallSession
from assistant.core.turn import Turn
from assistant.transports import softphone
from assistant.transports.softphone import MAX_AUDIO_BYTES, softphone_router

CALLER = "13800138000"
FRAME = bytes(640)  # 20 ms of 16 kHz silence
GREETING_S = 0.6


def turn(heard: str, say: str) -> Turn:
    return Turn(heard=heard, say=say, intent=None, function=None, awaiting=None, slots={}, transaction=None,
                escalation=None)


class Phone(Processor):
    """A call's processors, small: greets with `greeting_s` of a sawtooth, answers each key with a turn,
    barges in once the caller's audio reaches `barge_in_at` s if told to, fails on "#" if told to, and
    notes what reached it."""

    def __init__(self, greeting_s: float = GREETING_S, barge_in_at: float | None = None,
                 fail_on_hash: bool = False) -> None:
        self.greeting_s, self.barge_in_at, self.fail_on_hash = greeting_s, barge_in_at, fail_on_hash
        self.frames: list[Frame] = []

    def process(self, frame: Frame) -> Iterator[Frame]:
        self.frames.append(frame)
        yield frame
        if isinstance(frame, CallStarted):
            yield DialogTurn(turn("", "您好"))
            yield SynthesizedAudio(bytes(range(256)) * int(self.greeting_s * 16000 * 2 / 256), 16000, "您好")
        elif isinstance(frame, Dtmf):
            if frame.digit == "#" and self.fail_on_hash:
                raise RuntimeError("a back end failed")
            yield DialogTurn(turn("（按键）*", f"您按了{frame.digit}"))
        elif isinstance(frame, AudioChunk) and self.barge_in_at is not None and frame.t >= self.barge_in_at:
            self.barge_in_at = None
            yield Interruption()

    def of(self, kind: type) -> list[Any]:
        return [f for f in self.frames if isinstance(f, kind)]


class Opener:
    """The CallOpener the router is given: each call a real CallSession over a Phone; it observes too."""

    def __init__(self, executor: ThreadPoolExecutor, **phone: Any) -> None:
        self.executor, self.phone = executor, phone
        self.calls: list[tuple[CallStarted, Phone]] = []
        self.observed: list[Frame] = []
        self.refuse = False

    def __call__(self, call: CallStarted, sink: AudioSink | None) -> CallSession:
        if self.refuse:
            raise RuntimeError("at the call limit")
        phone = Phone(**self.phone)
        self.calls.append((call, phone))
        return CallSession(call, [phone], sink, self.executor, self.observed.append)


@pytest.fixture()
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as pool:
        yield pool


@contextmanager
def client_for(opener: Opener) -> Iterator[TestClient]:
    """A client of the router in a small app; all its sockets on one event loop, as on a server."""
    app = FastAPI()
    app.include_router(softphone_router(opener))
    with TestClient(app) as client:
        yield client


def until(condition: Any, timeout: float = 5.0, state: Callable[[], Any] = lambda: None) -> None:
    """Waits for `condition`; on timing out, what `state` returns is in the failure."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s; {state()}")
        time.sleep(0.01)


def next_json(socket: Any) -> dict[str, Any]:
    """The next text message, the reply audio before it counted in `socket.audio`."""
    while True:
        message = socket.receive()
        if message["type"] == "websocket.close":
            raise WebSocketDisconnect(message["code"], message.get("reason"))
        if message.get("bytes") is not None:
            socket.audio.append(message["bytes"])
            continue
        return json.loads(message["text"])


@contextmanager
def call(client: TestClient, start: dict[str, Any] | None = None, **headers: str) -> Iterator[Any]:
    with client.websocket_connect("/softphone/ws", headers=headers) as socket:
        socket.audio = []
        if start is not None:
            socket.send_json(start)
        yield socket


def test_the_page_and_everything_it_loads_are_served_here(executor: ThreadPoolExecutor) -> None:
    with client_for(Opener(executor)) as client:
        page_and_assets(client)


def page_and_assets(client: TestClient) -> None:
    page = client.get("/softphone")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    script = client.get("/softphone/static/softphone.js")
    loaded += re.findall(r'addModule\("([^"]+)"\)', script.text)  # the AudioWorklet
    assert sorted(loaded) == ["data:,", "softphone/static/capture.js", "softphone/static/softphone.css",
                              "softphone/static/softphone.js"]  # relative: wherever the app mounts the router
    for address in (a for a in loaded if not a.startswith("data:")):
        answer = client.get(f"/{address}")
        assert answer.status_code == 200
        assert "http://" not in answer.text and "https://" not in answer.text  # no CDN, no other host
    for name in ("softphone.html", "../softphone.py", "..%2Fsoftphone.py", "nothing.js"):
        assert client.get(f"/softphone/static/{name}").status_code == 404


def test_a_call_greets_plays_audio_takes_keys_and_hangs_up(executor: ThreadPoolExecutor) -> None:
    opener = Opener(executor)
    with client_for(opener) as client:
        with call(client, {"type": "start", "caller": CALLER}) as socket:
            started = next_json(socket)
            assert started["type"] == "started"
            greeting = next_json(socket)
            assert greeting["type"] == "turn" and greeting["say"] == "您好" and greeting["heard"] == ""
            for _ in range(10):
                socket.send_bytes(FRAME)
            socket.send_json({"type": "dtmf", "digit": "5"})
            answer = next_json(socket)
            assert answer == {"type": "turn", **turn("（按键）*", "您按了5").to_json()}
            socket.send_json({"type": "hangup"})
            with pytest.raises(WebSocketDisconnect) as closed:
                next_json(socket)
        (started_call, phone), = opener.calls
        until(lambda: phone.of(EndOfCall))  # the hang-up ended the call: the dialog is closed
    assert closed.value.code == 1000
    assert started_call.call_id == started["call"]
    assert (started_call.caller, started_call.channel, started_call.sample_rate, started_call.direction) == (
        CALLER, "softphone", 16000, "inbound")
    chunks = phone.of(AudioChunk)
    assert [c.t for c in chunks] == pytest.approx([i * 0.02 for i in range(10)])  # stream time, in order
    assert all(c.pcm == FRAME and c.sample_rate == 16000 for c in chunks)
    assert phone.of(Dtmf) == [Dtmf("5")]
    # the greeting's audio came in 20 ms frames, as much as had been played before the hang-up
    assert socket.audio and all(len(pcm) == 640 for pcm in socket.audio)
    assert any(isinstance(f, DialogTurn) for f in opener.observed)  # the opener's observer still sees it all


def test_the_whole_reply_arrives_in_real_time(executor: ThreadPoolExecutor) -> None:
    with client_for(Opener(executor)) as client, call(client, {"type": "start"}) as socket:
        next_json(socket), next_json(socket)  # started, the greeting's turn
        begun = time.monotonic()
        received = 0
        while received < GREETING_S * 32000:
            message = socket.receive()
            received += len(message.get("bytes") or b"")
        took = time.monotonic() - begun
    assert received == GREETING_S * 32000
    assert GREETING_S - 0.15 <= took <= GREETING_S + 0.5  # paced, at most 100 ms ahead


def test_barging_in_tells_the_page_to_clear_and_stops_the_reply(executor: ThreadPoolExecutor) -> None:
    opener = Opener(executor, barge_in_at=0.0)
    with client_for(opener) as client, call(client, {"type": "start"}) as socket:
        assert next_json(socket)["type"] == "started"
        next_json(socket)
        while not socket.audio:  # the greeting is playing
            socket.audio.append(socket.receive_bytes())
        socket.send_bytes(FRAME)  # the caller speaks
        assert next_json(socket) == {"type": "clear"}
        heard = sum(map(len, socket.audio))
        socket.send_json({"type": "dtmf", "digit": "1"})
        next_json(socket)  # the key's turn: nothing of the greeting came after the clear
        assert sum(map(len, socket.audio)) == heard < GREETING_S * 32000 / 2


BAD_STARTS = [
    (lambda s: s.send_bytes(FRAME), "audio before the start message", 1008),
    (lambda s: s.send_text("{start"), "not JSON", 1003),
    (lambda s: s.send_text('["start"]'), "a JSON object", 1008),
    (lambda s: s.send_json({"type": "dtmf", "digit": "1"}), "the first message must be", 1008),
    (lambda s: s.send_json({"type": "start", "caller": "<script>"}), "caller id", 1008),
    (lambda s: s.send_json({"type": "start", "caller": 13800138000}), "caller id", 1008),
    (lambda s: s.send_text(json.dumps({"type": "start", "caller": "1" * 2000})), "longer than", 1009),
]


@pytest.mark.parametrize("send, told, code", BAD_STARTS)
def test_a_bad_first_message_is_told_and_closed_before_any_call(executor: ThreadPoolExecutor, send: Any, told: str,
                                                                 code: int, caplog: pytest.LogCaptureFixture) -> None:
    opener = Opener(executor)
    with caplog.at_level(logging.WARNING, "assistant.transports.softphone"), client_for(opener) as client, \
            call(client) as socket:
        send(socket)
        error = next_json(socket)
        with pytest.raises(WebSocketDisconnect) as closed:
            next_json(socket)
    assert error["type"] == "error" and told in error["message"] and closed.value.code == code
    assert opener.calls == []
    assert [r.getMessage() for r in caplog.records if "closing the call" in r.getMessage()]
    assert "<script>" not in caplog.text  # what the page sent is not echoed into the log


BAD_IN_CALL = [
    (lambda s: s.send_bytes(bytes(641)), "even number", 1003),
    (lambda s: s.send_bytes(b""), "even number", 1003),
    (lambda s: s.send_bytes(bytes(MAX_AUDIO_BYTES + 2)), "over 3200", 1009),
    (lambda s: s.send_text("not json"), "not JSON", 1003),
    (lambda s: s.send_json({"type": "dial"}), "unknown message type", 1008),
    (lambda s: s.send_json({"digit": "1"}), "a JSON object with a \"type\"", 1008),
    (lambda s: s.send_json({"type": "dtmf", "digit": "147258"}), "a key press is one of", 1008),
    (lambda s: s.send_json({"type": "dtmf"}), "a key press is one of", 1008),
    (lambda s: s.send_json({"type": "start"}), "already started", 1008),
    (lambda s: [s.send_bytes(bytes(MAX_AUDIO_BYTES)) for _ in range(30)], "faster than real time", 1008),
]


@pytest.mark.parametrize("send, told, code", BAD_IN_CALL)
def test_bad_input_in_a_call_ends_that_call_only(executor: ThreadPoolExecutor, send: Any, told: str, code: int,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    opener = Opener(executor)
    with caplog.at_level(logging.WARNING, "assistant.transports.softphone"), client_for(opener) as client, \
            call(client, {"type": "start", "caller": CALLER}) as good, call(client, {"type": "start"}) as bad:
        assert next_json(good)["type"] == next_json(bad)["type"] == "started"
        send(bad)
        error = next_json(bad)
        while error["type"] != "error":  # the greeting's turn may come first
            error = next_json(bad)
        with pytest.raises(WebSocketDisconnect) as closed:
            next_json(bad)
        phones = {call.caller: phone for call, phone in opener.calls}
        until(lambda: phones[None].of(EndOfCall))  # the bad call was ended, its dialog closed
        good.send_json({"type": "dtmf", "digit": "#"})  # the other call goes on
        while (answer := next_json(good))["type"] != "turn" or answer["heard"] == "":
            pass
        assert answer["say"] == "您按了#" and not phones[CALLER].of(EndOfCall)
    assert error["message"] and told in error["message"] and closed.value.code == code
    assert "147258" not in caplog.text + error["message"]  # a PIN keyed as one "digit" is echoed nowhere
    assert [r for r in caplog.records if "closing the call" in r.getMessage()]


def test_a_page_that_never_starts_is_let_go(executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(softphone, "START_TIMEOUT_S", 0.3)
    with client_for(Opener(executor)) as client, call(client) as socket:
        error = next_json(socket)
        with pytest.raises(WebSocketDisconnect):
            next_json(socket)
    assert error == {"type": "error", "message": "no start message within 0.3 s"}


def test_a_page_from_another_origin_is_refused_at_the_handshake(executor: ThreadPoolExecutor) -> None:
    opener = Opener(executor)
    with pytest.raises(WebSocketDisconnect) as refused:
        with client_for(opener) as client, call(client, {"type": "start"}, origin="http://elsewhere.example:8000"):
            pass
    assert refused.value.code == 1008 and opener.calls == []
    with client_for(opener) as client, call(client, {"type": "start"}, origin="http://testserver") as socket:  # its own page
        assert next_json(socket)["type"] == "started"


def test_a_call_the_assistant_cannot_take_is_told_to_try_later(executor: ThreadPoolExecutor) -> None:
    opener = Opener(executor)
    opener.refuse = True
    with client_for(opener) as client, call(client, {"type": "start"}) as socket:
        error = next_json(socket)
        with pytest.raises(WebSocketDisconnect) as closed:
            next_json(socket)
    assert "try again later" in error["message"] and closed.value.code == 1013


def test_a_call_that_fails_inside_lets_the_page_go(executor: ThreadPoolExecutor) -> None:
    opener = Opener(executor, fail_on_hash=True)
    with client_for(opener) as client:
        with call(client, {"type": "start"}) as socket:
            next_json(socket)
            socket.send_json({"type": "dtmf", "digit": "#"})
            while (message := next_json(socket))["type"] != "error":
                pass
            with pytest.raises(WebSocketDisconnect) as closed:
                next_json(socket)
        (_, phone), = opener.calls
        until(lambda: phone.of(EndOfCall))  # cleaned up all the same
    assert "failed on our side" in message["message"] and closed.value.code == 1011


def test_a_page_that_goes_away_ends_its_call(executor: ThreadPoolExecutor) -> None:
    opener = Opener(executor)
    with client_for(opener) as client:
        with call(client, {"type": "start"}) as socket:
            next_json(socket)
            socket.send_bytes(FRAME)
        (_, phone), = opener.calls
        until(lambda: phone.of(EndOfCall))


# --- slow: the page in headless Chromium, its microphone a WAV file -----------------------------------------

class Served:
    """The router in a small app, on a real uvicorn at 127.0.0.1 (a free port) in a thread."""

    def __init__(self, opener: Any) -> None:
        import uvicorn

        app = FastAPI()
        app.include_router(softphone_router(opener))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, name="softphone-server", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        until(lambda: self.server.started, 20)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@contextmanager
def chromium(url: str, microphone: Path) -> Iterator[Any]:
    """The softphone page in headless Chromium, `microphone` (a 16-bit PCM WAV) as its microphone, once;
    the page may throw no error."""
    from test_desktop_browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium binary (Debian's chromium package; ./run tests installs it)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    flags = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-audio-capture={microphone}%noloop"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + flags)
        try:
            page = browser.new_page(locale="zh-CN", viewport={"width": 1100, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{url}/softphone")
            yield page
            assert errors == []
        finally:
            browser.close()


def stats(page: Any) -> dict[str, int]:
    """What the page counts: receivedBytes, playedSamples, sentFrames, clears, turns."""
    return page.evaluate("() => ({...window.softphone})")


def spoken(pcm: bytes, rate: int, lead_s: float, tail_s: float, folder: Path) -> Path:
    """A fake microphone file: 48 kHz 16-bit mono (what Chromium reads), padded with silence."""
    audio = resample(Audio(pcm, rate), 48000)
    path = folder / "microphone.wav"
    write_wav(path, Audio(bytes(int(lead_s * 48000) * 2) + audio.pcm + bytes(int(tail_s * 48000) * 2), 48000))
    return path


@pytest.mark.slow
def test_the_page_sends_the_microphone_at_16_khz_plays_replies_and_clears_on_barge_in(
        executor: ThreadPoolExecutor, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    rate, seconds = 48000, 3.0  # a 440 Hz tone as the microphone, the greeting 3 s, barged into at 0.8 s
    tone = (np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate) * 8000).astype("<i2").tobytes()
    opener = Opener(executor, greeting_s=3.0, barge_in_at=0.8)
    with Served(opener) as url, chromium(url, spoken(tone, rate, 0.0, 2.0, tmp_path)) as page:
        page.fill("#caller", CALLER)
        page.click("#call")
        expect(page.locator("#status")).to_have_text("通话中")
        expect(page.locator("#transcript")).to_contain_text("您好")
        until(lambda: stats(page)["clears"] == 1, 10)
        until(lambda: stats(page)["sentFrames"] >= 100, 10)  # two seconds of it
        page.click("#keypad button[data-digit='3']")
        expect(page.locator("#transcript")).to_contain_text("您按了3")
        expect(page.locator("#keys")).to_have_text("●")
        page.click("#hangup")
        expect(page.locator("#status")).to_have_text("未通话")
        expect(page.locator("#message")).to_have_text("通话已结束")
        (call, phone), = opener.calls
        until(lambda: phone.of(EndOfCall))
        after = stats(page)
    assert call.caller == CALLER and phone.of(Dtmf) == [Dtmf("3")]
    chunks = phone.of(AudioChunk)
    assert {len(c.pcm) for c in chunks} == {640}  # 20 ms frames of 16 kHz 16-bit samples
    pcm = np.frombuffer(b"".join(c.pcm for c in chunks), "<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm))
    assert np.argmax(spectrum) * 16000 / len(pcm) == pytest.approx(440, abs=5)  # resampled to 16 kHz, not sped up
    # The greeting arrived in real time until the barge-in; what the page had queued then was dropped.
    assert 0.5 * 32000 <= after["receivedBytes"] < 2 * 32000
    assert 0 < after["playedSamples"] * 2 < after["receivedBytes"]


class Seen:
    """Frames leaving the calls' processors (on the server's event loop), read from the test's thread."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.lock = threading.Lock()

    def __call__(self, frame: Frame) -> None:
        if not isinstance(frame, (AudioChunk, SynthesizedAudio)):
            with self.lock:
                self.frames.append(frame)

    def of(self, kind: type) -> list[Any]:
        with self.lock:
            return [f for f in self.frames if isinstance(f, kind)]

    def story(self) -> list[str]:
        """What was heard, understood and said, in order: short enough to read in a failure."""
        def line(frame: Frame) -> str | None:
            if isinstance(frame, FinalTranscript):
                return f"heard {frame.text!r}"
            if isinstance(frame, IntentResult):
                return f"understood {frame.intent} {frame.confidence:.2f} -> {frame.function}"
            if isinstance(frame, DialogTurn):
                return f"said {frame.turn.say!r}"
            return type(frame).__name__ if isinstance(frame, (SpeechStarted, SpeechStopped, Interruption)) else None
        with self.lock:
            return [text for frame in self.frames if (text := line(frame))]


@pytest.mark.slow
def test_a_person_calls_from_chromium_is_routed_hears_the_reply_and_keys_the_pin(
        assistant: Any, banking_dev: list, tmp_path: Path) -> None:
    from playwright.sync_api import expect
    from test_desktop_browser import ARTIFACTS

    request = next(r for r in banking_dev if r.intent == "balance_inquiry" and r.channel == "clean")
    recording = read_wav(request.path)
    # Said during the greeting (about 9 s), from 2.5 s after the page opened the microphone: the page connects
    # the capture only once the call is up, and a loaded machine takes a while to get there.
    microphone = spoken(recording.pcm, recording.sample_rate, 2.5, 8.0, tmp_path)
    # The models loaded and the request understood off the line first: a failure below is the browser path's.
    heard = assistant.hear_recording(request.path)
    assert heard.result.intent == request.intent, heard
    seen = Seen()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Served(lambda call, sink: assistant.open_call(call, sink, seen)) as url, chromium(url, microphone) as page:
        page.fill("#caller", CALLER)
        page.click("#call")
        expect(page.locator("#status")).to_have_text("通话中", timeout=90_000)  # the process's first call loads the models

        # The request stops the greeting (the page is told to clear) and is routed.
        until(lambda: [r for r in seen.of(IntentResult) if r.function], 90, lambda: (seen.story(), stats(page)))
        before = stats(page)  # the reply is not spoken yet
        routed = next(r for r in seen.of(IntentResult) if r.function)
        assert routed.intent == request.intent, routed
        until(lambda: [t for t in seen.of(DialogTurn) if t.turn.function], 10)
        asking = next(t.turn for t in seen.of(DialogTurn) if t.turn.function)
        assert asking.function == "balance_inquiry" and asking.awaiting == "pin", asking
        assert seen.of(Interruption) and stats(page)["clears"] >= 1
        expect(page.locator("#transcript")).to_contain_text(asking.say)

        # The reply's audio reaches the page and is played (it asks for the PIN, for seconds).
        until(lambda: stats(page)["receivedBytes"] >= before["receivedBytes"] + 32000, 20)
        until(lambda: stats(page)["playedSamples"] >= before["playedSamples"] + 16000, 20)
        page.screenshot(path=str(ARTIFACTS / "softphone-pin-asked.png"), full_page=True)

        for digit in "147258":  # the sandbox bank's PIN for this caller, on the page's keypad
            page.click(f"#keypad button[data-digit='{digit}']")
        until(lambda: [t for t in seen.of(DialogTurn) if t.turn.transaction], 30)
        answered = next(t.turn for t in seen.of(DialogTurn) if t.turn.transaction)
        assert answered.transaction.status == "ok", answered
        expect(page.locator("#transcript")).to_contain_text(answered.say)
        expect(page.locator("#keys")).to_have_text("●" * 6)
        assert "147258" not in page.locator("body").inner_text()  # the PIN is nowhere on the page
        page.screenshot(path=str(ARTIFACTS / "softphone-answered.png"), full_page=True)

        page.click("#hangup")
        expect(page.locator("#status")).to_have_text("未通话")
        until(lambda: seen.of(EndOfCall), 20)  # after at most the sentence being synthesised
