"""The assistant hanging up by itself: a turn that ends the call (`Turn.hangs_up`, a function's ending
such as the follow-up survey's thanks, intents/campaigns.yml service_survey) ends it once its reply
has been heard.

The dialog marks the closing turn (fast, keys only, tests/test_campaign_survey.py's survey call).
AudioSocket and media streams hang up after a closing turn's audio (fast: the real CallSession over
tests/test_call_session.py's closing stage). The real survey over SIP, sipp as the customer's phone
pressing 1 then 4 by RFC 4733, gets the assistant's BYE after the thanks has been played to it (slow:
the real models; the outbound call is simulated by an inbound sipp call whose session opens as the
campaign's would, CallStarted(direction="outbound", start_function="service_survey")).
`assistant chat --text --json --outbound service_survey` prints the closing turn with
"hangs_up": true and reads no further line. SIP on 127.0.0.1 ports 25500-25999.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from call_lines import Seen, serving, until
from conversation import World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)
from test_audiosocket import AUDIO, HANGUP, UUID, Asterisk, af
from test_call_session import Closing
from test_campaign_survey import ENDINGS, SURVEY, survey
from test_chat_json import chat, project, rows  # noqa: F401 (fixtures)
from test_media_streams import Provider
from test_sip import Observed, caller_wav
from test_sip_outbound import sipp

from assistant.campaigns.results import RecordedCalls
from assistant.campaigns.runner import Answered
from assistant.catalog.catalog import ENDING
from assistant.core.frames import OUTBOUND, CallStarted, DialogTurn, EndOfCall, SynthesizedAudio
from assistant.core.session import FRAME_S, HANG_UP_TAIL_S, AudioSink, CallSession
from assistant.dialog.responder import Responder
from assistant.storage.calls import database_location
from assistant.storage.database import open_database
from assistant.transports.audiosocket import AudioSocketServer
from assistant.transports.media_streams import MediaStreamServer
from assistant.transports.sip import SAMPLE_RATE, SipServer

HOST = "127.0.0.1"
SIP_PORT = 25500  # the assistant; its RTP from 25502 up (128 ports)
PHONE_PORT = 25700  # sipp as the customer's phone; its RTP at 25710
GOODBYE_FRAMES = 25  # Closing's half second of audio, in 20 ms frames


@pytest.mark.parametrize("keys, ending", [(["1", "4"], "completed"), (["2"], "wrong_person"), (["9"], "refused")])
def test_only_the_turn_that_says_an_ending_hangs_up(world: World, keys: list[str], ending: str) -> None:
    call = survey(world)
    turns = [call.opening] + [call.type(f"dtmf:{key}") for key in keys]
    assert [turn.hangs_up for turn in turns] == [False] * len(keys) + [True]
    assert turns[-1].say.endswith(ENDINGS[ending]) and turns[-1].to_json()["hangs_up"] is True
    call.hang_up()


class ClosingCalls:
    """A call opener for the front-ends: each call says half a second in a turn that ends the call."""

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self.executor = executor
        self.sessions: list[CallSession] = []

    def __call__(self, call: CallStarted, sink: AudioSink | None) -> CallSession:
        self.sessions.append(CallSession(call, [Closing(hangs_up=True)], sink, self.executor))
        return self.sessions[-1]


def test_audiosocket_hears_the_whole_goodbye_then_the_hang_up_frame() -> None:
    async def call(calls: ClosingCalls) -> Asterisk:
        async with serving(AudioSocketServer, calls) as server:
            asterisk = await Asterisk.dial(server.port)
            asterisk.send(af(UUID, uuid.uuid4().bytes))
            assert await asterisk.closed_by_server(5)
            await asterisk.close()
            return asterisk

    with ThreadPoolExecutor(2) as executor:
        calls = ClosingCalls(executor)
        asterisk = asyncio.run(call(calls))
    assert [kind for _, kind, _ in asterisk.received] == [AUDIO] * GOODBYE_FRAMES + [HANGUP]
    first_at, hung_up_at = asterisk.received[0][0], asterisk.received[-1][0]
    assert hung_up_at - first_at >= GOODBYE_FRAMES * FRAME_S + HANG_UP_TAIL_S - 0.05  # played out first
    assert calls.sessions[0].hung_up


def test_a_media_stream_hears_the_whole_goodbye_then_is_closed_normally() -> None:
    async def call(calls: ClosingCalls) -> tuple[Provider, float]:
        async with serving(MediaStreamServer, calls) as server:
            provider = await Provider.dial(server.port)
            await provider.start()
            assert await provider.closed_by_server(5)
            closed_at = time.monotonic()
            await provider.close()
            return provider, closed_at

    with ThreadPoolExecutor(2) as executor:
        calls = ClosingCalls(executor)
        provider, closed_at = asyncio.run(call(calls))
    media = provider.events("media")
    assert len(media) == GOODBYE_FRAMES and provider.close_code == 1000
    assert closed_at - media[0][0] >= GOODBYE_FRAMES * FRAME_S + HANG_UP_TAIL_S - 0.05
    assert calls.sessions[0].hung_up


class _TimedLine:
    """The line's sink, noting when each 20 ms frame of reply audio went to it."""

    def __init__(self, line: AudioSink, sent: list[float]) -> None:
        self.line, self.sent = line, sent

    async def send(self, pcm: bytes) -> None:
        self.sent.append(time.monotonic())
        await self.line.send(pcm)

    async def clear(self) -> None:
        await self.line.clear()


class SurveyCalls(Observed):
    """The real assistant's calls, each opened as an answered survey call of a campaign; when each frame
    left the processors (`seen`) and when each frame of reply audio went to the line (`sent`)."""

    def __init__(self, assistant: Any) -> None:
        super().__init__(assistant)
        self.seen = Seen()
        self.sent: list[float] = []

    def __call__(self, call: CallStarted, sink: AudioSink | None) -> CallSession:
        assert sink is not None
        answered = replace(call, direction=OUTBOUND, start_function=SURVEY)
        session = self.assistant.open_call(answered, _TimedLine(sink, self.sent), self._observe)
        self.sessions.append(session)
        return session

    def _observe(self, frame: Any) -> None:
        self.frames.append(frame)
        self.seen(frame)

    def result(self) -> Answered:
        """What the campaign reads of the (one) call."""
        responder = next(p for p in self.sessions[0].pipeline.processors if isinstance(p, Responder))
        database = open_database(database_location(self.assistant.config))
        try:
            return RecordedCalls(database).result(responder.dialog.record.call_id)
        finally:
            database.close()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (Debian sip-tester)")
def test_the_survey_over_sip_ends_with_the_assistant_s_bye_after_its_thanks(assistant: Any, tmp_path: Path) -> None:
    caller_wav(tmp_path, bytes(SAMPLE_RATE * 2))  # a second of silence: the customer only presses keys
    calls = SurveyCalls(assistant)

    async def test() -> None:
        server = SipServer(HOST, SIP_PORT, calls, 2)
        await server.start()
        try:
            code, err = await sipp("keys_then_bye.xml", tmp_path, {"speak_ms": "3000", "first": "1", "gap_ms": "3000",
                                                                  "second": "4"},
                                   port=PHONE_PORT, to=f"{HOST}:{SIP_PORT}", timeout_s=90)
            assert code == 0, err  # the assistant's BYE came, and was answered
            await until(lambda: calls.sessions[0].ended, 10)
            assert server.active_calls == 0
        finally:
            await server.stop()

    asyncio.run(test())
    turns = [(t, f.turn) for t, f in calls.seen.of(DialogTurn)]
    assert [t.hangs_up for _, t in turns] == [False, False, True], [t.say for _, t in turns]
    closed_at, closing = turns[-1]
    assert closing.say.endswith(ENDINGS["completed"])
    ended_at, _ = calls.seen.of(EndOfCall)[0]  # the session's end: the BYE went out then
    # the thanks was all sent to the line, and had been played out at the far end before the BYE
    thanks_s = sum(len(f.pcm) / 2 / f.sample_rate for t, f in calls.seen.of(SynthesizedAudio) if t >= closed_at)
    sent_after = [t for t in calls.sent if t >= closed_at]
    assert thanks_s > 2.0 and len(sent_after) >= thanks_s / FRAME_S - 1
    assert ended_at - calls.sent[-1] >= HANG_UP_TAIL_S and ended_at - closed_at >= thanks_s
    assert calls.sessions[0].hung_up and calls.stored_end()
    assert calls.result() == Answered("completed", {"party": "customer", "satisfaction": "4"})


def test_chat_as_the_survey_s_customer_stops_at_the_turn_that_hangs_up(project: Path) -> None:
    result = chat(project, ["dtmf:1", "dtmf:4", "dtmf:5"], "--outbound", SURVEY)
    assert result.returncode == 0, result.stderr
    opening, party, closing = (json.loads(line) for line in result.stdout.splitlines())  # dtmf:5 never read
    assert [turn["hangs_up"] for turn in (opening, party, closing)] == [False, False, True]
    assert closing["say"] == ENDINGS["completed"] and closing["awaiting"] is None
    assert closing["slots"] == {"party": "customer", "satisfaction": "4", ENDING: "completed"}
    assert "The assistant hung up." in result.stderr
    (call,) = rows(project / "calls.sqlite", "SELECT ended_at FROM calls")
    assert call["ended_at"] is not None  # the call was closed as a hang-up closes it


def test_chat_refuses_an_outbound_function_that_does_not_exist(project: Path) -> None:
    result = chat(project, [], "--outbound", "no_such_survey")
    assert result.returncode == 1 and "Traceback" not in result.stderr and result.stdout == ""
    assert result.stderr.startswith("error: --outbound: no function 'no_such_survey' in intents/")
    assert SURVEY in result.stderr
