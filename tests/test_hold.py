"""Hold audio while a caller waits for a person: paced by the caller's audio, with the place and
predicted wait said again, stopping for the caller, an agent, a callback or the end of the call.

Real calls, dialog and queue (tests/conversation.py); speech is a stand-in of fixed length, since these
tests are about pacing, except the one through `VoiceService.pipeline`, which speaks with espeak-ng.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from conversation import CATALOG, CONFIG, Call, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)
from test_queue_escalation import person_by_key_zero, queue

from assistant.core.frames import (
    AudioChunk,
    DialogTurn,
    EndOfCall,
    Frame,
    IntentResult,
    Interruption,
    SpeechStarted,
    SpeechStopped,
    SynthesizedAudio,
)
from assistant.core.pipeline import Pipeline, Processor
from assistant.queue.hold import HoldLine
from assistant.runtime.voice import VoiceService
from assistant.speech.engines import synthesizer_for
from assistant.speech.tts.prompt_cache import PromptCache

RATE = 16000  # the synthesiser's
LINE_RATE = 8000  # the caller's: a phone line
CHUNK_S = 0.02
SENTENCE_S = 2.0  # every stand-in sentence lasts this long
REPLY_S = 4.0
CONNECTING = CATALOG.prompts["agent_connecting"]


def silence(seconds: float, rate: int = RATE) -> bytes:
    return bytes(2 * round(seconds * rate))


class Line:
    """A HoldLine for one call, fed the caller's audio; what it sends is kept with its stream time."""

    def __init__(self, world: World, call: Call) -> None:
        desk = queue(world)
        self.call = call
        self.hold = HoldLine(lambda ticket: desk.entry(ticket).status, call.dialog.queue_notice,
                             lambda sentence: silence(SENTENCE_S), RATE, 30.0, CONNECTING)
        self.t = 0.0
        self.sent: list[tuple[float, SynthesizedAudio]] = []

    def push(self, frame: Frame) -> None:
        for out in self.hold.process(frame):
            if isinstance(out, SynthesizedAudio) and out is not frame:  # its own, not the reply passing
                self.sent.append((self.t, out))

    def reply(self, turn_index: int = -1, seconds: float = REPLY_S) -> None:
        """The dialog's turn and its reply audio, as the Speaker passes them on."""
        turn = self.call.turns[turn_index]
        self.push(DialogTurn(turn))
        self.push(SynthesizedAudio(silence(seconds), RATE, turn.say))

    def listen(self, seconds: float) -> None:
        """`seconds` of the caller's silence, chunk by chunk."""
        for _ in range(round(seconds / CHUNK_S)):
            self.push(AudioChunk(silence(CHUNK_S, LINE_RATE), LINE_RATE, self.t))
            self.t = round(self.t + CHUNK_S, 6)

    def hold_audio(self, since: float = 0.0) -> list[tuple[float, SynthesizedAudio]]:
        return [(t, a) for t, a in self.sent if not a.text and t >= since]

    def said(self, since: float = 0.0) -> list[str]:
        return [a.text for t, a in self.sent if a.text and t >= since]

    def held_s(self, since: float = 0.0) -> float:
        return sum(len(a.pcm) / 2 / a.sample_rate for _, a in self.hold_audio(since))


def waiting_line(world: World) -> Line:
    line = Line(world, person_by_key_zero(world))
    line.reply()
    return line


def test_hold_audio_follows_the_reply_and_fills_the_line_with_the_place_said_every_30_s(world: World) -> None:
    first = person_by_key_zero(world)
    line = waiting_line(world)  # second in the queue; no agents: no predicted wait
    notice = line.call.dialog.queue_notice(line.call.turns[-1].escalation)
    assert notice.startswith("您前面还有1位客户") and notice in line.call.turns[-1].say  # the escalation's words

    line.listen(35.0)
    start, first_hold = line.hold_audio()[0]
    assert start == pytest.approx(REPLY_S, abs=CHUNK_S)  # right after the reply, not over it
    assert first_hold.sample_rate == RATE and max(first_hold.pcm) > 0
    first.dialog.close()  # the caller ahead hangs up: the next announcement knows
    line.listen(35.0)

    announced = [(t, a.text) for t, a in line.sent if a.text]
    assert [text for _, text in announced] == [notice, "现在没有空闲的坐席，等待时间可能较长。"]
    for (t, _), hold_s in zip(announced, (30.0, 60.0)):
        assert line.held_s() - line.held_s(t) == pytest.approx(hold_s, abs=CHUNK_S)  # after 30 s, 60 s of hold
    heard_s = REPLY_S + 2 * SENTENCE_S
    assert line.held_s() == pytest.approx(70.0 - heard_s, abs=CHUNK_S)  # the stream time, less what was said


def test_the_caller_speaking_stops_hold_and_the_next_reply_resumes_it(world: World) -> None:
    line = waiting_line(world)
    line.listen(10.0)
    line.push(Interruption())
    line.push(SpeechStarted(t=line.t, preroll=b"", sample_rate=LINE_RATE))
    spoke_at = line.t
    line.listen(3.0)
    assert line.hold_audio(spoke_at) == []
    line.push(SpeechStopped(t=line.t, decided_t=line.t))
    line.call.say("查余额", "balance_inquiry")  # still waiting: the dialog says so
    line.reply(seconds=2.0)
    replied_at = line.t
    line.listen(5.0)
    assert line.hold_audio(replied_at)[0][0] == pytest.approx(replied_at + 2.0, abs=CHUNK_S)
    assert line.held_s(replied_at) == pytest.approx(3.0, abs=CHUNK_S)


def test_speech_with_no_reply_resumes_hold(world: World) -> None:
    line = waiting_line(world)
    line.listen(5.0)
    line.push(SpeechStarted(t=line.t, preroll=b"", sample_rate=LINE_RATE))
    line.listen(1.0)
    line.push(SpeechStopped(t=line.t, decided_t=line.t))  # a cough: nothing understood, no reply
    stopped_at = line.t
    line.listen(2.0)
    assert line.held_s(stopped_at) == pytest.approx(2.0, abs=CHUNK_S)


def test_booking_a_callback_stops_hold_for_its_question_and_for_good(world: World) -> None:
    line = waiting_line(world)
    line.listen(5.0)
    assert line.call.keys("2").awaiting == "confirmation"  # key 2: a callback instead
    line.reply(seconds=3.0)
    asked_at = line.t
    line.listen(10.0)
    assert line.hold_audio(asked_at) == []  # the caller answers the question in silence
    line.call.keys("1")
    line.reply(seconds=3.0)
    booked_at = line.t
    line.listen(10.0)
    assert queue(world).entry(line.call.turns[0].escalation).status == "callback"
    assert line.hold_audio(booked_at) == [] and line.said(booked_at) == []


def test_an_agent_taking_the_call_is_said_once_then_the_line_is_theirs(world: World) -> None:
    line = waiting_line(world)
    line.listen(10.0)
    desk = queue(world)
    desk.set_agent("王芳", ["general"])
    assert desk.take_next("王芳").ticket == line.call.turns[-1].escalation
    taken_at = line.t
    line.listen(20.0)
    assert line.said(taken_at) == [CONNECTING]
    assert line.held_s(taken_at) <= 1.0 + CHUNK_S  # heard within a second
    assert line.hold_audio(taken_at + 1.0 + CHUNK_S) == []


def test_the_end_of_the_call_stops_hold(world: World) -> None:
    line = waiting_line(world)
    line.listen(10.0)
    line.push(EndOfCall())
    ended_at = line.t
    line.listen(40.0)
    assert line.sent and line.hold_audio(ended_at) == [] and line.said(ended_at) == []


class Collect(Processor):
    def __init__(self) -> None:
        self.audio: list[SynthesizedAudio] = []

    def process(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, SynthesizedAudio):
            self.audio.append(frame)
        return [frame]


def assistant_on(world: World, tmp_path: Path) -> VoiceService:
    """The real assistant over this test's bank and call store, speaking with espeak-ng; understanding
    and hearing are left out (the test hands it what the NLU understood)."""
    assistant = VoiceService(CONFIG)
    assistant.dialogs = world.dialogs()
    assistant.synthesizer = synthesizer_for("espeak-cmn", CONFIG)
    assistant.prompt_cache = PromptCache(assistant.synthesizer, tmp_path)
    assistant.understanding = None  # type: ignore[assignment]  # never asked: no transcripts come
    assistant.hearing = lambda sample_rate: []  # type: ignore[method-assign]
    return assistant


def feed(pipeline: Pipeline, seconds: float) -> None:
    for _ in range(round(seconds / CHUNK_S)):
        pipeline.push(AudioChunk(silence(CHUNK_S, LINE_RATE), LINE_RATE, 0.0))


@pytest.mark.parametrize("listen", [True, False], ids=["audio call", "typed call"])
def test_the_pipeline_holds_audio_calls_only(world: World, tmp_path: Path, listen: bool) -> None:
    assistant = assistant_on(world, tmp_path)
    seen = Collect()
    pipeline = assistant.pipeline(LINE_RATE, [seen], listen=listen)
    pipeline.push(IntentResult(text="转人工", intent="human_agent", confidence=0.95))
    reply_s = sum(len(a.pcm) / 2 / a.sample_rate for a in seen.audio)
    assert seen.audio and all(a.text for a in seen.audio) and reply_s > 2.0  # real speech
    feed(pipeline, reply_s + 5.0)
    hold = [a for a in seen.audio if not a.text]
    assert any(isinstance(stage, HoldLine) for stage in pipeline.processors) == listen
    held_s = sum(len(a.pcm) / 2 / a.sample_rate for a in hold)
    assert held_s == (pytest.approx(5.0, abs=CHUNK_S) if listen else 0.0)
