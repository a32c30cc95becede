"""Speech work shared by every call of a process: one Whisper model and one voice, each behind a
queue served by one thread.

One decode at a time is what two cores can do well: CTranslate2 already spreads one decode over the
cores (`asr.whisper.threads`), and two decodes side by side would each take twice as long. So calls
queue for the model, and the queue's waits are kept: they are what grows with the number of calls.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from assistant.speech.tts.base import Synthesizer

T = TypeVar("T")


class SpeechWorker:
    def __init__(self, name: str, keep: int = 10_000) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._queued = 0
        self.waits: deque[float] = deque(maxlen=keep)  # seconds each job waited before it started

    def submit(self, work: Callable[..., T], *args: object) -> Future[T]:
        """Queue `work(*args)` behind the jobs of every call; its result, later."""
        queued_at = time.monotonic()
        with self._lock:
            self._queued += 1

        def job() -> T:
            with self._lock:
                self._queued -= 1
            self.waits.append(time.monotonic() - queued_at)
            return work(*args)

        return self._pool.submit(job)

    def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in its turn, waiting for it."""
        return self.submit(work, *args).result()

    @property
    def queued(self) -> int:
        """Jobs waiting that have not started."""
        return self._queued


class QueuedSynthesizer:
    """A synthesiser whose every sentence is made in its turn on a shared worker (one voice model per
    process, loaded once, used by one thread at a time)."""

    def __init__(self, synth: Synthesizer, worker: SpeechWorker) -> None:
        self.synth = synth
        self.worker = worker
        self.name = synth.name
        self.voice_id: str = getattr(synth, "voice_id", synth.name)
        self.sample_rate = synth.sample_rate

    def synthesize(self, text: str) -> bytes:
        return self.worker.run(self.synth.synthesize, text)
