"""The `assistant` command."""
from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console

from assistant.config import load_config
from assistant.errors import AssistantError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Mandarin voice assistant for financial call centers.")
nlu_app = typer.Typer(no_args_is_help=True, help="Train and check the NLU model (nlu_data/).")
app.add_typer(nlu_app, name="nlu")
err = Console(stderr=True)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except AssistantError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _assistant(waiting: str = "Starting the NLU process (first start only, ~30 s)") -> Any:
    from assistant.app import Assistant

    status = err.status(waiting)
    started = False

    def on_wait() -> None:
        nonlocal started
        if not started:
            status.start()
            started = True

    assistant = Assistant(load_config(), on_wait=on_wait)
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
        except AssistantError as error:
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
    r = assistant.understanding.understand(text)
    return {"intent": r.intent, "confidence": r.confidence, "slots": r.slots, "function": r.function}


def _route_wav(assistant: Any, path: Path) -> dict[str, Any]:
    from assistant.asr.base import transcribe
    from assistant.audio import read_wav

    recognizer = assistant.recognizer(16000)
    transcript = transcribe(recognizer, read_wav(path, recognizer.sample_rate).pcm)
    return {"transcript": transcript, **_route_text(assistant, transcript)}


@app.command()
def transcribe(files: List[Path] = typer.Argument(..., help="WAV recordings")) -> None:
    """One transcript per line (normalised for the NLU: simplified characters, digits)."""
    from assistant.app import Assistant
    from assistant.asr.base import transcribe as run
    from assistant.audio import read_wav

    assistant = Assistant(load_config())
    recognizer = assistant.recognizer(16000)
    failed = False
    for path in files:
        try:
            print(assistant.normalizer.normalize(run(recognizer, read_wav(path, recognizer.sample_rate).pcm)), flush=True)
        except AssistantError as error:
            failed = True
            print("", flush=True)  # keep one line per file
            err.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def chat(
    text: bool = typer.Option(False, "--text", help="type instead of speaking"),
    wav: Optional[Path] = typer.Option(None, "--wav", help="play a recording in as the caller"),
    speak: bool = typer.Option(True, "--speak/--silent", help="say the replies on the loudspeaker"),
    save: Optional[Path] = typer.Option(None, "--save", help="also write the replies' audio to this WAV file"),
) -> None:
    """Talk to the assistant: microphone and loudspeaker, typed lines (--text) or a recording (--wav)."""
    from assistant.chat import run_chat

    run_chat(_assistant(), text=text, wav=wav, speak=speak, save=save)


@app.command()
def setup(download: bool = typer.Option(True, "--download/--offline", help="fetch models that are not staged")) -> None:
    """Check and fetch models, train the NLU model, build the prompt audio, warm the NLU process."""
    from assistant.setup import run_setup

    run_setup(load_config(), download=download)


@nlu_app.command("train")
def nlu_train() -> None:
    """Train the NLU model from nlu_data/ (skipped when data and pipeline are unchanged)."""
    from assistant.setup import train_with_progress

    err.print(f"model: {train_with_progress(load_config())}")


if __name__ == "__main__":
    main()
