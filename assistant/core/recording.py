"""What a live call shows whoever records it: the caller's audio as it arrives, each reply frame as it
goes out, and each turn (so that a recording can fall silent while a PIN is asked for).

The session (session.py) calls a `CallTap` on its event loop, except `close`, which it calls once, in
a call thread, when the call is over. Times are on the call's clock: seconds since the session was
opened. The caller's audio comes with its stream time (`AudioChunk.t`, the transport's own clock) and
when it arrived; a reply frame with when it starts playing at the far end. The storage side implements it (assistant/storage/recordings.py); core knows only this.
"""
from __future__ import annotations

from typing import Protocol

from assistant.core.frames import AudioChunk
from assistant.core.turn import Turn

AWAITING_PIN = "pin"  # Turn.awaiting while the dialog waits for a PIN: nothing of it may be recorded


class CallTap(Protocol):
    def heard(self, chunk: AudioChunk, at: float) -> None:
        """Caller audio as the transport received it, pushed at `at`."""

    def said(self, pcm: bytes, t: float) -> None:
        """One 20 ms reply frame (16-bit mono at the call's rate) that starts playing at `t`."""

    def turn(self, turn: Turn) -> None:
        """A turn has left the processors (what the call awaits from now on)."""

    def close(self) -> None:
        """The call is over: whatever is kept is complete (blocking)."""
