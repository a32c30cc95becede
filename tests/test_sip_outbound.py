"""Outbound SIP calls (SipServer.originate, assistant/transports/sip.py) with sipp as the trunk: the
customer's phone is a sipp UAS (tests/data/sip/uas_*.xml) that answers, refuses, or rings on until
cancelled. Then booked callbacks dialled through it (CallbackDialer, assistant/runtime/workers.py) on a
real database, and the campaigns' dialer (open_dialer, assistant/runtime/telephony.py).

The fast tests put the transport in front of tests/test_sip.py's recording opener (a real CallSession
whose only stage notes every frame and says a tone); the slow ones in front of the real assistant.
Everything on 127.0.0.1, ports 25060-25499.
"""
from __future__ import annotations

import asyncio
import audioop
import socket
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from call_lines import until
from conversation import CATALOG, CONFIG, Call, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)
from test_audio import g711_wav
from test_queue_callbacks import busy, waiting_call  # noqa: F401 (fixtures)
from test_queue_escalation import queue
from test_sip import MULAW, SCENARIOS, Calls, Observed, executor, tone  # noqa: F401 (fixtures)

from assistant.core.dialing import TICKET, Dialed, OutboundCall
from assistant.core.errors import AssistantError
from assistant.core.frames import OUTBOUND, AudioChunk, CallStarted, EndOfCall, SynthesizedAudio
from assistant.core.session import CallOpener
from assistant.runtime.telephony import TRUNK_VARIABLE, dial_settings, open_dialer, trunk_address
from assistant.runtime.workers import STALE_MARGIN_S, CallbackDialer, DialSettings, callback_opener
from assistant.storage.calls import DATABASE_VARIABLE
from assistant.storage.database import open_database
from assistant.transports.sip import SipServer, outcome_of
from domain.clock import in_beijing
from domain.config import Config

HOST = "127.0.0.1"
SIP_PORT = 25060  # the assistant; its RTP from 25062 up (128 ports)
TRUNK_PORT = 25400  # sipp as the trunk; its RTP at 25410
CALLER_PORT = 25450  # sipp as an inbound caller; its RTP at 25460
TRUNK = f"{HOST}:{TRUNK_PORT}"
NUMBER = "13800138000"  # 张三 in the sandbox bank's seed, who booked the callbacks below
CALLBACK_FUNCTION = "human_agent"  # intents/service.yml: hands off at the caller's request


def customer_wav(folder: Path, pcm: bytes) -> None:
    """What the customer says, as the UAS scenarios' rtp_stream plays it: customer.wav, mu-law, 8 kHz."""
    g711_wav(folder / "customer.wav", MULAW, audioop.lin2ulaw(pcm, 2))


async def sipp(scenario: str, folder: Path, keys: dict[str, str] | None = None, *,
               port: int = TRUNK_PORT, to: str | None = None, timeout_s: int = 40) -> tuple[int, str]:
    """One sipp call in `folder`: the trunk's UAS at `port`, or with `to` (HOST:PORT) a UAC calling
    there. Its exit code (0: the scenario passed) and its error output and log."""
    log = folder / f"sipp-{port}.log"
    args = ["sipp", "-sf", str(SCENARIOS / scenario), "-m", "1", "-i", HOST, "-p", str(port), "-mi", HOST,
            "-mp", str(port + 10), "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error",
            "-trace_logs", "-log_file", str(log), "-key", "caller", NUMBER]
    for name, value in (keys or {}).items():
        args += ["-key", name, value]
    process = await asyncio.create_subprocess_exec(*args, *([to] if to else []), cwd=folder,
                                                   stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), timeout_s + 10)
    return process.returncode, err.decode(errors="replace") + (log.read_text() if log.exists() else "")


@asynccontextmanager
async def dialling(opener: CallOpener, max_calls: int = 2, trunk: str | None = TRUNK) -> AsyncIterator[SipServer]:
    """The assistant's SIP front-end at SIP_PORT, dialling out through `trunk`, for the length of the block."""
    server = SipServer(HOST, SIP_PORT, opener, max_calls, trunk=trunk)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def originate(server: SipServer, call: OutboundCall, ring_s: float = 10.0) -> tuple[Dialed, float]:
    """`server.originate` from a thread of its own, as its callers do; what it returned and how long it took."""
    began = time.monotonic()
    dialed = await asyncio.to_thread(server.originate, call, ring_s)
    return dialed, time.monotonic() - began


CALLBACK = OutboundCall(NUMBER, "callback", CALLBACK_FUNCTION, {TICKET: "42"})


# -- outcomes, from the SIP responses --

@pytest.mark.parametrize("status, reason, rang, timed_out, outcome, detail", [
    (486, "Busy Here", True, False, "busy", ""),
    (600, "Busy Everywhere", False, False, "busy", ""),
    (603, "Decline", True, False, "busy", ""),
    (487, "Request Terminated", True, True, "no_answer", ""),  # our CANCEL after the ring timeout
    (408, "Request Timeout", True, False, "no_answer", ""),
    (480, "Temporarily Unavailable", False, False, "no_answer", ""),  # the phone is off
    (408, "Request Timeout", False, False, "failed", "the trunk sent no answer to the INVITE (no ringing, no final response)"),
    (487, "Request Terminated", False, True, "failed", "the trunk sent no answer to the INVITE (no ringing, no final response)"),
    (404, "Not Found", False, False, "failed", "404 Not Found"),
    (503, "Service Unavailable", True, False, "failed", "503 Service Unavailable"),
])
def test_the_outcome_of_an_unanswered_call(status: int, reason: str, rang: bool, timed_out: bool, outcome: str,
                                           detail: str) -> None:
    assert outcome_of(status, reason, rang, timed_out) == (outcome, detail)


# -- the trunk and the dialling settings, from config.yml and the environment --

def test_the_trunk_comes_from_the_environment_over_config_yml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUNK_VARIABLE, raising=False)
    assert trunk_address({}) is None and trunk_address({"trunk": ""}) is None
    assert str(trunk_address({"trunk": "10.0.0.5:5060"})) == "10.0.0.5:5060"
    monkeypatch.setenv(TRUNK_VARIABLE, "127.0.0.1:5070")
    assert str(trunk_address({"trunk": "10.0.0.5:5060"})) == "127.0.0.1:5070"


@pytest.mark.parametrize("variable, configured, named", [
    ("", "sip.carrier", "config.yml telephony.trunk"),
    ("", "10.0.0.5:0", "config.yml telephony.trunk"),
    ("127.0.0.1:70000", "10.0.0.5:5060", "$ASSISTANT_TRUNK"),
    ("sip:trunk@10.0.0.5", "", "$ASSISTANT_TRUNK"),
])
def test_a_bad_trunk_names_its_option(monkeypatch: pytest.MonkeyPatch, variable: str, configured: str, named: str) -> None:
    monkeypatch.setenv(TRUNK_VARIABLE, variable)
    with pytest.raises(AssistantError, match=f"^{named.replace('$', '[$]')}: "):
        trunk_address({"trunk": configured})


def test_dial_settings_from_config_yml() -> None:
    section = CONFIG.section("telephony")
    assert dial_settings(section) == DialSettings(3, 600.0, 2, 10.0, 30.0)  # as config.yml ships
    assert dial_settings({"ring_s": 20, "callbacks": {"tries": 5}}) == DialSettings(5, 600.0, 2, 10.0, 20.0)
    for bad in ({"callbacks": {"tries": 0}}, {"ring_s": "soon"}, {"callbacks": {"retries": 2}}, {"callbacks": [3]}):
        with pytest.raises(AssistantError, match="config.yml: telephony: "):
            dial_settings(bad)


# -- outbound calls through the trunk --

def test_an_answered_call_talks_both_ways_until_the_customer_hangs_up(tmp_path: Path,
                                                                      executor: ThreadPoolExecutor) -> None:
    customer_wav(tmp_path, tone(1.0))
    calls = Calls(executor)

    async def test() -> tuple[Dialed, float, SipServer]:
        async with dialling(calls) as server:
            trunk = asyncio.create_task(sipp("uas_answer.xml", tmp_path, {"ring_ms": "500", "talk_ms": "2000"}))
            dialed, took = await originate(server, CALLBACK)
            assert calls.opened[0][0].ended  # originate returned once the session was over too
            code, err = await trunk
            assert code == 0, err  # 180, 200, ACK, then the customer's BYE was answered 200
            assert f"dialled {NUMBER}" in err
            return dialed, took, server

    dialed, took, server = asyncio.run(test())
    assert (dialed.outcome, dialed.sip_status, dialed.detail) == ("answered", 200, "")
    assert 1.8 <= dialed.talked_s <= 3.0 and dialed.talked_s < took
    (session, far), = calls.opened
    assert session.call == CallStarted(dialed.call_id, NUMBER, OUTBOUND, 8000, "sip", CALLBACK_FUNCTION, {TICKET: "42"})
    loud = [c for c in far.of(AudioChunk) if audioop.rms(c.pcm, 2) > 2000]
    assert len(loud) * 0.02 >= 0.9  # the customer's second of tone
    assert isinstance(far.frames[-1][1], EndOfCall)
    stats, = server.stats
    assert stats.frames_played >= 45 and stats.rx_packets >= 75  # the session's second of tone went out


def test_the_assistant_hangs_up_an_answered_call(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    customer_wav(tmp_path, tone(0.5))
    calls = Calls(executor)

    async def test() -> Dialed:
        async with dialling(calls) as server:
            trunk = asyncio.create_task(sipp("uas_answer.xml", tmp_path, {"ring_ms": "0", "talk_ms": "0"}))
            dialing = asyncio.create_task(originate(server, CALLBACK))
            await until(lambda: calls.opened and calls.opened[0][1].of(AudioChunk), 10, "the answered call's audio")
            await asyncio.sleep(1.0)
            calls.opened[0][0].push(EndOfCall())  # the assistant's side ends the call: BYE
            dialed, _ = await dialing
            code, err = await trunk
            assert code == 0, err  # the customer got the BYE and answered it
            return dialed

    dialed = asyncio.run(test())
    assert (dialed.outcome, dialed.sip_status) == ("answered", 200) and dialed.talked_s >= 1.0


def test_stopping_the_server_hangs_up_an_answered_call_which_counts_as_answered(
        tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    customer_wav(tmp_path, tone(0.5))
    calls = Calls(executor)

    async def test() -> tuple[Dialed, float]:
        async with dialling(calls) as server:
            trunk = asyncio.create_task(sipp("uas_answer.xml", tmp_path, {"ring_ms": "0", "talk_ms": "0"}))
            dialing = asyncio.create_task(originate(server, CALLBACK))
            await until(lambda: server.active_calls == 1, 10, "the answer")
            await asyncio.sleep(0.5)
            await server.stop()  # BYE
            code, err = await trunk
            assert code == 0, err
            return await dialing

    (dialed, took) = asyncio.run(test())
    assert (dialed.outcome, dialed.sip_status, dialed.detail) == ("answered", 200, "") and dialed.talked_s >= 0.5
    assert took < 5 and calls.opened[0][0].ended


@pytest.mark.parametrize("scenario, status, outcome, detail", [
    ("uas_busy.xml", 486, "busy", ""),
    ("uas_not_found.xml", 404, "failed", "404 Not Found"),
])
def test_a_refused_call(tmp_path: Path, executor: ThreadPoolExecutor, scenario: str, status: int, outcome: str,
                        detail: str) -> None:
    calls = Calls(executor)

    async def test() -> tuple[Dialed, float, SipServer]:
        async with dialling(calls) as server:
            trunk = asyncio.create_task(sipp(scenario, tmp_path))
            dialed, took = await originate(server, CALLBACK)
            code, err = await trunk
            assert code == 0, err  # the final response was ACKed
            assert f"dialled {NUMBER}" in err
            return dialed, took, server

    dialed, took, server = asyncio.run(test())
    assert (dialed.outcome, dialed.sip_status, dialed.detail, dialed.talked_s) == (outcome, status, detail, 0.0)
    assert dialed.call_id and took < 3
    assert calls.opened == [] and server.stats == []  # no session for a call nobody answered


def test_a_ringing_phone_nobody_answers_is_cancelled_after_the_ring_timeout(tmp_path: Path,
                                                                            executor: ThreadPoolExecutor) -> None:
    calls = Calls(executor)

    async def test() -> tuple[Dialed, float]:
        async with dialling(calls) as server:
            trunk = asyncio.create_task(sipp("uas_ring.xml", tmp_path))
            dialed, took = await originate(server, CALLBACK, ring_s=2.0)
            code, err = await trunk
            assert code == 0, err  # the CANCEL came, the 487 was ACKed
            return dialed, took

    dialed, took = asyncio.run(test())
    assert (dialed.outcome, dialed.sip_status, dialed.detail) == ("no_answer", 487, "")
    assert 2.0 <= took < 3.5 and calls.opened == []


def test_no_peer_at_the_trunk_fails_within_the_ring_timeout(executor: ThreadPoolExecutor) -> None:
    async def test() -> tuple[Dialed, float]:
        async with dialling(Calls(executor)) as server:  # nothing listens at TRUNK
            return await originate(server, CALLBACK, ring_s=2.0)

    dialed, took = asyncio.run(test())
    assert dialed.outcome == "failed" and "no answer to the INVITE" in dialed.detail
    assert 2.0 <= took < 3.5


def test_a_bad_number_fails_without_an_invite(executor: ThreadPoolExecutor) -> None:
    async def test() -> list[Dialed]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as trunk:  # where an INVITE would go
            trunk.bind((HOST, TRUNK_PORT))
            trunk.settimeout(0.5)
            async with dialling(Calls(executor)) as server:
                dialed = [(await originate(server, OutboundCall(number, "callback")))[0]
                          for number in ("", "138 0013 8000", "sip:evil@10.0.0.1", "95588;user=phone", "1" * 33)]
            with pytest.raises(socket.timeout):
                trunk.recvfrom(2048)
        return dialed

    for dialed in asyncio.run(test()):
        assert (dialed.outcome, dialed.call_id, dialed.sip_status) == ("failed", "", None)
        assert dialed.detail.startswith("not a phone number")


def test_originate_needs_a_trunk_and_a_thread(executor: ThreadPoolExecutor) -> None:
    async def test() -> None:
        async with dialling(Calls(executor), trunk=None) as server:
            with pytest.raises(AssistantError, match=r"telephony\.trunk or \$ASSISTANT_TRUNK"):
                await originate(server, CALLBACK)
        async with dialling(Calls(executor)) as server:
            with pytest.raises(AssistantError, match="call it from a thread, not the event loop"):
                server.originate(CALLBACK)
        with pytest.raises(AssistantError, match="not running"):
            await originate(server, CALLBACK)

    asyncio.run(test())


def test_outbound_calls_count_against_the_call_limit(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    trunk_folder, caller_folder = tmp_path / "trunk", tmp_path / "caller"
    for folder in (trunk_folder, caller_folder):
        folder.mkdir()
    customer_wav(trunk_folder, tone(0.5))
    calls = Calls(executor)

    async def test() -> tuple[Dialed, Dialed]:
        async with dialling(calls, max_calls=1) as server:
            trunk = asyncio.create_task(sipp("uas_answer.xml", trunk_folder, {"ring_ms": "0", "talk_ms": "3000"}))
            talking = asyncio.create_task(originate(server, CALLBACK))
            await until(lambda: server.active_calls == 1, 10, "the first call's answer")
            second, _ = await originate(server, CALLBACK)
            code, err = await sipp("refused.xml", caller_folder, port=CALLER_PORT, to=f"{HOST}:{SIP_PORT}")
            assert code == 0, err  # an inbound call gets 503 while the outbound one talks
            first, _ = await talking
            code, err = await trunk
            assert code == 0, err
            return first, second

    first, second = asyncio.run(test())
    assert first.outcome == "answered" and len(calls.opened) == 1
    assert (second.outcome, second.call_id, second.detail) == ("failed", "", "the call limit is reached (1 calls)")


# -- booked callbacks dialled through the trunk (a real queue on SQLite and PostgreSQL) --

DUE = in_beijing(datetime(2025, 1, 6, 10, 15))  # when the callback 张三 books below is due
SETTINGS = DialSettings(tries=2, retry_s=60.0, at_once=1, every_s=1.0, ring_s=1.5)


def booked(world: World) -> int:
    """张三, waiting at the general desk, books the earliest callback; it is due now. Its ticket."""
    call = waiting_call(world)
    call.keys("2")
    call.keys("1")
    world.clock.set(DUE)
    ticket = call.turns[0].escalation
    assert ticket is not None and queue(world).entry(ticket).status == "callback"
    return ticket


def dials(world: World, ticket: int) -> list[tuple[Any, ...]]:
    return [(d["attempt"], d["outcome"], d["sip_status"], d["detail"]) for d in queue(world).tickets.dials(ticket)]


async def dial_due(dialer: CallbackDialer, folder: Path, scenario: str, keys: dict[str, str] | None = None) -> list[int]:
    """One tick of `dialer` with sipp as the trunk: the tickets it dialled, once their outcomes are recorded."""
    trunk = asyncio.create_task(sipp(scenario, folder, keys))
    started = await asyncio.to_thread(dialer.tick)
    await until(lambda: not dialer.dialing, 20, "the dials' outcomes")
    code, err = await trunk
    assert code == 0, err
    return started


@pytest.mark.both_databases
@pytest.mark.parametrize("agent_free", [False, True])
def test_an_answered_callback_waits_for_an_agent_or_goes_to_one(busy: World, tmp_path: Path,
                                                                 executor: ThreadPoolExecutor, agent_free: bool) -> None:
    ticket = booked(busy)
    desk = queue(busy)
    if agent_free:
        desk.finish("王芳")
        desk.set_agent("王芳", state="available")
    callbacks = busy.dialogs().callbacks
    customer_wav(tmp_path, tone(0.5))
    calls = Calls(executor)

    async def test() -> None:
        async with dialling(callback_opener(callbacks, calls)) as server:
            dialer = CallbackDialer(callbacks, server, CALLBACK_FUNCTION, SETTINGS)
            assert await dial_due(dialer, tmp_path, "uas_answer.xml", {"ring_ms": "300", "talk_ms": "1500"}) == [ticket]
            assert await asyncio.to_thread(dialer.tick) == []  # answered: not dialled again
            await asyncio.to_thread(dialer.close)

    asyncio.run(test())
    (session, _), = calls.opened
    assert session.call == CallStarted(session.call.call_id, NUMBER, OUTBOUND, 8000, "sip", CALLBACK_FUNCTION,
                                       {TICKET: str(ticket)})
    entry = desk.entry(ticket)
    assert (entry.status, entry.agent) == (("taken", "王芳") if agent_free else ("waiting", None))
    assert entry.callback is not None and (entry.callback["dials"], entry.callback["last_dial"]) == (1, "answered")
    assert dials(busy, ticket) == [(1, "answered", 200, "")]
    assert queue(busy).tickets.dials(ticket)[0]["call_id"] == session.call.call_id


@pytest.mark.both_databases
def test_a_callback_nobody_answers_is_dialled_again_then_left_on_the_desk(busy: World, tmp_path: Path,
                                                                           executor: ThreadPoolExecutor) -> None:
    ticket = booked(busy)
    desk = queue(busy)
    desk.set_agent("李明", ["general"])  # free, but the callback is the assistant's to dial first
    callbacks = busy.dialogs().callbacks
    calls = Calls(executor)

    async def test() -> None:
        async with dialling(callback_opener(callbacks, calls)) as server:
            dialer = CallbackDialer(callbacks, server, CALLBACK_FUNCTION, SETTINGS)
            trunk = asyncio.create_task(sipp("uas_ring.xml", tmp_path))
            assert await asyncio.to_thread(dialer.tick) == [ticket]
            assert desk.entry(ticket).status == "dialing"
            assert await asyncio.to_thread(callbacks.dispatch) == []  # no desk gets it while it rings
            await until(lambda: not dialer.dialing, 20, "the first dial's outcome")
            code, err = await trunk
            assert code == 0, err  # cancelled after ring_s
            entry = desk.entry(ticket)
            assert entry.status == "callback" and entry.callback is not None
            assert entry.callback["due_at"] == busy.store.stamp(DUE + timedelta(seconds=SETTINGS.retry_s))
            assert await asyncio.to_thread(dialer.tick) == []  # not due again yet
            busy.clock.advance(seconds=SETTINGS.retry_s)
            assert await dial_due(dialer, tmp_path, "uas_busy.xml") == [ticket]
            busy.clock.advance(seconds=SETTINGS.retry_s)
            assert await asyncio.to_thread(dialer.tick) == []  # its tries are used up
            await asyncio.to_thread(dialer.close)

    asyncio.run(test())
    assert calls.opened == []
    assert dials(busy, ticket) == [(1, "no_answer", 487, ""), (2, "busy", 486, "")]
    entry = desk.entry(ticket)
    assert entry.status == "callback" and entry.callback is not None
    assert entry.callback["due_at"] == busy.store.stamp(DUE + timedelta(seconds=SETTINGS.retry_s))  # as it was
    handed = callbacks.dispatch()  # on the desk: the next free agent calls the customer
    assert [(e.ticket, e.agent, e.status) for e in handed] == [(ticket, "李明", "taken")]


@pytest.mark.both_databases
def test_a_dial_a_stopped_worker_left_is_released_to_the_desk(busy: World, executor: ThreadPoolExecutor) -> None:
    ticket = booked(busy)
    callbacks = busy.dialogs().callbacks
    started = callbacks.start_dial(ticket, SETTINGS.tries, CALLBACK_FUNCTION)  # the worker stops here
    assert started == (1, OutboundCall(NUMBER, "callback", CALLBACK_FUNCTION, {TICKET: str(ticket)}))
    # a server never started: a dial through it would be recorded as a second, failed one
    dialer = CallbackDialer(callbacks, SipServer(HOST, SIP_PORT, Calls(executor), 1, trunk=TRUNK),
                            CALLBACK_FUNCTION, SETTINGS)
    stale_s = SETTINGS.ring_s + STALE_MARGIN_S
    busy.clock.advance(seconds=stale_s - 1)
    assert dialer.tick() == [] and queue(busy).entry(ticket).status == "dialing"  # perhaps still ringing
    busy.clock.advance(seconds=2)
    assert dialer.tick() == []
    dialer.close()
    assert queue(busy).entry(ticket).status == "callback"
    assert dials(busy, ticket) == [(1, "failed", None, "the dialling worker stopped before the call's outcome")]
    queue(busy).set_agent("李明", ["general"])
    assert [e.ticket for e in callbacks.dispatch()] == [ticket]  # a person calls instead


# -- the campaigns' dialer, for a synchronous process --

def with_telephony(config: Config, **options: str) -> Config:
    return replace(config, raw={**config.raw, "telephony": {**config.section("telephony"), **options}})


def test_the_campaigns_dialer_needs_a_trunk_and_a_good_address(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUNK_VARIABLE, raising=False)
    with pytest.raises(AssistantError, match=r"config\.yml telephony\.trunk or \$ASSISTANT_TRUNK"):
        open_dialer(with_telephony(config, trunk=""))
    monkeypatch.setenv(TRUNK_VARIABLE, TRUNK)
    with pytest.raises(AssistantError, match=r"^config\.yml telephony\.dial_from: give HOST:PORT"):
        open_dialer(with_telephony(config, dial_from="localhost"))


@pytest.mark.slow
def test_the_campaigns_dialer_places_a_call_the_assistant_talks_in(config: Config, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRUNK_VARIABLE, TRUNK)
    monkeypatch.setenv(DATABASE_VARIABLE, str(tmp_path / "calls.sqlite"))
    customer_wav(tmp_path, bytes(2 * 8000))  # a second of silence, over and over
    dialer = open_dialer(with_telephony(config, dial_from=f"{HOST}:{SIP_PORT}"))  # loads the models

    async def test() -> Dialed:
        trunk = asyncio.create_task(sipp("uas_answer.xml", tmp_path, {"ring_ms": "300", "talk_ms": "6000"}))
        dialed = await asyncio.to_thread(dialer.originate, OutboundCall(NUMBER, "service_followup"), 10.0)
        code, err = await trunk
        assert code == 0, err
        return dialed

    try:
        dialed = asyncio.run(test())  # a loop of the test's own: the dialer's runs in its thread
        stats, = dialer.server.stats
    finally:
        dialer.close()
    dialer.close()  # a second close does nothing
    assert (dialed.outcome, dialed.sip_status) == ("answered", 200) and dialed.talked_s >= 5.5
    store = open_database(str(tmp_path / "calls.sqlite"))
    try:  # the call's record in the call store: what a campaign reads the call's answers from
        (call,) = store.rows("SELECT caller, ended_at FROM calls WHERE id = ?", (dialed.call_id,))
    finally:
        store.close()
    assert call["caller"] == NUMBER and call["ended_at"]
    assert stats.frames_played >= 150  # no start function: the customer heard the agent call's greeting (4 s)


@pytest.mark.slow
def test_an_answered_callback_hears_the_hold_message(assistant: Any, tmp_path: Path) -> None:
    callbacks = assistant.dialogs.callbacks
    caller = Call(assistant.dialog(NUMBER))
    ticket = caller.keys("0").escalation  # 张三 asked for a person, then booked a callback...
    assert ticket is not None
    callbacks.book(ticket, NUMBER, "2000-01-01T00:00:00", None, None)  # ...due long ago: dialled first
    caller.dialog.close()
    customer_wav(tmp_path, bytes(2 * 8000))
    calls = Observed(assistant)

    async def test() -> None:
        async with dialling(callback_opener(callbacks, calls), max_calls=4) as server:
            dialer = CallbackDialer(callbacks, server, CALLBACK_FUNCTION, replace(SETTINGS, ring_s=10.0))
            assert await dial_due(dialer, tmp_path, "uas_answer.xml", {"ring_ms": "300", "talk_ms": "10000"}) == [ticket]
            await asyncio.to_thread(dialer.close)
            stats, = server.stats
            assert stats.frames_played >= 6 / 0.02  # speech, then hold audio: 6 s and more of the 10

    asyncio.run(test())
    first = calls.turns()[0]
    assert (first.say, first.escalation) == (CATALOG.prompts["handoff"], ticket)
    audio = [f for f in calls.frames if isinstance(f, SynthesizedAudio)]
    said = [a.text for a in audio if a.text]
    assert said and "".join(said) == CATALOG.prompts["handoff"]
    assert sum(len(a.pcm) / 2 / a.sample_rate for a in audio if not a.text) >= 4.0  # hold audio after it
    assert assistant.dialogs.queue.entry(ticket).status == "abandoned"  # hung up while waiting
    assert [(d["outcome"], d["sip_status"]) for d in assistant.dialogs.queue.tickets.dials(ticket)] == [("answered", 200)]

