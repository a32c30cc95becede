"""The typed frames that flow through the pipeline.

Audio is always 16-bit little-endian mono PCM; `t` is stream time in seconds (the position of the
audio in the call, not the wall clock), so a WAV file and a live microphone are timed alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.core.turn import Turn


@dataclass(frozen=True)
class Frame:
    pass


@dataclass(frozen=True)
class ControlFrame(Frame):
    """A frame that overtakes data frames still queued for a call (an interruption, the end of the call)."""


INBOUND, OUTBOUND = "inbound", "outbound"


@dataclass(frozen=True)
class CallStarted(Frame):
    """A call begins: the first frame of every call, before any audio. The assistant speaks first.

    `start_function` (outbound calls): the catalog function the call opens with instead of the greeting;
    `slots`: what its dialog starts knowing (assistant/core/dialing.py OutboundCall.slots).
    """

    call_id: str
    caller: str | None = None  # the caller id (a phone number), if known; the number dialled, outbound
    direction: str = INBOUND
    sample_rate: int = 16000
    channel: str = "local"  # where the call came from: local, wav, text, sip, audiosocket, media-stream
    start_function: str | None = None
    slots: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AudioChunk(Frame):
    """Caller audio as it arrives."""

    pcm: bytes
    sample_rate: int
    t: float


@dataclass(frozen=True)
class SpeechStarted(Frame):
    """The caller started speaking at `t`; `preroll` is the audio from a little before `t` up to now."""

    t: float
    preroll: bytes
    sample_rate: int


@dataclass(frozen=True)
class SpeechPaused(Frame):
    """The caller has been silent since `t` (last voiced audio); the utterance may still go on."""

    t: float


@dataclass(frozen=True)
class SpeechStopped(Frame):
    """The caller's utterance ended: last voiced audio at `t`, endpoint decided at `decided_t`."""

    t: float
    decided_t: float


@dataclass(frozen=True)
class PartialTranscript(Frame):
    text: str


@dataclass(frozen=True)
class FinalTranscript(Frame):
    text: str
    raw: str = ""  # the engine's own words, before normalisation


@dataclass(frozen=True)
class Dtmf(Frame):
    """One key pressed on the caller's phone: 0-9, * or #."""

    digit: str


@dataclass(frozen=True)
class IntentResult(Frame):
    text: str
    intent: str
    confidence: float
    slots: dict[str, Any] = field(default_factory=dict)
    function: str | None = None
    # The NLU's intents best first with their confidences (its fallback left out): the best one and
    # its runners-up, which tell the dialog when to ask which of two functions the caller meant.
    ranking: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class DialogTurn(Frame):
    """What the dialog decided for one caller turn (PINs hidden): for views, logs and JSON output."""

    turn: Turn


@dataclass(frozen=True)
class ReplyText(Frame):
    text: str


@dataclass(frozen=True)
class SynthesizedAudio(Frame):
    pcm: bytes
    sample_rate: int
    text: str = ""


@dataclass(frozen=True)
class Interruption(ControlFrame):
    """The caller barged in: drop any reply audio not yet played."""


@dataclass(frozen=True)
class EndOfCall(ControlFrame):
    """The call ended (the caller hung up, the line dropped, or the dialog finished)."""
