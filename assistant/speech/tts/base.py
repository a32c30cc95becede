"""The one interface every speech synthesiser implements."""
from __future__ import annotations

from typing import Protocol


class Synthesizer(Protocol):
    name: str
    sample_rate: int  # of the PCM that `synthesize` returns

    def synthesize(self, text: str) -> bytes:
        """16-bit mono PCM for one sentence of text."""
