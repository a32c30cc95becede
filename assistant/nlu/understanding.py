"""Text to intent, canonical slots and catalog function: normalise, parse with Rasa, canonicalise.

Every call shares one NLU process, so what one caller sends is bounded before it gets there
(config.yml `limits:`): an utterance longer than a real request is not understood (the caller is
asked again, as for anything not understood), and a call's utterances are paced to a few a second.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from assistant.catalog.catalog import FALLBACK, OUT_OF_SCOPE, Catalog
from assistant.core.frames import FinalTranscript, Frame, IntentResult
from assistant.core.pipeline import Processor
from assistant.nlu.normalize import Normalizer
from assistant.nlu.resident import MAX_TEXT_CHARS, NluRefused
from assistant.nlu.scope import ScopeCheck
from assistant.nlu.slots import canonical_slots
from domain.clock import Clock, real_clock
from domain.errors import ConfigError
from domain.vocabulary import Vocabulary

log = logging.getLogger(__name__)

RANKED = 3  # intents of the NLU's ranking an IntentResult carries: the best and two runners-up

@dataclass(frozen=True)
class InputLimits:
    """What one call may send (config.yml `limits:`)."""

    utterance_chars: int = 200  # a real request is under 100 characters
    utterances_per_s: int = 5  # a caller can say barely one a second; typed lines come faster
    keys_per_turn: int = 11  # fewer than two PINs: one line of keys never makes two PIN attempts

    @classmethod
    def from_config(cls, section: dict[str, Any], pin_length: int) -> InputLimits:
        unknown = set(section) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"config.yml limits: unknown setting {', '.join(sorted(unknown))}")
        values = {name: section.get(name, getattr(cls, name)) for name in cls.__dataclass_fields__}
        for name, value in values.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"config.yml limits.{name}: {value!r} is not a whole number of at least 1")
        limits = cls(**values)
        if limits.utterance_chars > MAX_TEXT_CHARS:
            raise ConfigError(f"config.yml limits.utterance_chars: at most {MAX_TEXT_CHARS}, what the NLU process accepts")
        if limits.keys_per_turn >= 2 * pin_length:
            raise ConfigError(f"config.yml limits.keys_per_turn: below {2 * pin_length} (two PINs of dialog.pin_length "
                              f"{pin_length}), so that one line of keys cannot make two PIN attempts")
        return limits


class Parser(Protocol):
    def parse(self, text: str) -> dict[str, Any]: ...


class Understanding:
    def __init__(self, parser: Parser, normalizer: Normalizer, vocabulary: Vocabulary, catalog: Catalog,
                 scope: ScopeCheck | None = None, clock: Clock = real_clock,
                 limits: InputLimits = InputLimits()) -> None:
        self.parser = parser
        self.limits = limits
        self.scope = scope
        self.clock = clock  # the bank's (Beijing time, or pinned by config.yml), not the machine's zone
        self.normalizer = normalizer
        self.vocabulary = vocabulary
        self.catalog = catalog

    def understand(self, text: str, normalized: bool = False, now: datetime | None = None) -> IntentResult:
        """`now` is when relative times (一个小时后, 明天上午十点) are counted from; `self.now()` by default."""
        if self.too_long(text):
            return self.not_understood(text)
        if not normalized:
            text = self.normalizer.normalize(text)
        if not text:
            return IntentResult(text="", intent=FALLBACK, confidence=0.0)
        try:
            parsed = self.parser.parse(text)
        except NluRefused as error:  # the call goes on: this utterance was not understood
            log.warning("%s", error)
            return IntentResult(text=text, intent=FALLBACK, confidence=0.0)
        intent = parsed["intent"]["name"] or FALLBACK
        slots = canonical_slots(parsed.get("entities") or [], text, self.vocabulary, now or self.now())
        if intent == OUT_OF_SCOPE or (self.scope and self.scope.out_of_scope(text, intent)):
            # out_of_scope is trained so DIET has somewhere to put it; not a function, and nothing we
            # serve, so 明早六点叫醒我 carries no callback time
            intent, slots, ranking = FALLBACK, {}, ()
        else:
            ranking = tuple((r["name"], round(float(r["confidence"]), 4)) for r in parsed.get("intent_ranking") or []
                            if r.get("name") not in (FALLBACK, None))[:RANKED]
        spec = self.catalog.function_for(intent)
        return IntentResult(
            text=text,
            intent=intent,
            confidence=round(float(parsed["intent"]["confidence"]), 4),
            slots=slots,
            function=spec.id if spec else None,
            ranking=ranking,
        )

    def too_long(self, text: str) -> bool:
        return len(text) > self.limits.utterance_chars

    def not_understood(self, text: str) -> IntentResult:
        """An utterance too long to be a request: the NLU never sees it, and only its start is kept."""
        log.warning("an utterance of %d characters is not understood (limits.utterance_chars: %d)",
                    len(text), self.limits.utterance_chars)
        return IntentResult(text=text[:self.limits.utterance_chars] + "…", intent=FALLBACK, confidence=0.0)

    def now(self) -> datetime:
        """The clock's time as slot times are written: local (Beijing) and without a zone."""
        return self.clock().replace(tzinfo=None)


class Pace:
    """At most `per_s` events in any second: one more waits until the oldest is a second old."""

    def __init__(self, per_s: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_s = per_s
        self.clock, self.sleep = clock, sleep
        self.times: deque[float] = deque(maxlen=per_s)

    def wait(self) -> float:
        """Blocks until the next event may happen; returns how long it waited."""
        waited = 0.0
        if len(self.times) == self.per_s:
            waited = max(0.0, self.times[0] + 1.0 - self.clock())
            if waited:
                self.sleep(waited)
        self.times.append(self.clock())
        return waited


class UnderstandingStage(Processor):
    """FinalTranscript (or typed text) → IntentResult; one per call, paced to limits.utterances_per_s."""

    def __init__(self, understanding: Understanding) -> None:
        self.understanding = understanding
        self.pace: Pace | None = None  # made at the first utterance: a call may never say one
        self._paced = False

    def process(self, frame: Frame) -> Iterator[Frame]:
        yield frame
        if isinstance(frame, FinalTranscript) and frame.text:
            if self.understanding.too_long(frame.raw or frame.text):
                yield self.understanding.not_understood(frame.raw or frame.text)
                return
            if self.pace is None:
                self.pace = Pace(self.understanding.limits.utterances_per_s)
            if self.pace.wait() and not self._paced:  # said once a call: a flood would fill the log
                log.warning("a call sends more than %d utterances a second: they are held back",
                            self.pace.per_s)
                self._paced = True
            yield self.understanding.understand(frame.text, normalized=True)
