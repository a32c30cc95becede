"""The shared speech worker: one job at a time, batches of waiting jobs, cancelled jobs skipped."""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from assistant.speech.workers import SpeechWorker


class _Model:
    """Records how it was called; blocks its first call until released, so jobs pile up behind it."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = threading.Event()

    def decode_batch(self, items: Sequence[str]) -> list[str]:
        if not self.calls:
            self.release.wait(5)
        self.calls.append(list(items))
        return [item.upper() for item in items]


def _started(worker: SpeechWorker) -> None:
    """Until the worker has taken the job queued last (at most 5 s)."""
    deadline = time.monotonic() + 5
    while worker.queued and time.monotonic() < deadline:
        time.sleep(0.001)
    assert not worker.queued


def _pile_up(worker: SpeechWorker, model: _Model, items: list[str]) -> list:
    """The first item runs alone (and blocks); the rest wait behind it."""
    first = worker.submit_batched(model.decode_batch, items[0])
    _started(worker)
    rest = [worker.submit_batched(model.decode_batch, item) for item in items[1:]]
    return [first, *rest]


def test_waiting_jobs_are_decoded_together_up_to_the_batch_size_in_order() -> None:
    worker, model = SpeechWorker("asr", batch=3), _Model()
    futures = _pile_up(worker, model, ["a", "b", "c", "d", "e", "f"])
    model.release.set()
    assert [f.result(5) for f in futures] == ["A", "B", "C", "D", "E", "F"]
    assert model.calls == [["a"], ["b", "c", "d"], ["e", "f"]]
    assert list(worker.batch_sizes) == [1, 3, 2] and len(worker.waits) == 6


def test_batch_size_one_decodes_each_alone() -> None:
    worker, model = SpeechWorker("asr"), _Model()
    futures = _pile_up(worker, model, ["a", "b", "c"])
    model.release.set()
    assert [f.result(5) for f in futures] == ["A", "B", "C"]
    assert model.calls == [["a"], ["b"], ["c"]]


def test_a_cancelled_job_costs_no_model_time() -> None:
    worker, model = SpeechWorker("asr", batch=4), _Model()
    futures = _pile_up(worker, model, ["a", "stale", "c"])
    assert futures[1].cancel()
    model.release.set()
    assert futures[2].result(5) == "C"
    assert model.calls == [["a"], ["c"]]


def test_other_work_is_not_mixed_into_a_batch() -> None:
    worker, model, other = SpeechWorker("asr", batch=4), _Model(), _Model()
    other.release.set()
    first = worker.submit_batched(model.decode_batch, "a")
    _started(worker)
    behind = [worker.submit_batched(other.decode_batch, "x"), worker.submit_batched(model.decode_batch, "b"),
              worker.submit(str.lower, "Q")]
    model.release.set()
    assert [f.result(5) for f in [first, *behind]] == ["A", "X", "B", "q"]
    assert model.calls == [["a"], ["b"]] and other.calls == [["x"]]


def test_a_failing_batch_fails_each_of_its_jobs_and_the_worker_goes_on() -> None:
    worker = SpeechWorker("asr", batch=2)

    def broken(items: Sequence[str]) -> list[str]:
        raise RuntimeError("model gone")

    with pytest.raises(RuntimeError, match="model gone"):
        worker.submit_batched(broken, "a").result(5)
    with pytest.raises(RuntimeError, match="2 results for a batch of 1"):
        worker.submit_batched(lambda items: ["one", "too many"], "a").result(5)
    assert worker.run(str.upper, "still here") == "STILL HERE"


def test_a_batch_holds_at_least_one_job() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SpeechWorker("asr", batch=0)
