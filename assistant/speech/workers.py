"""Speech work shared by every call of a process: one Whisper model and one voice, each behind a
queue served by one thread.

One decode at a time is what two cores can do well: CTranslate2 already spreads one decode over the
cores (`asr.whisper.threads`), and two decodes side by side would each take twice as long. So calls
queue for the model, and the queue's waits are kept: they are what grows with the number of calls.

Jobs that can be batched (`submit_batched`) are taken together when several are waiting: one call of
the batch function for up to `batch` of them, in the order they came. CTranslate2 decodes a batch of
utterances in one pass; whether that pays depends on the machine (bench/asr measures it), so the
batch size is a setting (`asr.whisper.batch`).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from assistant.speech.tts.base import Synthesizer

T = TypeVar("T")
A = TypeVar("A")


@dataclass
class _Job:
    future: Future[Any]
    queued_at: float
    work: Callable[..., Any]
    args: tuple[Any, ...] = ()
    batched: bool = False  # work takes a list of args[0] of several jobs and returns their results


class SpeechWorker:
    def __init__(self, name: str, batch: int = 1, keep: int = 10_000) -> None:
        if batch < 1:
            raise ValueError(f"a batch holds at least one job, not {batch}")
        self.name = name
        self.batch = batch
        self._jobs: deque[_Job] = deque()
        self._ready = threading.Condition()
        self.waits: deque[float] = deque(maxlen=keep)  # seconds each job waited before it started
        self.batch_sizes: deque[int] = deque(maxlen=keep)  # jobs per run of the model
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def submit(self, work: Callable[..., T], *args: object) -> Future[T]:
        """Queue `work(*args)` behind the jobs of every call; its result, later."""
        return self._queue(_Job(Future(), time.monotonic(), work, args))

    def submit_batched(self, work: Callable[[Sequence[A]], Sequence[T]], item: A) -> Future[T]:
        """Queue `item` for `work`, which may take it together with other waiting items of the same
        `work`: `work([item, ...])` returns their results in the same order."""
        return self._queue(_Job(Future(), time.monotonic(), work, (item,), batched=True))

    def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in its turn, waiting for it."""
        return self.submit(work, *args).result()

    @property
    def queued(self) -> int:
        """Jobs waiting that have not started."""
        return len(self._jobs)

    def _queue(self, job: _Job) -> Future[Any]:
        with self._ready:
            self._jobs.append(job)
            self._ready.notify()
        return job.future

    def _next(self) -> list[_Job]:
        """The oldest job, with the waiting jobs of the same batch function behind it."""
        with self._ready:
            while not self._jobs:
                self._ready.wait()
            first = self._jobs.popleft()
            taken = [first]
            if first.batched:
                for job in list(self._jobs):
                    if len(taken) == self.batch:
                        break
                    if job.batched and job.work == first.work:
                        self._jobs.remove(job)
                        taken.append(job)
        # a cancelled job (a stale speculative decode) costs no model time
        return [job for job in taken if job.future.set_running_or_notify_cancel()]

    def _serve(self) -> None:
        while True:
            jobs = self._next()
            if not jobs:
                continue
            now = time.monotonic()
            self.waits.extend(now - job.queued_at for job in jobs)
            self.batch_sizes.append(len(jobs))
            try:
                if jobs[0].batched:
                    results = list(jobs[0].work([job.args[0] for job in jobs]))
                else:
                    results = [jobs[0].work(*jobs[0].args)]
                if len(results) != len(jobs):
                    raise RuntimeError(f"{self.name}: {len(results)} results for a batch of {len(jobs)}")
            except BaseException as error:  # handed to every caller waiting, as an executor does
                for job in jobs:
                    job.future.set_exception(error)
                continue
            for job, result in zip(jobs, results):
                job.future.set_result(result)


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
