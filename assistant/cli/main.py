"""The `assistant` command."""
from __future__ import annotations

import assistant.core.quiet  # noqa: F401 - first: telemetry off and libraries' warnings silenced before anything loads

import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console

from assistant.cli.campaign import campaign_app
from assistant.cli.desk import desk_app, serve
from assistant.cli.queue import queue_app
from assistant.cli.telephony import telephony
from assistant.cli.voice import say, voice_app
from assistant.core.errors import AssistantError
from domain.config import load_config
from domain.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Mandarin voice assistant for financial call centers.")
nlu_app = typer.Typer(no_args_is_help=True, help="Train and check the NLU model (nlu_data/).")
app.add_typer(nlu_app, name="nlu")
app.add_typer(queue_app, name="queue")
app.add_typer(desk_app, name="desk")
app.add_typer(voice_app, name="voice")
app.add_typer(campaign_app, name="campaign")
err = Console(stderr=True)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except UserError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _assistant(waiting: str = "Starting the NLU process (first start only, ~30 s)") -> Any:
    from assistant.runtime.voice import VoiceService

    status = err.status(waiting)
    started = False

    def on_wait() -> None:
        nonlocal started
        if not started:
            status.start()
            started = True

    assistant = VoiceService(load_config(), on_wait=on_wait)
    _ = assistant.understanding  # connect (or start) now, with the spinner
    if started:
        status.stop()
    return assistant


def _print_json(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


@app.command()
def route(
    texts: List[str] = typer.Argument(None, help="utterances to route (or WAV files after --wav)"),
    file: Optional[Path] = typer.Option(None, "--file", help="a text file, one utterance per line"),
    wav: List[Path] = typer.Option([], "--wav", help="WAV recordings (repeat the flag or list several files after it)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per input"),
) -> None:
    """Which function each utterance goes to: intent, confidence, slots, function."""
    texts = list(texts or [])
    wavs = list(wav) + ([Path(t) for t in texts] if wav else [])
    if not wav and file:
        texts += [line.strip() for line in _read_lines(file) if line.strip()]
    elif wav and file:
        raise AssistantError("--file takes text utterances; give WAV files with --wav only")
    if not wavs and not texts:
        raise AssistantError("nothing to route: give text, --file or --wav")
    assistant = _assistant()
    failed = False
    inputs: Iterator[tuple[str, Callable[[], dict[str, Any]]]]
    if wavs:
        inputs = ((str(p), lambda p=p: _route_wav(assistant, p)) for p in wavs)
    else:
        inputs = ((t, lambda t=t: _route_text(assistant, t)) for t in texts)
    for name, run in inputs:
        try:
            result = {"input": name, **run()}
        except UserError as error:
            failed = True
            err.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
            result = {"input": name, "error": str(error)}
        if as_json:
            _print_json(result)
        elif "error" not in result:
            heard = f"  [{result['transcript']}]" if "transcript" in result else ""
            print(f"{name}{heard} → {result['function'] or '-'} ({result['intent']} {result['confidence']:.2f}) {json.dumps(result['slots'], ensure_ascii=False)}")
    if failed:
        raise typer.Exit(1)


def _read_lines(file: Path) -> list[str]:
    try:
        return file.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise AssistantError(f"{file}: cannot read it ({error.strerror})") from error
    except UnicodeDecodeError as error:
        raise AssistantError(f"{file}: not UTF-8 text (bad byte at offset {error.start})") from error


def _route_text(assistant: Any, text: str) -> dict[str, Any]:
    return _routed(assistant.understanding.understand(text))


def _route_wav(assistant: Any, path: Path) -> dict[str, Any]:
    """A recording routed as a call would hear it (VAD, ASR at its own rate, NLU)."""
    heard = assistant.hear_recording(path)
    return {"transcript": heard.transcript, **_routed(heard.result)}


def _routed(r: Any) -> dict[str, Any]:
    return {"intent": r.intent, "confidence": r.confidence, "slots": r.slots, "function": r.function}


@app.command()
def transcribe(files: List[Path] = typer.Argument(..., help="WAV recordings")) -> None:
    """One transcript per line (normalised for the NLU: simplified characters, digits)."""
    from assistant.core.audio import read_wav
    from assistant.runtime.voice import VoiceService
    from assistant.speech.asr.base import transcribe as run

    assistant = VoiceService(load_config())
    recognizer = assistant.recognizer(16000)
    failed = False
    for path in files:
        try:
            print(assistant.normalizer.normalize(run(recognizer, read_wav(path, recognizer.sample_rate).pcm)), flush=True)
        except UserError as error:
            failed = True
            print("", flush=True)  # keep one line per file
            err.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def chat(
    text: bool = typer.Option(False, "--text", help="type instead of speaking"),
    wav: Optional[Path] = typer.Option(None, "--wav", help="play a recording in as the caller"),
    speak: Optional[bool] = typer.Option(None, "--speak/--silent", help="say the replies on the loudspeaker (default: yes, except with --json)"),
    save: Optional[Path] = typer.Option(None, "--save", help="also write the replies' audio to this WAV file"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per assistant turn on stdout"),
    caller: Optional[str] = typer.Option(None, "--caller", help="the caller id: the phone number the call comes from"),
    outbound: Optional[str] = typer.Option(None, "--outbound", help="an outbound call that opens with this function "
                                                                    "(a campaign's script, e.g. service_survey)"),
) -> None:
    """Talk to the assistant: microphone and loudspeaker, typed lines (--text, `dtmf:147258` for
    key presses) or a recording (--wav); with --outbound, as the customer the assistant called."""
    from assistant.cli.chat import run_chat

    if caller is not None and not caller.isdigit():
        raise AssistantError(f"--caller must be a phone number (digits only), not {caller!r}")
    if speak is None:
        speak = not as_json
    run_chat(_assistant(), text=text, wav=wav, speak=speak, save=save, as_json=as_json, caller=caller,
             outbound=outbound)


@app.command()
def setup(download: bool = typer.Option(True, "--download/--offline", help="fetch models that are not staged")) -> None:
    """Check and fetch models, train the NLU model, build the prompt audio, warm the NLU process."""
    from assistant.runtime.provision import run_setup

    run_setup(load_config(), download=download)


@nlu_app.command("train")
def nlu_train(
    small_edit: bool = typer.Option(False, "--small-edit", help="a few examples changed, no new intent or entity: finetune the newest full model (minutes, not a full training)"),
    full: bool = typer.Option(False, "--full", help="train in full even if this data already has a finetuned model"),
) -> None:
    """Train the NLU model from nlu_data/ (skipped when data and pipeline are unchanged)."""
    from assistant.nlu.train import NotFinetunable, training_record
    from assistant.runtime.provision import train_with_progress

    if small_edit and full:
        raise AssistantError("--small-edit and --full exclude each other")
    try:
        model = train_with_progress(load_config(), full=full, small_edit=small_edit)
    except NotFinetunable as error:
        raise AssistantError(f"{error}: run `assistant nlu train` without --small-edit") from error
    record = training_record(model) or {}
    how = (f"finetuned from {record['finetuned_from']}, {record['epochs']} epochs" if "finetuned_from" in record
           else f"full training, {record.get('epochs')} epochs")
    err.print(f"model: {model} ({how}, {record.get('seconds')} s, {record.get('examples')} examples)")


@nlu_app.command("validate")
def nlu_validate(
    strict: bool = typer.Option(False, "--strict", help="warnings fail too"),
    quick: bool = typer.Option(False, "--quick", help="skip the tokenizer alignment check (it loads TensorFlow, ~15 s)"),
) -> None:
    """Check nlu_data/ against itself and intents/ (like `rasa data validate`), each finding with file and line."""
    from assistant.nlu.validate import ERROR, report, validate

    with err.status("Checking nlu_data/ and intents/"):
        findings = validate(load_config(), tokenizer=not quick)
    print("\n".join(report(findings, tokenizer=not quick)))
    if any(f.level == ERROR or strict for f in findings):
        raise typer.Exit(1)


@nlu_app.command("test")
def nlu_test(
    holdout: Optional[Path] = typer.Option(None, "--holdout", help="held-out text: a TSV (text, intent, slots_json) or Rasa NLU YAML"),
    folds: Optional[int] = typer.Option(None, "--folds", min=2, help="k-fold cross-validation over nlu_data/ (trains K models)"),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="DIET epochs for the --folds models (default: config.yml's)"),
    voice: Optional[Path] = typer.Option(None, "--voice", help="a folder of WAVs with an index.tsv, heard through VAD and ASR"),
    out: Optional[Path] = typer.Option(None, "--out", help="reports folder (default var/reports/nlu); a run goes to <kind>-<name>/<UTC time>/"),
) -> None:
    """Intent and slot scores, confusion matrix, misclassified examples and the change since the last run."""
    from assistant.nlu.eval.evaluate import run_nlu_test

    def connect() -> Any:
        if holdout or voice:
            return _assistant()
        from assistant.runtime.voice import VoiceService

        return VoiceService(load_config())  # cross-validation trains its own models: no NLU process

    run_nlu_test(connect, holdout=holdout, voice=voice, folds=folds, epochs=epochs, out=out)


app.command()(serve)  # assistant/desktop/cli.py
app.command()(say)  # assistant/cli/voice.py
app.command()(telephony)  # assistant/cli/telephony.py


if __name__ == "__main__":
    main()
