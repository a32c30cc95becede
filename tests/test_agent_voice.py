"""The agent takes the voice (assistant/runtime/bridging.py, SipServer.connect_agent): an agent with a
phone takes a SIP call's ticket, the worker dials the phone and joins the two calls' audio.

The caller is sipp (tests/data/sip/keys_rfc4733.xml: a tone, then 0# for a person); the agent's phone
is baresip answering by itself, recording what it hears (sndfile), or a sipp UAS that is busy. The fast
tests put the transport in front of calls whose only stage is the real dialog (no speech); the slow
one in front of the real assistant. Everything on 127.0.0.1, ports 25900-25999.
"""
from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import subprocess
import time
import wave
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from call_lines import until
from conversation import CATALOG, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)
from test_audio import peak_frequency
from test_sip import caller_wav, tone
from test_sip_outbound import sipp

from assistant.core.errors import AssistantError
from assistant.core.frames import CallStarted
from assistant.core.session import AudioSink, CallOpener, CallSession
from assistant.dialog.responder import Responder
from assistant.queue.routing import AWAY, ON_CALL, CallQueue
from assistant.runtime.bridging import AgentBridge, BridgeSettings, bridge_settings
from assistant.runtime.workers import record_id
from assistant.storage.database import open_database
from assistant.storage.tickets import TAKEN, WAITING
from assistant.transports.sip import SipServer

pytestmark = pytest.mark.skipif(not (shutil.which("sipp") and shutil.which("baresip")),
                                reason="needs sipp (Debian sip-tester) and baresip (baresip-core)")

HOST = "127.0.0.1"
SIP_PORT, RTP_PORT = 25900, 25910  # the assistant; its RTP from 25910 up
CALLER_PORT = 25920  # sipp as the caller; its RTP at 25930
PHONE_PORT = 25950  # baresip as the agent's phone: SIP (and its TLS port, 25951), ctrl_tcp 25955, RTP 25960-25968
BUSY_PORT = 25935  # sipp as an agent's phone that does not answer; its RTP at 25945
CALLER_PHONE_PORT = 25980  # baresip as the caller: SIP (and 25981), ctrl_tcp 25985, RTP 25990-25998
PHONE = f"sip:agent1@{HOST}:{PHONE_PORT}"
CALLER = "13800138000"  # 张三 in the sandbox bank's seed
CALLER_HZ = 1000.0  # what the caller says: a tone
AGENT_HZ = 1500.0  # what the agent's phone says
FAST = BridgeSettings(every_s=0.2, ring_s=5.0)


# -- the agents' phones and the settings --

@pytest.mark.both_databases
def test_an_agent_has_a_phone_shown_with_the_agent(world: World) -> None:
    queue = world.dialogs().queue
    added = queue.set_agent("A", ["general"], phone=PHONE)
    assert added.phone == PHONE and added.to_json()["phone"] == PHONE
    assert queue.set_agent("B", ["general"]).phone is None and "phone" not in queue.agent("B").to_json()
    assert queue.set_agent("A", state=AWAY).phone == PHONE  # kept when something else changes
    with pytest.raises(AssistantError, match="SIP URI"):
        queue.set_agent("A", phone="1001")
    assert queue.set_agent("A", phone="").phone is None


def test_an_older_agents_table_gets_the_phone_column(tmp_path: Path, world: World) -> None:
    location = str(tmp_path / "old.sqlite")
    database = open_database(location)
    database.script("CREATE TABLE agents (name TEXT PRIMARY KEY, skills TEXT NOT NULL, state TEXT NOT NULL, "
                    "since TEXT NOT NULL); INSERT INTO agents VALUES ('A', '[\"general\"]', 'available', '2026');")
    database.close()
    queue = World(world.bank_path, location).dialogs().queue
    assert queue.agent("A").phone is None
    assert queue.set_agent("A", phone=PHONE).phone == PHONE


def test_agent_phone_settings_from_config_yml(config: Any) -> None:
    assert bridge_settings(config.section("telephony")) == BridgeSettings(0.5, 20.0)  # as config.yml ships
    assert bridge_settings({"agent_phones": {"ring_s": 9}}) == BridgeSettings(0.5, 9.0)
    for bad in ({"every_s": 0}, {"ring": 3}, {"ring_s": "soon"}):
        with pytest.raises(AssistantError, match="agent_phones"):
            bridge_settings({"agent_phones": bad})


# -- the calls: SIP peers --

class DialogCalls:
    """The opener of the fast tests: each call's only stage is the real dialog (keys, no speech)."""

    def __init__(self, world: World, executor: ThreadPoolExecutor) -> None:
        self.dialogs = world.dialogs()
        self.executor = executor
        self.sessions: list[CallSession] = []

    def __call__(self, call: CallStarted, sink: AudioSink | None) -> CallSession:
        session = CallSession(call, [Responder(self.dialogs.open(call.caller), CATALOG)], sink, self.executor)
        self.sessions.append(session)
        return session


class Phone:
    """baresip in `folder` at sip:USER@HOST:PORT: says `say` (a WAV, aufile), records what it hears
    (sndfile: dump-...-dec.wav), answers by itself, and takes commands (ctrl_tcp at PORT + 5)."""

    def __init__(self, folder: Path, say: Path, uri: str = PHONE, port: int = PHONE_PORT) -> None:
        self.folder = folder
        self.port = port
        folder.mkdir()
        (folder / "accounts").write_text(f"<{uri};transport=udp>;regint=0;answermode=auto\n")
        (folder / "config").write_text("\n".join([
            f"sip_listen {HOST}:{port}", f"net_interface {HOST}", f"ctrl_tcp_listen {HOST}:{port + 5}",
            f"rtp_ports {port + 10}-{port + 18}", f"audio_source aufile,{say}",
            "audio_player aubridge,agent", "audio_alert aubridge,agent", f"snd_path {folder}",
            "module_path /usr/lib/baresip/modules",
            *(f"module {m}.so" for m in ("account", "g711", "aufile", "aubridge", "sndfile", "menu", "ctrl_tcp")),
        ]) + "\n")
        self.log = folder / "baresip.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Phone:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(["baresip", "-f", str(self.folder)], stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while "baresip is ready" not in self.text():
            assert self.process.poll() is None and time.monotonic() < deadline, self.text()
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(10)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def command(self, command: str, params: str = "") -> None:
        """One ctrl_tcp command (a netstring of JSON), once baresip says it was done."""
        message = json.dumps({"command": command, "params": params, "token": "test"}).encode()
        with socket.create_connection((HOST, self.port + 5), timeout=5) as control:
            control.sendall(b"%d:%s," % (len(message), message))
            reply = b""
            while b'"response":true' not in reply:
                chunk = control.recv(4096)
                assert chunk, reply
                reply += chunk
        assert b'"ok":true' in reply, reply

    def heard(self) -> np.ndarray:
        """What the phone heard on its (one) call, as samples."""
        recordings = sorted(self.folder.glob("dump-*-dec.wav"))
        assert len(recordings) == 1, self.text()
        with wave.open(str(recordings[0])) as recording:
            return np.frombuffer(recording.readframes(recording.getnframes()), np.int16)


def wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm)
    return path


async def caller(folder: Path, speak_s: float, talk_s: float) -> tuple[int, str]:
    """sipp calling the assistant: caller.wav from the start, 0# after `speak_s`, BYE `talk_s` later."""
    return await sipp("keys_rfc4733.xml", folder, {"speak_ms": str(int(speak_s * 1000)), "keys": "0#",
                                                   "wait_ms": str(int(talk_s * 1000))},
                      port=CALLER_PORT, to=f"{HOST}:{SIP_PORT}", timeout_s=90)


@asynccontextmanager
async def worker(opener: CallOpener, queue: CallQueue, settings: BridgeSettings = FAST
                 ) -> AsyncIterator[tuple[SipServer, AgentBridge]]:
    """The SIP front-end at SIP_PORT and its agents' phones poller, for the length of the block."""
    server = SipServer(HOST, SIP_PORT, opener, 4, rtp_port=RTP_PORT)
    await server.start()
    bridge = AgentBridge(queue, server, settings)
    stop = asyncio.Event()
    polling = asyncio.create_task(bridge.run(stop))
    try:
        yield server, bridge
    finally:
        stop.set()
        await polling
        await server.stop()
        await asyncio.to_thread(bridge.close)


def waiting_ticket(queue: CallQueue) -> int | None:
    waiting = queue.waiting()
    return waiting[0].ticket if waiting else None


def loudest_hz(samples: np.ndarray) -> float:
    return peak_frequency(samples.astype(float), 8000)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4, thread_name_prefix="call") as pool:
        yield pool


def test_caller_and_agent_hear_each_other_until_the_caller_hangs_up(
        world: World, tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    calls = DialogCalls(world, executor)
    queue = calls.dialogs.queue
    queue.set_agent("A", ["general"], phone=PHONE)
    other = world.call()  # a call on no SIP line of this worker, taken by a phone agent: not this worker's
    other.keys("0")
    queue.set_agent("B", ["general"], phone=f"sip:agent2@{HOST}:{BUSY_PORT}")
    assert queue.take_next("B") is not None
    says = wav(tmp_path / "caller.wav", tone(30, CALLER_HZ))

    async def test() -> None:
        async with worker(calls, queue) as (server, bridge):
            with Phone(tmp_path / "phone", wav(tmp_path / "agent.wav", tone(30, AGENT_HZ))) as phone, \
                    Phone(tmp_path / "caller", says, f"sip:{CALLER}@{HOST}:{CALLER_PHONE_PORT}",
                          CALLER_PHONE_PORT) as calling:
                await asyncio.to_thread(calling.command, "dial", f"sip:assistant@{HOST}:{SIP_PORT}")
                await until(lambda: "Call established" in calling.text(), 10, "the assistant answering")
                for key in "0#":  # a person, from the key menu (RFC 4733)
                    await asyncio.to_thread(calling.command, "sndcode", key)
                await until(lambda: waiting_ticket(queue) is not None, 20, "the caller's ticket")
                assert bridge.tick() == []  # B's take is of a call elsewhere
                taken = queue.take_next("A")
                assert taken is not None
                await until(lambda: "Call established" in phone.text(), 15, "the agent's phone answering")
                await until(lambda: not server.live_calls(), 5, "the call being the agent's")
                await asyncio.sleep(4)  # caller and agent talk
                await asyncio.to_thread(calling.command, "hangup")
                await until(lambda: "terminated" in phone.text(), 10, "the agent's leg hung up")
                await until(lambda: all(s.ended for s in calls.sessions), 10, "the session ending")
                heard, answered = phone.heard(), calling.heard()
        assert queue.entry(taken.ticket).status == TAKEN and queue.entry(taken.ticket).agent == "A"
        assert queue.agent("A").state == ON_CALL  # wrap-up stays on the desk
        assert len(heard) > 3 * 8000 and loudest_hz(heard) == pytest.approx(CALLER_HZ, abs=10)
        assert loudest_hz(answered) == pytest.approx(AGENT_HZ, abs=10)  # and the caller the agent

    asyncio.run(test())
    assert not queue.waiting()  # nothing went back to waiting
    assert record_id(calls.sessions[0]) == world.ticket(queue.tickets.taken_by("A").ticket)["call_id"]


@pytest.mark.parametrize("scenario, outcome", [("uas_busy.xml", "busy"), ("uas_ring.xml", "no answer")])
def test_an_agent_phone_not_answering_puts_the_ticket_back_and_the_agent_away(
        world: World, tmp_path: Path, executor: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture,
        scenario: str, outcome: str) -> None:
    calls = DialogCalls(world, executor)
    queue = calls.dialogs.queue
    queue.set_agent("B", ["general"], phone=f"sip:agent2@{HOST}:{BUSY_PORT}")
    caller_wav(tmp_path, tone(FAST.ring_s + 10, CALLER_HZ))

    async def test() -> None:
        async with worker(calls, queue) as (server, _):
            phone = asyncio.create_task(sipp(scenario, tmp_path, port=BUSY_PORT))
            calling = asyncio.create_task(caller(tmp_path, speak_s=1, talk_s=FAST.ring_s + 8))
            await until(lambda: waiting_ticket(queue) is not None, 20, "the caller's ticket")
            ticket = waiting_ticket(queue)
            assert queue.take_next("B") is not None
            code, err = await phone
            assert code == 0, err
            await until(lambda: queue.entry(ticket).status == WAITING, 10, "the ticket back")
            (line,) = server._lines.values()
            assert line.hold_at is not None and not line.bridged  # the caller hears hold audio
            frames = line.hold_at
            await asyncio.sleep(1)
            assert line.hold_at != frames  # and it plays
            (entry,) = queue.waiting()
            assert entry.ticket == ticket and entry.agent is None and queue.agent("B").state == AWAY
            code, err = await calling
            assert code == 0, err
            assert queue.entry(ticket).status == "abandoned"  # the caller hung up waiting, as without a phone

    asyncio.run(test())
    assert any(f"B's phone {outcome}; the ticket waits again and B is away" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_the_agent_hears_the_real_assistants_caller(assistant: Any, tmp_path: Path) -> None:
    queue = assistant.dialogs.queue
    queue.set_agent("agent-voice", ["general"], state=AWAY)  # away while others' tickets wait
    caller_wav(tmp_path, bytes(8000 * 2 * 20) + tone(25, CALLER_HZ))  # 0# at 12 s; the tone once the agent has the call
    sessions: list[CallSession] = []

    def opener(call: CallStarted, sink: AudioSink | None) -> CallSession:
        sessions.append(assistant.open_call(call, sink))
        return sessions[-1]

    def mine() -> int | None:
        """The caller's ticket once it waits."""
        return next((e.ticket for e in queue.waiting() if sessions
                     and world_call_id(e.ticket) == record_id(sessions[0])), None)

    def world_call_id(ticket: int) -> str:
        return queue.db.value("SELECT call_id FROM handoffs WHERE id = ?", (ticket,))

    async def test() -> None:
        async with worker(opener, queue, BridgeSettings(0.5, 10.0)):
            with Phone(tmp_path / "phone", wav(tmp_path / "agent.wav", tone(40, AGENT_HZ))) as phone:
                calling = asyncio.create_task(caller(tmp_path, speak_s=12, talk_s=30))
                await until(lambda: mine() is not None, 60, "the caller's ticket")
                ticket = mine()
                queue.set_agent("agent-voice", state="available", phone=PHONE)
                with queue.db.write():  # this caller's ticket, whatever else waits in the shared database
                    assert queue.claim(ticket, "agent-voice")
                await until(lambda: "Call established" in phone.text(), 20, "the agent's phone answering")
                code, err = await calling
                assert code == 0, err
                await until(lambda: "terminated" in phone.text(), 10, "the agent's leg hung up")
                heard = phone.heard()
        assert queue.entry(ticket).agent == "agent-voice"
        assert loudest_hz(heard) == pytest.approx(CALLER_HZ, abs=10)

    logging.getLogger("assistant").setLevel(logging.INFO)
    try:
        asyncio.run(test())
    finally:
        if queue.agent("agent-voice").state == ON_CALL:
            queue.finish("agent-voice")
