"""A live call's lifecycle (assistant/core/session.py): the assistant speaks first, the caller barges
in, control frames overtake data, a slow call holds up no other, a hang-up leaves nothing behind, and
a turn that ends the call hangs up once its reply has been played out."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from assistant.core.audio import Audio, chunks, read_wav
from assistant.core.frames import (
    AudioChunk,
    CallStarted,
    DialogTurn,
    Dtmf,
    EndOfCall,
    FinalTranscript,
    Frame,
    Interruption,
    ReplyText,
    SpeechStarted,
    SynthesizedAudio,
)
from assistant.core.pipeline import Processor
from assistant.core.session import FRAME_S, HANG_UP_TAIL_S, CallSession
from assistant.core.turn import Turn
from assistant.speech.speaker import Speaker
from assistant.speech.workers import SpeechWorker
from assistant.storage.calls import database_location
from assistant.storage.database import open_database

CALLER = "13800138000"
ASSISTANT = Path(sys.executable).with_name("assistant")
SHARED_POOLS = ("call", "asr", "tts")  # thread name prefixes of the shared executors (runtime/voice.py)


class Sink:
    """The far end of the call: when each 20 ms frame arrived, and when it was told to clear."""

    def __init__(self) -> None:
        self.sent: list[float] = []
        self.cleared: list[float] = []

    async def send(self, pcm: bytes) -> None:
        self.sent.append(time.monotonic())

    async def clear(self) -> None:
        self.cleared.append(time.monotonic())


class Seen:
    """Every frame leaving a call's processors, with the wall time it reached the event loop."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, Frame]] = []

    def __call__(self, frame: Frame) -> None:
        self.frames.append((time.monotonic(), frame))

    def first(self, kind: type) -> tuple[float, Any]:
        return next((t, f) for t, f in self.frames if isinstance(f, kind))


class Slow(Processor):
    """A stage that takes `seconds` over each frame of one kind and notes the order frames came in."""

    def __init__(self, kind: type, seconds: float) -> None:
        self.kind, self.seconds, self.order = kind, seconds, []

    def process(self, frame: Frame) -> Iterator[Frame]:
        self.order.append(type(frame).__name__)
        if isinstance(frame, self.kind):
            time.sleep(self.seconds)
        yield frame


async def until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def feed(session: CallSession, audio: Audio, pushed: list[tuple[float, float]] | None = None) -> None:
    """The caller's audio in real time, 20 ms at a time; `pushed` gets (stream end, wall time) of each chunk."""
    start = time.monotonic()
    for t, pcm in chunks(audio, 20):
        await asyncio.sleep(max(0.0, start + t - time.monotonic()))
        session.push(AudioChunk(pcm, audio.sample_rate, t))
        if pushed is not None:
            pushed.append((t + 0.02, time.monotonic()))


def test_control_frames_overtake_queued_audio(tmp_path: Path) -> None:
    async def call() -> list[str]:
        slow = Slow(AudioChunk, 0.05)
        session = CallSession(CallStarted("c1"), [slow], None, executor)
        running = asyncio.create_task(session.run())
        for i in range(20):
            session.push(AudioChunk(bytes(640), 16000, i * 0.02))
        session.push(EndOfCall())
        await asyncio.wait_for(running, 5)
        return slow.order

    with ThreadPoolExecutor(2) as executor:
        order = asyncio.run(call())
    assert order[0] == "CallStarted" and order[-1] == "EndOfCall"
    assert order.count("AudioChunk") < 20  # the hang-up did not wait behind the queued audio


def test_a_slow_call_holds_up_no_other() -> None:
    async def calls() -> tuple[float, float]:
        stuck = CallSession(CallStarted("stuck"), [Slow(FinalTranscript, 2.0)], None, executor)
        quick_stage = Slow(FinalTranscript, 0.0)
        quick = CallSession(CallStarted("quick"), [quick_stage], None, executor)
        tasks = [asyncio.create_task(s.run()) for s in (stuck, quick)]
        start = time.monotonic()
        stuck.push(FinalTranscript("查余额"))
        await asyncio.sleep(0.05)
        quick.push(FinalTranscript("查余额"))
        await until(lambda: "FinalTranscript" in quick_stage.order, 1.5)
        quick_done = time.monotonic() - start
        for session in (stuck, quick):
            session.push(EndOfCall())
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        return quick_done, time.monotonic() - start

    with ThreadPoolExecutor(4) as executor:
        quick_done, all_done = asyncio.run(calls())
    assert quick_done < 0.5 <= 2.0 <= all_done


def test_the_output_end_paces_audio_and_keeps_at_most_100_ms_queued() -> None:
    second = SynthesizedAudio(bytes(16000 * 2), 16000, "一秒")

    class Say(Processor):
        def process(self, frame: Frame) -> Iterator[Frame]:
            yield frame
            if isinstance(frame, CallStarted):
                yield second

    async def call() -> Sink:
        sink = Sink()
        session = CallSession(CallStarted("c", sample_rate=8000), [Say()], sink, executor)
        running = asyncio.create_task(session.run())
        await until(lambda: len(sink.sent) == 50, 3)
        session.push(EndOfCall())
        await asyncio.wait_for(running, 5)
        return sink

    with ThreadPoolExecutor(2) as executor:
        sink = asyncio.run(call())
    started = sink.sent[0]
    for i, sent in enumerate(sink.sent):  # frame i is sent no earlier than 100 ms before it plays
        assert sent >= started + i * FRAME_S - 0.1 - 0.01
    assert sink.sent[-1] - started == pytest.approx(49 * FRAME_S - 0.1, abs=0.1)  # real time, not at once


class Closing(Processor):
    """Says `say_s` of audio when the call starts, in a turn that ends the call if `hangs_up`; caller
    audio barges in (a stand-in VAD). Notes every frame it gets."""

    def __init__(self, hangs_up: bool, say_s: float = 0.5) -> None:
        self.hangs_up, self.say_s = hangs_up, say_s
        self.seen: list[Frame] = []

    def process(self, frame: Frame) -> Iterator[Frame]:
        self.seen.append(frame)
        if isinstance(frame, AudioChunk):
            yield Interruption()
        yield frame
        if isinstance(frame, CallStarted):
            yield DialogTurn(Turn(heard="", say="再见。", intent=None, function="survey", awaiting=None, slots={},
                                  transaction=None, escalation=None, hangs_up=self.hangs_up))
            yield SynthesizedAudio(bytes(int(8000 * self.say_s) * 2), 8000, "再见。")


def closing_call(stage: Closing, sink: Sink | None, barge_in: bool = False,
                 far_end_hangs_up_s: float | None = None) -> tuple[CallSession, float | None]:
    """A call whose only stage is `stage`, run until it ends by itself or for 3 s: the session, and
    when it ended (None: it had not, and was then hung up). `barge_in`: the caller speaks and presses
    a key while the last sentence plays; `far_end_hangs_up_s`: the far end hangs up that long after
    the start."""
    async def call(executor: ThreadPoolExecutor) -> tuple[CallSession, float | None]:
        session = CallSession(CallStarted("closing", sample_rate=8000), [stage], sink, executor)
        running = asyncio.create_task(session.run())
        if barge_in:
            await until(lambda: sink is not None and len(sink.sent) >= 5, 2)
            session.push(AudioChunk(bytes(320), 8000, 0.0))
            session.push(Dtmf("1"))
        if far_end_hangs_up_s is not None:
            await asyncio.sleep(far_end_hangs_up_s)
            session.push(EndOfCall())
        await asyncio.wait({running}, timeout=3)
        ended_at = time.monotonic() if running.done() else None
        session.push(EndOfCall())
        await asyncio.wait_for(running, 5)
        return session, ended_at

    with ThreadPoolExecutor(2) as executor:
        return asyncio.run(call(executor))


def test_a_turn_that_ends_the_call_hangs_up_once_its_reply_has_played() -> None:
    stage, sink = Closing(hangs_up=True), Sink()
    session, ended_at = closing_call(stage, sink, barge_in=True)
    assert ended_at is not None and session.hung_up
    assert len(sink.sent) == 25  # all of the half second was sent
    played_at = sink.sent[0] + 25 * FRAME_S  # when the far end has played the last frame
    assert played_at + HANG_UP_TAIL_S <= ended_at < played_at + HANG_UP_TAIL_S + 0.3
    # the caller's audio and key during the last sentence were not heard: nothing cut it short
    assert [type(f) for f in stage.seen] == [CallStarted, EndOfCall] and not sink.cleared


def test_without_the_flag_the_line_stays_open_after_the_reply() -> None:
    stage, sink = Closing(hangs_up=False), Sink()
    session, ended_at = closing_call(stage, sink)
    assert len(sink.sent) == 25 and ended_at is None  # 3 s, six times the reply, and still up
    assert not session.hung_up and type(stage.seen[-1]) is EndOfCall  # the far end hung up then


def test_the_far_end_hanging_up_during_the_last_sentence_ends_the_call_at_once() -> None:
    stage, sink = Closing(hangs_up=True, say_s=2.0), Sink()
    session, ended_at = closing_call(stage, sink, far_end_hangs_up_s=0.3)
    assert ended_at is not None and not session.hung_up  # the far end's hang-up, not the assistant's
    assert ended_at - sink.sent[0] < 1.0 and len(sink.sent) < 100
    assert [type(f) for f in stage.seen] == [CallStarted, EndOfCall]


class SlowVoice:
    """A synthesiser taking `seconds` over each sentence (silence): what a loaded voice model costs."""

    name, sample_rate = "slow", 16000

    def __init__(self, seconds: float) -> None:
        self.seconds, self.said = seconds, []

    def synthesize(self, text: str) -> bytes:
        self.said.append(text)
        time.sleep(self.seconds)
        return bytes(640)


class Replies(Processor):
    """Answers a key press with a reply of five sentences."""

    def process(self, frame: Frame) -> Iterator[Frame]:
        yield frame
        if isinstance(frame, Dtmf):
            yield ReplyText("第一句。第二句。第三句。第四句。第五句。")


def test_a_hang_up_stops_the_reply_being_synthesised_at_its_next_sentence() -> None:
    voice = SlowVoice(0.3)

    async def call() -> float:
        session = CallSession(CallStarted("c1"), [Replies(), Speaker(voice)], None, executor)
        running = asyncio.create_task(session.run())
        session.push(Dtmf("1"))
        await until(lambda: voice.said, 5)
        session.push(EndOfCall())  # during the first sentence
        hung_up = time.monotonic()
        await asyncio.wait_for(running, 5)
        return time.monotonic() - hung_up

    with ThreadPoolExecutor(2) as executor:
        ended_after = asyncio.run(call())
    assert voice.said == ["第一句。"] and ended_after < 0.6  # not the 1.2 s the other four would take


def test_with_no_one_listening_a_closing_turn_hangs_up_at_once() -> None:
    stage = Closing(hangs_up=True, say_s=2.0)
    start = time.monotonic()
    session, ended_at = closing_call(stage, None)
    assert ended_at is not None and session.hung_up and ended_at - start < 1.0


def test_the_shared_worker_takes_one_job_at_a_time_and_keeps_the_waits() -> None:
    worker = SpeechWorker("test")
    futures = [worker.submit(time.sleep, 0.05) for _ in range(4)]
    for future in futures:
        future.result()
    waits = sorted(worker.waits)
    assert waits[0] < 0.02 and waits[-1] == pytest.approx(0.15, abs=0.05) and worker.queued == 0


@pytest.mark.slow
def test_a_call_that_starts_says_the_greeting_before_the_caller_speaks(assistant: Any) -> None:
    async def call() -> tuple[Seen, Sink]:
        seen, sink = Seen(), Sink()
        session = assistant.open_call(CallStarted("g1", CALLER, sample_rate=8000, channel="test"), sink, seen)
        running = asyncio.create_task(session.run())
        await until(lambda: len(sink.sent) >= 25, 90)  # half a second of it has gone out
        session.push(EndOfCall())
        await asyncio.wait_for(running, 10)
        return seen, sink

    seen, sink = asyncio.run(call())
    _, turn = seen.first(DialogTurn)
    assert turn.turn.say == assistant.catalog.prompts["greeting"] and turn.turn.heard == ""
    assert not [f for _, f in seen.frames if isinstance(f, (SpeechStarted, FinalTranscript))]


@pytest.mark.slow
def test_speaking_during_the_greeting_interrupts_it_within_100_ms(assistant: Any, banking_dev: list) -> None:
    request = next(r for r in banking_dev if r.channel == "phone")
    audio = read_wav(request.path)

    async def call() -> tuple[Seen, Sink, list[tuple[float, float]]]:
        seen, sink, pushed = Seen(), Sink(), []
        session = assistant.open_call(CallStarted("b1", CALLER, sample_rate=audio.sample_rate), sink, seen)
        running = asyncio.create_task(session.run())
        await until(lambda: len(sink.sent) >= 10, 90)  # the greeting is playing
        await feed(session, audio, pushed)
        session.push(EndOfCall())
        await asyncio.wait_for(running, 30)
        return seen, sink, pushed

    seen, sink, pushed = asyncio.run(call())
    heard_at, started = seen.first(SpeechStarted)
    interrupted_at, _ = seen.first(Interruption)
    # the chunk the VAD decided on leaves the processors in the same push as SpeechStarted, right before it
    at = next(i for i, (_, f) in enumerate(seen.frames) if f is started)
    chunk = next(f for _, f in reversed(seen.frames[:at]) if isinstance(f, AudioChunk))
    decided = dict(pushed)[chunk.t + 0.02]  # when the transport pushed it
    assert interrupted_at - decided <= 0.1
    assert sink.cleared and sink.cleared[0] - decided <= 0.1
    greeting_frames = [t for t in sink.sent if t < heard_at + 1.0]
    assert all(t <= interrupted_at + 0.01 for t in greeting_frames)  # nothing of the greeting after it


@pytest.mark.slow
def test_hanging_up_mid_turn_leaves_no_task_thread_or_open_ticket(assistant: Any, banking_dev: list) -> None:
    audio = read_wav(next(r for r in banking_dev if r.channel == "phone").path)

    async def call(call_id: str) -> int:
        seen = Seen()
        session = assistant.open_call(CallStarted(call_id, CALLER, sample_rate=audio.sample_rate), None, seen)
        running = asyncio.create_task(session.run())
        session.push(FinalTranscript("人工服务", raw="人工服务"))  # waits for a person
        await until(lambda: any(isinstance(f, DialogTurn) and f.turn.escalation for _, f in seen.frames), 10)
        speaking = asyncio.create_task(feed(session, Audio(audio.pcm[: len(audio.pcm) // 2], audio.sample_rate)))
        await asyncio.sleep(0.8)  # hung up while still speaking
        speaking.cancel()
        session.push(EndOfCall())
        await asyncio.wait_for(running, 30)
        assert asyncio.all_tasks() == {asyncio.current_task()}
        return next(f.turn.escalation for _, f in seen.frames if isinstance(f, DialogTurn) and f.turn.escalation)

    asyncio.run(call("warm-up"))
    before = set(threading.enumerate())
    ticket = asyncio.run(call("hung-up"))
    # only the process's shared pools (call threads, the ASR and TTS workers) may have grown
    left = [thread.name for thread in set(threading.enumerate()) - before]
    assert all(name.startswith(SHARED_POOLS) for name in left), left
    database = open_database(database_location(assistant.config))
    try:
        assert database.value("SELECT status FROM handoffs WHERE id = ?", (ticket,)) == "abandoned"
    finally:
        database.close()


def test_chat_prints_the_greeting_before_it_reads_the_first_line() -> None:
    process = subprocess.Popen([str(ASSISTANT), "chat", "--text", "--json", "--caller", CALLER],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = json.loads(process.stdout.readline())  # nothing written to its stdin yet
        assert first["say"].startswith("您好") and first["heard"] == "" and first["intent"] is None
    finally:
        process.communicate("\n", timeout=60)
