"""Text to intent, canonical slots and catalog function: normalise, parse with Rasa, canonicalise."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from assistant.catalog.catalog import FALLBACK, OUT_OF_SCOPE, Catalog
from assistant.core.frames import FinalTranscript, Frame, IntentResult
from assistant.core.pipeline import Processor
from assistant.nlu.normalize import Normalizer
from assistant.nlu.scope import ScopeCheck
from assistant.nlu.slots import canonical_slots
from domain.clock import Clock, real_clock
from domain.vocabulary import Vocabulary


class Parser(Protocol):
    def parse(self, text: str) -> dict[str, Any]: ...


class Understanding:
    def __init__(self, parser: Parser, normalizer: Normalizer, vocabulary: Vocabulary, catalog: Catalog,
                 scope: ScopeCheck | None = None, clock: Clock = real_clock) -> None:
        self.parser = parser
        self.scope = scope
        self.clock = clock  # the bank's (Beijing time, or pinned by config.yml), not the machine's zone
        self.normalizer = normalizer
        self.vocabulary = vocabulary
        self.catalog = catalog

    def understand(self, text: str, normalized: bool = False, now: datetime | None = None) -> IntentResult:
        """`now` is when relative times (一个小时后, 明天上午十点) are counted from; `self.now()` by default."""
        if not normalized:
            text = self.normalizer.normalize(text)
        if not text:
            return IntentResult(text="", intent=FALLBACK, confidence=0.0)
        parsed = self.parser.parse(text)
        intent = parsed["intent"]["name"] or FALLBACK
        slots = canonical_slots(parsed.get("entities") or [], text, self.vocabulary, now or self.now())
        if intent == OUT_OF_SCOPE or (self.scope and self.scope.out_of_scope(text, intent)):
            # out_of_scope is trained so DIET has somewhere to put it; not a function, and nothing we
            # serve, so 明早六点叫醒我 carries no callback time
            intent, slots = FALLBACK, {}
        spec = self.catalog.function_for(intent)
        return IntentResult(
            text=text,
            intent=intent,
            confidence=round(float(parsed["intent"]["confidence"]), 4),
            slots=slots,
            function=spec.id if spec else None,
        )

    def now(self) -> datetime:
        """The clock's time as slot times are written: local (Beijing) and without a zone."""
        return self.clock().replace(tzinfo=None)


class Understander(Processor):
    """FinalTranscript (or typed text) → IntentResult."""

    def __init__(self, understanding: Understanding) -> None:
        self.understanding = understanding

    def process(self, frame: Frame) -> Iterator[Frame]:
        yield frame
        if isinstance(frame, FinalTranscript) and frame.text:
            yield self.understanding.understand(frame.text, normalized=True)
