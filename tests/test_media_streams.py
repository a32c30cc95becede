"""WebSocket media streams in the Twilio format (assistant/transports/media_streams.py), against a
provider written to the format: `connected`, `start` (streamSid, callSid, customParameters,
mediaFormat audio/x-mulaw 8000 1), `media` (base64 μ-law), `dtmf`, `mark`, `stop`; back from the
assistant `media`, `mark` after each reply and `clear` on barge-in."""
from __future__ import annotations

import asyncio
import audioop
import base64
import itertools
import json
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import websockets
from call_lines import serving, warnings, GREETING, LOUD, FakeCalls, Seen, Talker, frames_of, until

from assistant.core.audio import read_wav
from assistant.core.frames import AudioChunk, CallStarted, DialogTurn, Dtmf, EndOfCall, IntentResult
from assistant.transports.line import LineSettings
from assistant.transports.media_streams import PATH, MediaStreamServer

LOGGER = "assistant.transports.media_streams"
CALLER = "13800138000"  # 张三 at the sandbox bank (PIN 147258)
MULAW_8K = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}


class Provider:
    """The provider's end of one media stream: what it sends, and every message it gets back."""

    def __init__(self, ws: Any, stream_sid: str) -> None:
        self.ws = ws
        self.stream_sid = stream_sid
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.close_code: int | None = None
        self.talker = Talker(self.media)
        self._numbers = itertools.count(1)
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def dial(cls, port: int, stream_sid: str = "MZ0001") -> Provider:
        return cls(await websockets.connect(f"ws://127.0.0.1:{port}{PATH}"), stream_sid)

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        if isinstance(message, dict):
            message = json.dumps({**message, "sequenceNumber": str(next(self._numbers))})
        try:
            await self.ws.send(message)
        except websockets.ConnectionClosed:
            pass

    async def start(self, call_sid: str | None = "CA0001", caller: str | None = CALLER,
                    media_format: dict[str, Any] = MULAW_8K) -> None:
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send(self.start_message(call_sid, caller, media_format))

    def start_message(self, call_sid: str | None = "CA0001", caller: str | None = CALLER,
                      media_format: dict[str, Any] = MULAW_8K) -> dict[str, Any]:
        start: dict[str, Any] = {"accountSid": "AC0001", "streamSid": self.stream_sid, "tracks": ["inbound"],
                                 "mediaFormat": media_format, "customParameters": {"caller": caller} if caller else {}}
        if call_sid:
            start["callSid"] = call_sid
        return {"event": "start", "start": start, "streamSid": self.stream_sid}

    async def media(self, pcm: bytes) -> None:
        payload = base64.b64encode(audioop.lin2ulaw(pcm, 2)).decode()
        await self.send({"event": "media", "streamSid": self.stream_sid,
                         "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": payload}})

    async def key(self, digit: str) -> None:
        await self.send({"event": "dtmf", "streamSid": self.stream_sid, "dtmf": {"track": "inbound_track", "digit": digit}})

    async def stop(self) -> None:
        await self.send({"event": "stop", "streamSid": self.stream_sid, "stop": {"accountSid": "AC0001"}})

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                self.received.append((time.monotonic(), json.loads(text)))
        except websockets.ConnectionClosed:
            pass
        self.close_code = self.ws.close_code

    def events(self, event: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in self.received if m["event"] == event]

    def audio(self) -> bytes:
        return b"".join(base64.b64decode(m["media"]["payload"]) for _, m in self.events("media"))

    async def closed_by_server(self, timeout: float = 3.0) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(self._reading), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def close(self) -> None:
        await self.talker.stop()
        await self.ws.close()
        await asyncio.gather(self._reading, return_exceptions=True)



def test_a_stream_carries_its_start_audio_and_keys_and_gets_the_greeting_then_a_mark() -> None:
    sent = [struct.pack("<160h", *[(i * 7 + n) % 500 - 250 for n in range(160)]) for i in range(10)]

    async def call(calls: FakeCalls) -> Provider:
        async with serving(MediaStreamServer, calls) as server:
            provider = await Provider.dial(server.port, "MZ1")
            await provider.start("CA1", "+" + CALLER)
            await until(lambda: provider.events("mark"), 5, "the greeting and its mark")
            for pcm in sent:
                await provider.media(pcm)
                await asyncio.sleep(0.02)
            await provider.key("5")
            await provider.key("#")
            # A hang-up overtakes input still queued in the call (core/session.py): the keys are in first.
            await until(lambda: len(calls.of("CA1", Dtmf)) == 2, 5, "both keys")
            await provider.stop()
            assert await provider.closed_by_server()
            await until(lambda: calls.ended("CA1"), 5, "the end of the call")
            await provider.close()
            return provider

    with ThreadPoolExecutor(2) as executor:
        calls = FakeCalls(executor)
        provider = asyncio.run(call(calls))
    frames = calls.calls["CA1"]
    assert frames[0] == CallStarted("CA1", CALLER, "inbound", 8000, "media-stream")
    chunks = calls.of("CA1", AudioChunk)
    assert [c.pcm for c in chunks] == [audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2) for pcm in sent]
    assert [c.t for c in chunks] == pytest.approx([i * 0.02 for i in range(10)])
    assert [d.digit for d in calls.of("CA1", Dtmf)] == ["5", "#"]
    assert isinstance(frames[-1], EndOfCall)
    # the greeting as μ-law media in 20 ms messages for this stream, then one mark after its last frame
    events = [m["event"] for _, m in provider.received]
    assert events == ["media"] * len(frames_of(GREETING)) + ["mark"]
    assert all(m["streamSid"] == "MZ1" for _, m in provider.received)
    assert all(len(base64.b64decode(m["media"]["payload"])) == 160 for _, m in provider.events("media"))
    assert provider.audio() == audioop.lin2ulaw(b"".join(frames_of(GREETING)), 2)
    assert provider.events("mark")[0][1]["mark"]["name"] == "reply-1"
    assert provider.close_code == 1000


def test_barging_in_sends_clear_and_stops_the_reply() -> None:
    loud = struct.pack("<160h", *([LOUD + 1000] * 160))

    async def call(calls: FakeCalls) -> tuple[Provider, float]:
        async with serving(MediaStreamServer, calls) as server:
            provider = await Provider.dial(server.port)
            await provider.start()
            await until(lambda: provider.events("media"), 5, "the greeting")
            await provider.media(loud)
            barged_at = time.monotonic()
            await until(lambda: provider.events("clear"), 5, "clear")
            await asyncio.sleep(0.3)
            await provider.stop()
            await provider.closed_by_server()
            await provider.close()
            return provider, barged_at

    with ThreadPoolExecutor(2) as executor:
        provider, barged_at = asyncio.run(call(FakeCalls(executor)))
    (cleared_at, clear), = provider.events("clear")
    assert clear == {"event": "clear", "streamSid": "MZ0001"} and cleared_at - barged_at < 0.1
    assert len(provider.events("media")) < len(frames_of(GREETING))  # the greeting was cut short
    assert all(t <= cleared_at + 0.05 for t, _ in provider.events("media"))  # and nothing more of it came


def _start_and(*messages: Any) -> Any:
    async def send(provider: Provider) -> None:
        await provider.start("CA-bad")
        for message in messages:
            await provider.send(message(provider) if callable(message) else message)
    return send


def _only(message: Any) -> Any:
    async def send(provider: Provider) -> None:
        await provider.send(message(provider) if callable(message) else message)
    return send


def _media(payload: str) -> Any:
    return lambda p: {"event": "media", "streamSid": p.stream_sid, "media": {"track": "inbound", "payload": payload}}


async def _closes_early(provider: Provider) -> None:
    await provider.start("CA-bad")
    await provider.ws.close()


# (what is wrong, what the bad provider sends, the log line's words, whether a call was opened)
MALFORMED = [
    ("not JSON", _start_and('{"event": "media", '), "a message that is not JSON", True),
    ("a binary message", _start_and(b"\x00\x01"), "a binary WebSocket message", True),
    ("bad base64", _start_and(_media("%%%not base64%%%")), "a media payload that is not base64", True),
    ("an unknown event", _start_and({"event": "hold", "streamSid": "MZ0001"}), "unknown event 'hold'", True),
    ("media before start", _only(_media(base64.b64encode(bytes(160)).decode())), "a media message before start", False),
    ("a start without streamSid", _only({"event": "start", "start": {"callSid": "CA-bad"}}),
     "a start message without a streamSid", False),
    ("another media format", _only(lambda p: p.start_message(media_format={"encoding": "audio/l16", "sampleRate": 16000,
                                                                           "channels": 1})),
     "media format audio/l16 16000 Hz 1 channel(s) is not supported", False),
    ("a dtmf without a digit", _start_and({"event": "dtmf", "streamSid": "MZ0001", "dtmf": {}}),
     "a dtmf message without one digit", True),
    ("an oversized payload", _start_and(_media(base64.b64encode(bytes(4000)).decode())), "a media payload over 1600 bytes",
     True),
    ("a second start", _start_and(lambda p: p.start_message("CA-bad")), "a second start message", True),
    ("closed without stop", _closes_early, "the socket closed without a stop message", True),
]


@pytest.mark.parametrize("sends, words, opened", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_message_closes_that_stream_with_one_warning_and_no_other(
        sends: Any, words: str, opened: bool, caplog: pytest.LogCaptureFixture) -> None:
    async def streams_at_once(calls: FakeCalls) -> tuple[Provider, Provider]:
        async with serving(MediaStreamServer, calls) as server:
            good = await Provider.dial(server.port, "MZ-good")
            await good.start("CA-good")
            good.talker.start()
            await until(lambda: len(calls.of("CA-good", AudioChunk)) >= 5, 5, "the good stream's audio")
            bad = await Provider.dial(server.port)
            await sends(bad)
            assert await bad.closed_by_server()
            if opened:
                await until(lambda: calls.ended("CA-bad"), 5, "the bad call's end")
            await asyncio.sleep(0.2)
            await good.talker.stop()
            assert not calls.ended("CA-good") and good.close_code is None
            await good.stop()
            assert await good.closed_by_server()
            await until(lambda: calls.ended("CA-good"), 5, "the good call's end")
            await good.close()
            await bad.close()
            return good, bad

    with ThreadPoolExecutor(4) as executor:
        calls = FakeCalls(executor)
        good, bad = asyncio.run(streams_at_once(calls))
    lines = warnings(caplog, LOGGER)
    assert len(lines) == 1 and words in lines[0] and lines[0].endswith("call closed"), lines
    assert ("CA-bad" in calls.calls) == opened
    if words != "the socket closed without a stop message":
        assert bad.close_code == 1008  # policy violation: the provider sees why the socket closed
    chunks = calls.of("CA-good", AudioChunk)
    assert len(chunks) == good.talker.sent and good.close_code == 1000


def test_a_caller_parameter_that_is_no_phone_number_leaves_the_caller_unknown(caplog: pytest.LogCaptureFixture) -> None:
    async def call(calls: FakeCalls) -> None:
        async with serving(MediaStreamServer, calls) as server:
            provider = await Provider.dial(server.port)
            await provider.start("CA2", "anonymous")
            await until(lambda: "CA2" in calls.calls, 5)
            await provider.stop()
            await provider.closed_by_server()
            await provider.close()

    with ThreadPoolExecutor(2) as executor:
        calls = FakeCalls(executor)
        asyncio.run(call(calls))
    assert calls.calls["CA2"][0].caller is None
    assert any("the caller parameter is not a phone number" in line for line in warnings(caplog, LOGGER))


def test_at_the_call_limit_a_new_stream_is_closed(caplog: pytest.LogCaptureFixture) -> None:
    async def streams(calls: FakeCalls) -> int | None:
        async with serving(MediaStreamServer, calls, max_calls=1) as server:
            first = await Provider.dial(server.port, "MZ1")
            await first.start("CA1")
            await until(lambda: first.received, 5, "the first call's greeting")
            refused = await Provider.dial(server.port, "MZ2")
            assert await refused.closed_by_server()
            await first.stop()
            await first.closed_by_server()
            for provider in (first, refused):
                await provider.close()
            return refused.close_code

    with ThreadPoolExecutor(2) as executor:
        assert asyncio.run(streams(FakeCalls(executor))) == 1013  # try again later
    assert [line for line in warnings(caplog, LOGGER) if "refused: at the call limit (runtime.max_calls: 1)" in line]


def test_a_silent_stream_is_dropped_and_stopping_the_server_closes_its_streams(caplog: pytest.LogCaptureFixture) -> None:
    async def streams(calls: FakeCalls) -> tuple[int | None, int | None]:
        server = MediaStreamServer("127.0.0.1", 0, calls, settings=LineSettings(first_message_s=0.3, idle_s=5))
        await server.start()
        mute = await Provider.dial(server.port)  # never starts
        live = await Provider.dial(server.port, "MZ-live")
        await live.start("CA-live")
        await until(lambda: live.received, 5, "the greeting")
        assert await mute.closed_by_server()
        await asyncio.wait_for(server.stop(), 10)
        assert calls.ended("CA-live") and await live.closed_by_server()
        for provider in (mute, live):
            await provider.close()
        return mute.close_code, live.close_code

    with ThreadPoolExecutor(2) as executor:
        mute_code, live_code = asyncio.run(streams(FakeCalls(executor)))
    assert mute_code == 1008 and live_code is not None
    lines = warnings(caplog, LOGGER)  # the server stopping is no warning
    assert len(lines) == 1 and lines[0].endswith(": nothing received for 0.3 s; call closed"), lines


# Real calls: the assistant's models, a banking_dev telephone recording streamed in real time.

@pytest.mark.slow
def test_a_telephone_recording_reaches_its_function_the_pin_by_keys_verifies_and_barge_in_clears(
        assistant: Any, banking_dev: list, caplog: pytest.LogCaptureFixture) -> None:
    request = next(r for r in banking_dev if r.channel == "phone" and r.intent == "balance_inquiry")
    audio = read_wav(request.path)
    assert audio.sample_rate == 8000
    expected = assistant.catalog.function_for(request.intent).id
    seen: dict[str, Seen] = {}

    def open_call(call: CallStarted, sink: Any) -> Any:
        seen[call.call_id] = Seen()
        return assistant.open_call(call, sink, seen[call.call_id])

    def turns(call_id: str) -> list[Any]:
        return [turn.turn for _, turn in seen[call_id].of(DialogTurn)] if call_id in seen else []

    def balance(turn: Any) -> bool:  # the turn that told the balance (caller id lookup is a transaction too)
        return turn.transaction is not None and turn.transaction.action == "banking.balance"

    async def call() -> tuple[Provider, float]:
        async with serving(MediaStreamServer, open_call) as server:
            provider = await Provider.dial(server.port, "MZ-real")
            await provider.start("CA-real", CALLER)
            await until(lambda: provider.received, 90, "the greeting")
            provider.talker.start()
            await asyncio.sleep(1.0)  # a second into the greeting
            provider.talker.say(audio.pcm)
            spoke_at = time.monotonic()
            bad = await Provider.dial(server.port, "MZ-bad")  # another stream, while this call goes on
            await bad.start("CA-bad")
            await bad.send(_media("###")(bad))
            assert await bad.closed_by_server(10)
            await until(lambda: any(r.function == expected for _, r in seen["CA-real"].of(IntentResult)), 60,
                        "the request's function")
            await until(lambda: any(t.awaiting == "pin" for t in turns("CA-real")), 30, "the PIN prompt")
            asked = time.monotonic()  # the caller listens to the prompt to its end, then keys the PIN in
            await until(lambda: provider.events("mark")[-1][0] > asked, 90, "the PIN prompt's mark")
            for digit in "147258#":  # as the prompt asks: the PIN, then #
                await provider.key(digit)
                await asyncio.sleep(0.15)
            await until(lambda: any(balance(t) for t in turns("CA-real")), 60, "the balance")
            told_at = time.monotonic()
            await until(lambda: any(t > told_at for t, _ in provider.events("media")), 30, "the balance's audio")
            await until(lambda: provider.events("mark")[-1][0] > provider.events("media")[-1][0] > told_at, 60,
                        "the mark after the balance")
            await provider.talker.stop()
            await provider.stop()
            assert await provider.closed_by_server(10)
            await until(lambda: seen["CA-real"].of(EndOfCall), 10, "the end of the call")
            await provider.close()
            await bad.close()
            return provider, spoke_at

    provider, spoke_at = asyncio.run(call())
    greeting, *rest = turns("CA-real")
    assert greeting.say == assistant.catalog.prompts["greeting"]
    assert provider.received[0][1]["event"] == "media"  # the assistant spoke first
    # barge-in: clear soon after the caller started speaking, and the greeting stopped there
    (cleared_at, _), *_ = provider.events("clear")
    assert spoke_at < cleared_at < spoke_at + 2.0
    asked_at = next(t for t, turn in seen["CA-real"].of(DialogTurn) if turn.turn.function == expected)
    greeting_after_clear = [t for t, _ in provider.events("media") if cleared_at + 0.05 < t < asked_at]
    assert not greeting_after_clear
    assert rest[0].function == expected and rest[0].awaiting == "pin"
    assert [t.transaction.status for t in rest if balance(t)] == ["ok"]
    assert "147258" not in json.dumps([t.to_json() for t in rest], ensure_ascii=False)  # the PIN never shown
    # a mark after each reply (the greeting, cut short, the PIN prompt, the balance), none amid one
    events = [m["event"] for _, m in provider.received if m["event"] != "clear"]
    assert events.count("mark") >= 3 and "mark" not in events[:events.index("media") + 1]
    assert all(events[i - 1] == "media" for i, event in enumerate(events) if event == "mark")
    assert [line for line in warnings(caplog, LOGGER) if "CA-bad" in line and "not base64" in line]
    assert seen["CA-bad"].of(EndOfCall)
