"""Hold audio while a caller waits in the queue for a person.

The line's clock is the caller's audio: each AudioChunk first pays off the reply audio already sent
(the caller is still hearing it), then as much hold audio goes out as the chunk lasts. So hold audio is
paced in real time by the inbound stream, with no threads or timers. Every `announce_s` of hold the
caller hears their place and predicted wait again. Hold stops while the caller speaks and resumes after
the reply if the ticket still waits; an agent taking the call is said once, then the line is theirs.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

import numpy as np

from assistant.core.audio import Audio
from assistant.core.frames import (
    AudioChunk,
    DialogTurn,
    EndOfCall,
    Frame,
    Interruption,
    SpeechStarted,
    SpeechStopped,
    SynthesizedAudio,
)
from assistant.core.pipeline import Processor
from assistant.core.turn import Turn
from assistant.storage.tickets import TAKEN, WAITING

# How often (in seconds of hold) the ticket's status is looked up: an agent taking the call is heard
# within a second, without a database query for every chunk.
CHECK_S = 1.0

_NOTES_HZ = (659.25, 523.25)  # E5 then C5: a soft falling chime
_NOTE_S = 0.8
_PERIOD_S = 4.0  # one chime, then silence, again and again
_LEVEL = 0.06  # about -24 dBFS: under speech, never in the way
_FADE_S = 0.01  # fades in and out, so a note starts and ends without a click


@lru_cache(maxsize=None)
def hold_pattern(sample_rate: int) -> np.ndarray:
    """One period of hold audio as 16-bit samples, computed once per rate."""
    t = np.arange(int(_NOTE_S * sample_rate)) / sample_rate
    fades = np.minimum(np.minimum(t, _NOTE_S - t) / _FADE_S, 1.0)
    envelope = fades * np.exp(-4.0 * t)  # a bell-like decay in between
    notes = [np.sin(2 * np.pi * hz * t) * envelope for hz in _NOTES_HZ]
    period = np.zeros(int(_PERIOD_S * sample_rate))
    chime = np.concatenate(notes)
    period[: len(chime)] = chime
    return (period * _LEVEL * 32767).astype(np.int16)


class HoldLine(Processor):
    def __init__(self, status: Callable[[int], str], notice: Callable[[int], str], speak: Callable[[str], bytes],
                 sample_rate: int, announce_s: float, connecting: str) -> None:
        self.status = status  # a ticket's queue status: waiting, taken, callback, abandoned, ...
        self.notice = notice  # the caller's place and predicted wait, as the dialog words them
        self.speak = speak  # a sentence as audio at `sample_rate`
        self.rate = sample_rate
        self.announce_s = announce_s
        self.connecting = connecting  # said once when an agent takes the call
        self.pattern = hold_pattern(sample_rate)
        self.ticket: int | None = None  # the ticket the call waits on
        self.holding = False
        self.owed = 0.0  # seconds of audio sent that the caller has not heard yet
        self.held = 0.0  # seconds of hold audio sent for this ticket
        self.sent = 0  # the same in samples: where in the pattern it goes on
        self.next_check = self.next_announce = 0.0

    def process(self, frame: Frame) -> Iterator[Frame]:
        yield frame
        if isinstance(frame, SynthesizedAudio):
            self.owed += _seconds(frame.pcm, frame.sample_rate)
        elif isinstance(frame, Interruption):
            self.owed = 0.0  # the output dropped what it had not played
        elif isinstance(frame, SpeechStarted):
            self.holding = False
        elif isinstance(frame, SpeechStopped):
            yield from self._resume()  # also when no reply follows (a cough)
        elif isinstance(frame, DialogTurn):
            yield from self._turn(frame.turn)
        elif isinstance(frame, AudioChunk):
            yield from self._fill(_seconds(frame.pcm, frame.sample_rate))
        elif isinstance(frame, EndOfCall):
            self.ticket, self.holding = None, False

    def _turn(self, turn: Turn) -> Iterator[Frame]:
        if turn.escalation is not None:
            self.ticket = turn.escalation
            self.held, self.sent = 0.0, 0
            self.next_check, self.next_announce = CHECK_S, self.announce_s
        if turn.awaiting is None:
            yield from self._resume()
        else:
            self.holding = False  # a question (booking a callback) is answered in silence

    def _resume(self) -> Iterator[Frame]:
        self.holding = self.ticket is not None
        if self.holding:
            yield from self._check()

    def _fill(self, line_s: float) -> Iterator[Frame]:
        """`line_s` seconds of line time: reply audio still playing first, then hold audio."""
        paid = min(self.owed, line_s)
        self.owed -= paid
        if not self.holding or paid == line_s:
            return
        hold = self._hold(line_s - paid)
        if hold.pcm:  # not a sliver of a sample
            yield hold
        if self.held >= min(self.next_check, self.next_announce):
            self.next_check = self.held + CHECK_S
            yield from self._check()
        if self.holding and self.held >= self.next_announce:
            self.next_announce += self.announce_s
            yield self._say(self.notice(self.ticket))

    def _hold(self, seconds: float) -> SynthesizedAudio:
        """The next `seconds` of hold audio; counted in samples of the whole hold, so chunks never drift."""
        self.held += seconds
        end = round(self.held * self.rate)
        samples = self.pattern[np.arange(self.sent, end) % len(self.pattern)]
        self.sent = end
        return SynthesizedAudio(samples.tobytes(), self.rate)

    def _check(self) -> Iterator[Frame]:
        """Hold stops once the ticket no longer waits: taken (said once), a callback booked, abandoned."""
        status = self.status(self.ticket)
        if status == WAITING:
            return
        self.ticket, self.holding = None, False
        if status == TAKEN:
            yield self._say(self.connecting)

    def _say(self, sentence: str) -> SynthesizedAudio:
        pcm = self.speak(sentence)
        self.owed += _seconds(pcm, self.rate)
        return SynthesizedAudio(pcm, self.rate, sentence)


def _seconds(pcm: bytes, sample_rate: int) -> float:
    return Audio(pcm, sample_rate).seconds
