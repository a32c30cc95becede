"""Asterisk AudioSocket (assistant/transports/audiosocket.py) against a client written to the protocol:
frames of 1 type byte, a 2-byte big-endian length and the payload; 0x00 hang-up, 0x01 the 16-byte call
UUID (first), 0x03 one DTMF key, 0x10 8 kHz 16-bit little-endian audio, 0xFF an error."""
from __future__ import annotations

import asyncio
import json
import re
import signal
import struct
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from call_lines import serving, warnings, FRAME_BYTES, GREETING, LOUD, FakeCalls, Seen, Talker, frames_of, until

from assistant.core.audio import read_wav
from assistant.core.frames import AudioChunk, CallStarted, DialogTurn, Dtmf, EndOfCall, IntentResult, Interruption
from assistant.transports.audiosocket import AudioSocketServer
from assistant.transports.line import LineSettings

HANGUP, UUID, DTMF, AUDIO, ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF
ASSISTANT = Path(sys.executable).with_name("assistant")
LOGGER = "assistant.transports.audiosocket"


def af(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket frame, as the protocol has it."""
    return struct.pack(">BH", kind, len(payload)) + payload


class Asterisk:
    """Asterisk's end of one AudioSocket connection: what it sends, and every frame it gets back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.received: list[tuple[float, int, bytes]] = []
        self.talker = Talker(self._audio)
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def dial(cls, port: int) -> Asterisk:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def _audio(self, pcm: bytes) -> None:
        if not self.writer.is_closing():
            self.send(af(AUDIO, pcm))

    async def _read(self) -> None:
        try:
            while True:
                kind, length = struct.unpack(">BH", await self.reader.readexactly(3))
                self.received.append((time.monotonic(), kind, await self.reader.readexactly(length)))
        except (asyncio.IncompleteReadError, ConnectionError):
            return  # the server closed the connection

    async def closed_by_server(self, timeout: float = 3.0) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(self._reading), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def audio(self) -> list[bytes]:
        return [payload for _, kind, payload in self.received if kind == AUDIO]

    async def close(self) -> None:
        await self.talker.stop()
        self.writer.close()
        self._reading.cancel()
        await asyncio.gather(self._reading, return_exceptions=True)



def test_a_call_carries_its_uuid_audio_and_keys_and_hears_the_greeting_first() -> None:
    call_id = uuid.uuid4()
    # quiet but recognisable audio: each frame a different ramp of small samples
    sent = [struct.pack("<160h", *[(i * 7 + n) % 500 - 250 for n in range(160)]) for i in range(10)]

    async def call(calls: FakeCalls) -> Asterisk:
        async with serving(AudioSocketServer, calls) as server:
            asterisk = await Asterisk.dial(server.port)
            asterisk.send(af(UUID, call_id.bytes))
            await until(lambda: asterisk.received, 5, "the greeting")
            for pcm in sent:
                asterisk.send(af(AUDIO, pcm))
                await asyncio.sleep(0.02)
            asterisk.send(af(DTMF, b"5") + af(DTMF, b"#"))
            await until(lambda: len(asterisk.received) == len(frames_of(GREETING)), 5, "the whole greeting")
            asterisk.send(af(HANGUP))
            assert await asterisk.closed_by_server()
            await until(lambda: calls.ended(str(call_id)), 5, "the end of the call")
            await asterisk.close()
            return asterisk

    with ThreadPoolExecutor(2) as executor:
        calls = FakeCalls(executor)
        asterisk = asyncio.run(call(calls))
    frames = calls.calls[str(call_id)]
    assert frames[0] == CallStarted(str(call_id), None, "inbound", 8000, "audiosocket")
    chunks = calls.of(str(call_id), AudioChunk)
    assert [c.pcm for c in chunks] == sent and all(c.sample_rate == 8000 for c in chunks)
    assert [c.t for c in chunks] == pytest.approx([i * 0.02 for i in range(10)])  # stream time, from the audio
    assert [d.digit for d in calls.of(str(call_id), Dtmf)] == ["5", "#"]
    assert isinstance(frames[-1], EndOfCall)
    # the reply audio: 20 ms frames of 320 bytes, the greeting padded with silence; no hang-up frame back
    assert {kind for _, kind, _ in asterisk.received} == {AUDIO}
    assert all(len(pcm) == FRAME_BYTES for pcm in asterisk.audio())
    assert b"".join(asterisk.audio()) == b"".join(frames_of(GREETING))


def _uuid_frame(call_id: uuid.UUID) -> bytes:
    return af(UUID, call_id.bytes)


# (what is wrong, what the bad client sends after its UUID frame or instead of it, the log line's words,
# whether a call was opened, whether the client then closes its side)
MALFORMED = [
    ("audio before the UUID", lambda u: af(AUDIO, bytes(320)), "the first frame must be the call's UUID", False, False),
    ("a UUID of 15 bytes", lambda u: af(UUID, u.bytes[:15]), "bad UUID frame: 15 bytes", False, False),
    ("an unknown type", lambda u: _uuid_frame(u) + af(0x42, b"x"), "unknown frame type 0x42", True, False),
    ("a DTMF frame of 2 bytes", lambda u: _uuid_frame(u) + af(DTMF, b"12"), "bad DTMF frame: 2 bytes", True, False),
    ("a key no phone has", lambda u: _uuid_frame(u) + af(DTMF, b"x"), "a DTMF key that is not", True, False),
    ("audio of an odd length", lambda u: _uuid_frame(u) + af(AUDIO, bytes(321)), "bad audio frame: 321 bytes", True, False),
    ("an oversized frame", lambda u: _uuid_frame(u) + struct.pack(">BH", AUDIO, 65535) + bytes(1000),
     "bad audio frame: 65535 bytes", True, False),
    ("a second UUID", lambda u: _uuid_frame(u) + _uuid_frame(u), "a second UUID frame", True, False),
    ("an error at the far end", lambda u: _uuid_frame(u) + af(ERROR, b"\x02"), "reported an error (code 0x02)", True, False),
    ("closed inside a frame", lambda u: _uuid_frame(u) + af(AUDIO, bytes(320))[:103],
     "closed inside a frame (audio, 100 of 320 bytes)", True, True),
    ("closed inside a header", lambda u: _uuid_frame(u) + b"\x10\x01", "closed inside a frame header", True, True),
    ("closed before the UUID", lambda u: b"", "closed before its UUID frame", False, True),
]


@pytest.mark.parametrize("sends, words, opened, closes", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_frame_closes_that_call_with_one_warning_and_no_other(
        sends: Any, words: str, opened: bool, closes: bool, caplog: pytest.LogCaptureFixture) -> None:
    good_id, bad_id = uuid.uuid4(), uuid.uuid4()

    async def calls_at_once(calls: FakeCalls) -> tuple[Asterisk, bool]:
        async with serving(AudioSocketServer, calls) as server:
            good = await Asterisk.dial(server.port)
            good.send(af(UUID, good_id.bytes))
            good.talker.start()  # audio every 20 ms throughout, as Asterisk sends it
            await until(lambda: len(calls.of(str(good_id), AudioChunk)) >= 5, 5, "the good call's audio")
            bad = await Asterisk.dial(server.port)
            bad.send(sends(bad_id))
            if closes:
                bad.writer.write_eof()
            bad_closed = await bad.closed_by_server()
            await asyncio.sleep(0.2)
            await good.talker.stop()
            assert not calls.ended(str(good_id)) and not good.reader.at_eof()
            good.send(af(HANGUP))
            assert await good.closed_by_server()
            await until(lambda: calls.ended(str(good_id)), 5, "the good call's end")
            if opened:
                await until(lambda: calls.ended(str(bad_id)), 5, "the bad call's end")
            await good.close()
            await bad.close()
            return good, bad_closed

    with ThreadPoolExecutor(4) as executor:
        calls = FakeCalls(executor)
        good, bad_closed = asyncio.run(calls_at_once(calls))
    assert bad_closed  # promptly, never waiting for the rest of an oversized frame
    lines = warnings(caplog, LOGGER)
    assert len(lines) == 1 and words in lines[0] and lines[0].endswith("call closed"), lines
    assert (str(bad_id) in calls.calls) == opened
    # the other call: every frame of its audio arrived, in order, and it ended only when it hung up
    chunks = calls.of(str(good_id), AudioChunk)
    assert len(chunks) == good.talker.sent and [c.t for c in chunks] == pytest.approx([i * 0.02 for i in range(len(chunks))])
    assert [type(f) for f in calls.calls[str(good_id)]].count(EndOfCall) == 1


def test_silent_lines_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    call_id = uuid.uuid4()

    async def lines(calls: FakeCalls) -> tuple[bool, bool]:
        async with serving(AudioSocketServer, calls, settings=LineSettings(first_message_s=0.3, idle_s=0.5)) as server:
            mute = await Asterisk.dial(server.port)  # never sends its UUID
            stalled = await Asterisk.dial(server.port)
            stalled.send(af(UUID, call_id.bytes))  # then nothing
            closed = await mute.closed_by_server(), await stalled.closed_by_server()
            await until(lambda: calls.ended(str(call_id)), 5, "the stalled call's end")
            await mute.close()
            await stalled.close()
            return closed

    with ThreadPoolExecutor(2) as executor:
        assert asyncio.run(lines(FakeCalls(executor))) == (True, True)
    assert sorted(line.split(": ", 1)[1] for line in warnings(caplog, LOGGER)) == [
        "nothing received for 0.3 s; call closed", "nothing received for 0.5 s; call closed"]


def test_at_the_call_limit_a_new_connection_is_closed(caplog: pytest.LogCaptureFixture) -> None:
    first_id, later_id = uuid.uuid4(), uuid.uuid4()

    async def calls_at_limit(calls: FakeCalls) -> tuple[bool, bool]:
        async with serving(AudioSocketServer, calls, max_calls=1) as server:
            first = await Asterisk.dial(server.port)
            first.send(af(UUID, first_id.bytes))
            await until(lambda: first.received, 5, "the first call's greeting")
            refused = await Asterisk.dial(server.port)
            refused_closed = await refused.closed_by_server()
            first.send(af(HANGUP))
            await first.closed_by_server()
            later = await Asterisk.dial(server.port)  # a place is free again
            later.send(af(UUID, later_id.bytes))
            await until(lambda: later.received, 5, "the later call's greeting")
            later_open = not later.reader.at_eof()
            for client in (first, refused, later):
                await client.close()
            return refused_closed, later_open

    with ThreadPoolExecutor(2) as executor:
        assert asyncio.run(calls_at_limit(FakeCalls(executor))) == (True, True)
    assert [line for line in warnings(caplog, LOGGER) if "refused: at the call limit (runtime.max_calls: 1)" in line]


def test_stopping_the_server_hangs_up_its_calls() -> None:
    call_id = uuid.uuid4()

    async def stop_during_call(calls: FakeCalls) -> Asterisk:
        server = AudioSocketServer("127.0.0.1", 0, calls)
        await server.start()
        asterisk = await Asterisk.dial(server.port)
        asterisk.send(af(UUID, call_id.bytes))
        await until(lambda: asterisk.received, 5, "the greeting")
        await asyncio.wait_for(server.stop(), 5)
        assert calls.ended(str(call_id))
        assert await asterisk.closed_by_server()
        await asterisk.close()
        return asterisk

    with ThreadPoolExecutor(2) as executor:
        asterisk = asyncio.run(stop_during_call(FakeCalls(executor)))
    assert asterisk.received[-1][1:] == (HANGUP, b"")  # Asterisk is told to hang up too


def test_loud_audio_barges_in_and_no_more_of_the_reply_is_sent() -> None:
    """The session's barge-in seen from the line: once the caller is heard, the reply stops."""
    call_id = uuid.uuid4()
    loud = struct.pack("<160h", *([LOUD + 1000] * 160))

    async def call(calls: FakeCalls) -> tuple[float, list[float]]:
        async with serving(AudioSocketServer, calls) as server:
            asterisk = await Asterisk.dial(server.port)
            asterisk.send(af(UUID, call_id.bytes))
            await until(lambda: asterisk.received, 5, "the greeting")
            asterisk.send(af(AUDIO, loud))
            at = time.monotonic()
            await until(lambda: calls.of(str(call_id), Interruption) or calls.of(str(call_id), AudioChunk), 5)
            await asyncio.sleep(0.3)
            asterisk.send(af(HANGUP))
            await asterisk.closed_by_server()
            await asterisk.close()
            return at, [t for t, _, _ in asterisk.received]

    with ThreadPoolExecutor(2) as executor:
        calls = FakeCalls(executor)
        barged_at, received = asyncio.run(call(calls))
    assert len(received) < len(frames_of(GREETING))  # the greeting was cut short
    assert all(t <= barged_at + 0.1 for t in received)


@pytest.mark.parametrize("args, error", [
    ((), "no front-end given: use --sip, --audiosocket and/or --media-streams HOST:PORT"),
    (("--audiosocket", "9092"), "--audiosocket: give HOST:PORT (e.g. 127.0.0.1:9092), not '9092'"),
    (("--media-streams", "127.0.0.1:70000"), "--media-streams: give HOST:PORT (e.g. 127.0.0.1:9092), not '127.0.0.1:70000'"),
])
def test_the_telephony_command_refuses_a_bad_front_end_in_one_line(args: tuple[str, ...], error: str) -> None:
    result = subprocess.run([str(ASSISTANT), "telephony", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr.strip() == f"error: {error}" and not result.stdout


# Real calls: the assistant's models, a banking_dev telephone recording streamed in real time.

@pytest.mark.slow
def test_a_telephone_recording_reaches_its_function_keys_reach_the_dialog_and_a_bad_line_harms_no_call(
        assistant: Any, banking_dev: list, caplog: pytest.LogCaptureFixture) -> None:
    request = next(r for r in banking_dev if r.channel == "phone" and r.intent == "stock_quote")
    audio = read_wav(request.path)
    assert audio.sample_rate == 8000
    expected = assistant.catalog.function_for(request.intent).id
    seen: dict[str, Seen] = {}

    def open_call(call: CallStarted, sink: Any) -> Any:
        seen[call.call_id] = Seen()
        return assistant.open_call(call, sink, seen[call.call_id])

    caller_id, bad_id = str(uuid.uuid4()), uuid.uuid4()

    def turns(call_id: str) -> list[tuple[float, Any]]:
        return seen[call_id].of(DialogTurn) if call_id in seen else []

    async def call() -> tuple[Asterisk, float, float]:
        async with serving(AudioSocketServer, open_call) as server:
            caller = await Asterisk.dial(server.port)
            caller.send(af(UUID, uuid.UUID(caller_id).bytes))
            await until(lambda: caller.received, 90, "the greeting")
            caller.talker.start()
            await asyncio.sleep(1.0)  # a second into the greeting
            caller.talker.say(audio.pcm)
            bad = await Asterisk.dial(server.port)  # another line, while this call goes on
            bad.send(af(UUID, bad_id.bytes) + af(AUDIO, bytes(7)))
            assert await bad.closed_by_server()
            await until(lambda: any(r.function == expected for _, r in seen[caller_id].of(IntentResult)), 60,
                        "the request's function")
            await until(lambda: len(turns(caller_id)) >= 2, 30, "the answer")
            answered_at = turns(caller_id)[1][0]
            await until(lambda: caller.received[-1][0] > answered_at, 30, "the answer's audio")
            caller.send(af(DTMF, b"1"))  # the key menu's first branch
            await until(lambda: len(turns(caller_id)) >= 3, 30, "the key's turn")
            await caller.talker.stop()
            keyed_at = turns(caller_id)[2][0]
            caller.send(af(HANGUP))
            assert await caller.closed_by_server(10)
            await until(lambda: seen[caller_id].of(EndOfCall), 10, "the end of the call")
            await caller.close()
            await bad.close()
            return caller, answered_at, keyed_at

    caller, answered_at, keyed_at = asyncio.run(call())
    greeting, answer, keyed = (turn.turn for _, turn in turns(caller_id)[:3])
    assert greeting.say == assistant.catalog.prompts["greeting"]
    assert caller.received[0][1] == AUDIO  # the assistant spoke first
    assert answer.function == expected
    assert keyed.heard == "按键1" and keyed.awaiting == "menu"
    assert any(t > keyed_at for t, kind, _ in caller.received if kind == AUDIO)  # the menu was said
    assert [line for line in warnings(caplog, LOGGER) if str(bad_id) in line and "bad audio frame: 7 bytes" in line]
    assert seen[str(bad_id)].of(EndOfCall)  # the bad line's call was closed (its dialog too)


@pytest.mark.slow
def test_the_telephony_command_answers_audiosocket_and_media_stream_calls_until_terminated() -> None:
    """One worker with two front-ends (port 0: the free ports it took are printed); the softphone's
    page is on the media-stream server."""

    async def run() -> tuple[int, list[str], str]:
        process = await asyncio.create_subprocess_exec(
            str(ASSISTANT), "telephony", "--audiosocket", "127.0.0.1:0", "--media-streams", "127.0.0.1:0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        try:
            lines = [(await asyncio.wait_for(process.stdout.readline(), 600)).decode().strip() for _ in range(2)]
            audiosocket = re.fullmatch(r"audiosocket listening on 127\.0\.0\.1:(\d+) \(Asterisk dialplan: "
                                       r"AudioSocket\(\$\{UUID\(\)\},127\.0\.0\.1:\1\)\)", lines[0])
            media = re.fullmatch(r"media-streams listening on 127\.0\.0\.1:(\d+) \(ws://127\.0\.0\.1:\1/media-stream; "
                                 r"the softphone: http://127\.0\.0\.1:\1/softphone\)", lines[1])
            assert audiosocket and media, lines
            asterisk = await Asterisk.dial(int(audiosocket[1]))
            asterisk.send(af(UUID, uuid.uuid4().bytes))
            await until(lambda: asterisk.received, 60, "the greeting")
            asterisk.send(af(HANGUP))
            assert await asterisk.closed_by_server(10)
            await asterisk.close()
            async with websockets.connect(f"ws://127.0.0.1:{media[1]}/media-stream") as ws:
                await ws.send(json.dumps({"event": "start", "streamSid": "MZ1", "start": {
                    "streamSid": "MZ1", "callSid": "CA1", "customParameters": {},
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
                first = json.loads(await asyncio.wait_for(ws.recv(), 60))
                assert first["event"] == "media" and first["streamSid"] == "MZ1"
                await ws.send(json.dumps({"event": "stop", "streamSid": "MZ1"}))
            async with httpx.AsyncClient() as client:
                page = await client.get(f"http://127.0.0.1:{media[1]}/softphone", timeout=10)
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 60)
            return code, lines, (await process.stderr.read()).decode()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    code, lines, stderr = asyncio.run(run())
    assert code == 0, stderr
    assert re.search(r"audiosocket call [0-9a-f-]{36} from 127\.0\.0\.1:\d+: answered", stderr)
    assert re.search(r"media stream call CA1 from 127\.0\.0\.1:\d+: answered \(no caller id\)", stderr)
    assert "hung up" in stderr and "stopped" in stderr and stderr.rstrip().endswith("stopped")
    assert "Traceback" not in stderr
