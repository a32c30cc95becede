"""The one interface every speech recogniser implements."""
from __future__ import annotations

from typing import Protocol


class RecognizerStream(Protocol):
    """One utterance being recognised. Audio is 16-bit mono PCM at the recogniser's rate."""

    def accept(self, pcm: bytes) -> str | None:
        """Feed audio; returns a new partial transcript when there is one."""

    def finish(self) -> str:
        """No more audio: the final transcript (raw engine output, not yet normalised)."""


class Recognizer(Protocol):
    name: str
    sample_rate: int  # the rate `stream()` expects; callers resample to it

    def stream(self) -> RecognizerStream: ...


def transcribe(recognizer: Recognizer, pcm: bytes) -> str:
    """Recognise a whole utterance at once."""
    stream = recognizer.stream()
    stream.accept(pcm)
    return stream.finish()
