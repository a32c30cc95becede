"""SIP calls (assistant/transports/sip.py) with sipp as the caller, all on 127.0.0.1 ports 41000-41999.

The fast tests put the transport in front of a real CallSession whose only stage notes every frame and
says a tone at the start; the slow ones in front of the real assistant (Whisper, the NLU, the dialog,
the sandbox bank). sipp's scenarios are in tests/data/sip/; each caller's recording is a mu-law WAV
that sipp plays as RTP.
"""
from __future__ import annotations

import asyncio
import audioop
import math
import shutil
import socket
import struct
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from test_audio import g711_wav

from assistant.core.audio import read_wav
from assistant.core.frames import (
    AudioChunk,
    CallStarted,
    DialogTurn,
    Dtmf,
    EndOfCall,
    Frame,
    IntentResult,
    SynthesizedAudio,
)
from assistant.core.pipeline import Processor
from assistant.core.session import AudioSink, CallSession
from assistant.dialog.responder import Responder
from assistant.storage.calls import database_location
from assistant.storage.database import open_database
from assistant.transports.sip import SAMPLE_RATE, SipServer, caller_id

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (Debian sip-tester)")

SCENARIOS = Path(__file__).parent / "data" / "sip"
HOST = "127.0.0.1"
SIP_PORT = 41000  # the assistant; its RTP from 41002 up
SIPP_PORTS = (41200, 41210)  # the callers' SIP ports; their RTP from 41300 and 41400
CALLER = "13800138000"  # 张三 in the sandbox bank's seed
PIN = "147258"
MULAW = 7  # WAVE_FORMAT_MULAW
GREETING_S = 10.0  # about how long the greeting takes to say


def tone(seconds: float, freq: float = 440.0) -> bytes:
    return b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / SAMPLE_RATE)))
                    for i in range(int(seconds * SAMPLE_RATE)))


def caller_wav(folder: Path, pcm: bytes) -> None:
    """What the caller says, as sipp's rtp_stream plays it: caller.wav, mu-law, 8 kHz."""
    g711_wav(folder / "caller.wav", MULAW, audioop.lin2ulaw(pcm, 2))


async def sipp(scenario: str, folder: Path, keys: dict[str, str] | None = None, caller: int = 0,
               timeout_s: int = 90) -> tuple[int, str]:
    """One sipp call from `folder` (where caller.wav is); its exit code (0: the scenario passed) and
    its error output. `caller` picks the pair of SIP and RTP ports."""
    args = ["sipp", "-sf", str(SCENARIOS / scenario), "-m", "1", "-i", HOST, "-p", str(SIPP_PORTS[caller]),
            "-mi", HOST, "-mp", str(41300 + 100 * caller), "-key", "caller", CALLER, "-nostdin",
            "-timeout", f"{timeout_s}s", "-timeout_error", "-max_recv_loops", "1000"]
    for name, value in (keys or {}).items():
        args += ["-key", name, value]
    process = await asyncio.create_subprocess_exec(*args, f"{HOST}:{SIP_PORT}", cwd=folder,
                                                   stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), timeout_s + 10)
    return process.returncode, err.decode(errors="replace")


class Far(Processor):
    """The call's only stage in the fast tests: notes every frame with its wall time and says
    `say_s` seconds of tone when the call starts."""

    def __init__(self, say_s: float = 1.0) -> None:
        self.say_s = say_s
        self.frames: list[tuple[float, Frame]] = []

    def process(self, frame: Frame) -> Iterator[Frame]:
        self.frames.append((time.monotonic(), frame))
        yield frame
        if isinstance(frame, CallStarted) and self.say_s:
            yield SynthesizedAudio(tone(self.say_s, 660.0), SAMPLE_RATE, "tone")

    def of(self, kind: type) -> list[Any]:
        return [f for _, f in self.frames if isinstance(f, kind)]


class Calls:
    """An opener of calls for the server, keeping each call's session and its stage."""

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self.executor = executor
        self.opened: list[tuple[CallSession, Far]] = []

    def __call__(self, call: CallStarted, sink: AudioSink | None) -> CallSession:
        far = Far()
        session = CallSession(call, [far], sink, self.executor)
        self.opened.append((session, far))
        return session


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4, thread_name_prefix="call") as pool:
        yield pool


async def until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def serve(opener: Any, max_calls: int, test: Any, **settings: Any) -> Any:
    """Runs `await test(server)` with a started server, and stops it whatever happens."""
    async def run() -> Any:
        server = SipServer(HOST, SIP_PORT, opener, max_calls, **settings)
        await server.start()
        try:
            return await test(server)
        finally:
            await server.stop()
    return asyncio.run(run())


def test_the_caller_id_is_p_asserted_identity_else_the_user_of_from() -> None:
    invite = "INVITE sip:a@h SIP/2.0\r\nP-Asserted-Identity: \"Zhang\" <sip:+8613800138000@carrier;user=phone>\r\n"
    assert caller_id("<sip:anonymous@h>;tag=1", invite) == "+8613800138000"
    assert caller_id("\"x\" <sip:13800138000@127.0.0.1:5061>;tag=9") == "13800138000"
    assert caller_id("<tel:+861012345678;phone-context=x>") == "+861012345678"
    assert caller_id("sip:13900001111@h", "p-asserted-identity: <tel:95588>\r\n") == "95588"
    assert caller_id("<sip:h>") is None  # no user part
    assert caller_id("<sip:a'%20or%201=1@h>") is None  # not a plausible number or name


def test_options_is_answered_200(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    async def test(server: SipServer) -> None:
        code, err = await sipp("options.xml", tmp_path)
        assert code == 0, err

    serve(Calls(executor), 2, test)


def test_garbage_datagrams_do_not_harm_the_server(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    junk = [b"", b"\x00" * 1500, bytes(range(256)) * 4, b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP\r\n\r\n",
            b"SIP/2.0 200 OK\r\nCSeq: banana\r\n\r\n", "OPTIONS sip:\u5f20@h SIP/2.0\r\n\r\n".encode(),
            b"INVITE sip:a@127.0.0.1 SIP/2.0\r\nContent-Length: 99999\r\n\r\nv=0"]

    async def test(server: SipServer) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for datagram in junk * 3:
                sock.sendto(datagram, (HOST, server.port))
        await asyncio.sleep(0.3)
        code, err = await sipp("options.xml", tmp_path)
        assert code == 0, err
        assert server.active_calls == 0

    serve(Calls(executor), 2, test)


def test_a_call_carries_audio_both_ways_and_keys_by_rfc_4733(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    caller_wav(tmp_path, tone(1.5))
    calls = Calls(executor)

    async def test(server: SipServer) -> None:
        code, err = await sipp("keys_rfc4733.xml", tmp_path, {"speak_ms": "2500", "keys": "1*9#", "wait_ms": "2500"})
        assert code == 0, err  # the caller's BYE was answered 200
        await until(lambda: calls.opened and calls.opened[0][0].ended and server.stats, 5)
        assert server.active_calls == 0
        stats, = server.stats
        assert stats.frames_played >= 45  # the second of tone went out to the caller
        assert stats.rx_packets >= 75  # (its "lost" counts the gap to sipp's key packets' own numbering)

    serve(calls, 2, test)
    (session, far), = calls.opened
    started = session.call
    assert (started.caller, started.channel, started.sample_rate, started.direction) == (CALLER, "sip", 8000, "inbound")
    assert started.call_id.endswith(f"@{HOST}")  # sipp's Call-ID
    heard = far.of(AudioChunk)
    assert all(c.sample_rate == 8000 and len(c.pcm) == 320 for c in heard)
    loud = [c for c in heard if audioop.rms(c.pcm, 2) > 2000]
    assert 1.4 <= len(loud) * 0.02 <= 1.8  # the 1.5 s the caller said through PCMU, and the fade-out of
    # PJSIP hiding the missing packets once it stopped
    assert [d.digit for d in far.of(Dtmf)] == list("1*9#")
    assert isinstance(far.frames[-1][1], EndOfCall)


def test_keys_by_sip_info_then_the_assistant_hangs_up(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    caller_wav(tmp_path, tone(0.5))
    calls = Calls(executor)

    async def test(server: SipServer) -> None:
        caller = asyncio.create_task(sipp("keys_info.xml", tmp_path, {"speak_ms": "1000", "keys": "24*#"}))
        await until(lambda: calls.opened and len(calls.opened[0][1].of(Dtmf)) == 4, 20)
        calls.opened[0][0].push(EndOfCall())  # the assistant's side ends the call: BYE
        code, err = await caller
        assert code == 0, err  # it got the BYE and answered it
        assert server.active_calls == 0

    serve(calls, 2, test)
    (session, far), = calls.opened
    assert [d.digit for d in far.of(Dtmf)] == list("24*#")
    assert session.ended


def test_hold_keeps_the_call_and_no_audio_flows_while_held(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    caller_wav(tmp_path, tone(1.0))  # played over and over, on hold too
    calls = Calls(executor)

    async def test(server: SipServer) -> None:
        code, err = await sipp("hold.xml", tmp_path, {"speak_ms": "1500", "wait_ms": "2000"})
        assert code == 0, err  # the hold was answered recvonly/inactive, the resume sendrecv, the BYE 200

    serve(calls, 2, test)
    (session, far), = calls.opened
    times = [t for t, f in far.frames if isinstance(f, AudioChunk)]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) >= 1.5  # nothing heard while on hold
    resumed = times[gaps.index(max(gaps)) + 1:]
    assert len(resumed) * 0.02 >= 1.0  # heard again once taken off hold
    assert isinstance(far.frames[-1][1], EndOfCall)


def test_a_call_over_the_limit_gets_503_and_the_others_go_on(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        caller_wav(folder, tone(0.5))
    calls = Calls(executor)

    async def test(server: SipServer) -> None:
        talking = asyncio.create_task(sipp("keys_rfc4733.xml", first, {"speak_ms": "3000", "keys": "5", "wait_ms": "1000"}))
        await until(lambda: server.active_calls == 1, 10)
        code, err = await sipp("refused.xml", second, caller=1)
        assert code == 0, err  # 503
        code, err = await talking
        assert code == 0, err  # the call in progress was not disturbed

    serve(calls, 1, test)
    assert len(calls.opened) == 1 and [d.digit for d in calls.opened[0][1].of(Dtmf)] == ["5"]


def test_an_answered_call_with_no_rtp_is_hung_up(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    calls = Calls(executor)

    async def test(server: SipServer) -> float:
        began = time.monotonic()
        code, err = await sipp("silent.xml", tmp_path)
        assert code == 0, err  # the assistant sent BYE, and the caller's 200 ended the call
        return time.monotonic() - began

    waited = serve(calls, 2, test, rtp_idle_s=2.0)
    assert 2.0 <= waited < 6.0  # the idle time and at most a look of the once-a-second watch later
    (session, far), = calls.opened
    assert session.ended and isinstance(far.frames[-1][1], EndOfCall)
    assert not any(any(chunk.pcm) for chunk in far.of(AudioChunk))  # the bridge's silence, nothing heard


# -- the real assistant --

def banking_call(banking_dev: list, intent: str, folder: Path) -> Any:
    request = next(r for r in banking_dev if r.channel == "phone" and r.intent == intent and not r.slots)
    silence = bytes(int(GREETING_S * SAMPLE_RATE) * 2)  # the caller lets the greeting finish first
    caller_wav(folder, silence + read_wav(request.path, SAMPLE_RATE).pcm)
    return request


class Observed:
    """The real assistant's calls, with every frame that left their processors."""

    def __init__(self, assistant: Any) -> None:
        self.assistant = assistant
        self.sessions: list[CallSession] = []
        self.frames: list[Frame] = []

    def __call__(self, call: CallStarted, sink: AudioSink | None) -> CallSession:
        session = self.assistant.open_call(call, sink, self.frames.append)
        self.sessions.append(session)
        return session

    def turns(self) -> list[Any]:
        return [f.turn for f in self.frames if isinstance(f, DialogTurn)]

    def stored_end(self) -> Any:
        """When the call store says the (one) call ended."""
        responder = next(p for p in self.sessions[0].pipeline.processors if isinstance(p, Responder))
        database = open_database(database_location(self.assistant.config))
        try:
            return database.value("SELECT ended_at FROM calls WHERE id = ?", (responder.dialog.record.call_id,))
        finally:
            database.close()


@pytest.mark.slow
def test_a_spoken_request_reaches_its_function_and_a_pin_by_rfc_4733_verifies(
        assistant: Any, banking_dev: list, tmp_path: Path) -> None:
    request = banking_call(banking_dev, "balance_inquiry", tmp_path)
    calls = Observed(assistant)

    async def test(server: SipServer) -> None:
        # the caller speaks after the greeting, presses the PIN 30 s in, hangs up 10 s later
        code, err = await sipp("keys_rfc4733.xml", tmp_path, {"speak_ms": "30000", "keys": PIN, "wait_ms": "10000"})
        assert code == 0, err
        await until(lambda: calls.sessions and calls.sessions[0].ended, 10)
        assert server.active_calls == 0

    serve(calls, 4, test)
    intents = [f for f in calls.frames if isinstance(f, IntentResult)]
    assert intents and intents[0].intent == request.intent
    assert intents[0].function == assistant.catalog.function_for(request.intent).id
    turns = calls.turns()
    assert any(t.awaiting == "pin" for t in turns), [t.say for t in turns]
    assert turns[-1].say.startswith("密码验证通过"), [t.say for t in turns]
    assert any(isinstance(f, SynthesizedAudio) for f in calls.frames)
    assert isinstance(calls.frames[-1], EndOfCall) and calls.stored_end()


@pytest.mark.slow
def test_a_pin_by_sip_info_verifies_and_the_assistant_hangs_up(assistant: Any, banking_dev: list, tmp_path: Path) -> None:
    banking_call(banking_dev, "balance_inquiry", tmp_path)
    calls = Observed(assistant)

    async def test(server: SipServer) -> None:
        caller = asyncio.create_task(sipp("keys_info.xml", tmp_path, {"speak_ms": "30000", "keys": PIN}))
        await until(lambda: any(t.say.startswith("密码验证通过") for t in calls.turns()), 70)
        calls.sessions[0].push(EndOfCall())  # the assistant's side ends the call: BYE
        code, err = await caller
        assert code == 0, err
        assert server.active_calls == 0

    serve(calls, 4, test)
    assert calls.sessions[0].ended and calls.stored_end()
