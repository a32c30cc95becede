"""`assistant nlu test`: held-out text, spoken sets and k-fold cross-validation through the assistant.

Text goes through `Understanding.understand`, as a typed line does in a call. A recording goes the
spoken way of a call (assistant/recording.py: VAD, ASR and NLU at its own rate, not the dialog: a
test is not a call, and is not recorded as one). An index row is one request: when the VAD cuts its
recording into several utterances, the report gives the segment count.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assistant.core.errors import AssistantError
from assistant.core.metrics import cer
from assistant.nlu.eval.examples import Example, read_holdout
from assistant.nlu.eval.report_store import REPORTS, save_run
from assistant.nlu.eval.report_view import print_report
from assistant.nlu.eval.scoring import DIGITS, Outcome
from assistant.nlu.eval.spoken_set import SpokenRequest, read_spoken_set
from assistant.nlu.understanding import Understanding


def run_nlu_test(
    connect: Callable[[], Any],
    holdout: Path | None = None,
    voice: Path | None = None,
    folds: int | None = None,
    epochs: int | None = None,
    out: Path | None = None,
) -> None:
    """Run each set given, write its report folder and print its summary. `connect` makes the assistant."""
    if epochs is not None and folds is None:
        raise AssistantError("--epochs sets how the --folds models are trained; give --folds K too")
    if not (holdout or voice or folds):
        raise AssistantError("nothing to test: give --holdout FILE, --voice DIR or --folds K")
    examples = read_holdout(holdout) if holdout else []  # bad files fail here, before any model loads
    requests = read_spoken_set(voice) if voice else []
    root = out or REPORTS
    console, status = Console(), Console(stderr=True)
    assistant = connect()
    if holdout:
        with progress(status) as bar:
            outcomes = understand_all(assistant.understanding, examples, bar, f"holdout {holdout.name}")
        meta = {"source": str(holdout), "models": [assistant.understanding.parser.model.name]}
        _report(console, root, "holdout", holdout.stem, meta, outcomes)
    if voice:
        with progress(status) as bar:
            outcomes = hear_all(assistant, requests, bar)
        meta = {"source": str(voice), "models": [assistant.understanding.parser.model.name], "asr": assistant.recognizer(16000).name}
        _report(console, root, "voice", voice.name, meta, outcomes)
    if folds:
        from assistant.nlu.eval.crossval import cross_validate

        outcomes, meta = cross_validate(assistant, folds, epochs, status)
        name = f"{assistant.config.nlu_dir.name}-k{folds}-e{meta['epochs']}"
        _report(console, root, "kfold", name, meta, outcomes)


def _report(console: Console, root: Path, kind: str, name: str, meta: dict[str, Any], outcomes: list[Outcome]) -> None:
    folder, report = save_run(root, kind, name, meta, outcomes)
    print_report(console, report, folder)


def progress(console: Console) -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console)


def understand_all(understanding: Understanding, examples: Sequence[Example], bar: Progress, what: str) -> list[Outcome]:
    outcomes = []
    for example in bar.track(examples, description=what):
        now = example.now or understanding.now()
        result = understanding.understand(example.text, now=now)
        expected = example.expected_slots(understanding.vocabulary, now)
        outcomes.append(Outcome(example.text, example.intent, result.intent, result.confidence, expected, result.slots))
    return outcomes


def hear_all(assistant: Any, requests: Sequence[SpokenRequest], bar: Progress) -> list[Outcome]:
    return [hear(assistant, request) for request in bar.track(requests, description="recordings")]


def hear(assistant: Any, request: SpokenRequest) -> Outcome:
    heard = assistant.hear_recording(request.path)
    result, transcript = heard.result, heard.transcript
    reference = assistant.normalizer.normalize(request.utterance)
    return Outcome(
        request.utterance, request.intent, result.intent, result.confidence, request.slots, result.slots,
        file=request.file,
        transcript=transcript,
        segments=len(heard.transcripts),
        cer=round(cer(reference, transcript), DIGITS),
    )
