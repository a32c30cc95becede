"""A trainer's small edit, measured: nlu_data/ copied to a folder with a few examples added, finetuned
from the full model, and both models scored on the same held-out text.

Used by bench/nlu (the small-edit training time) and tests/test_nlu_finetune.py; nlu_data/ itself is
never touched.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.nlu.eval.evaluate import progress, understand_all
from assistant.nlu.eval.examples import read_holdout
from assistant.nlu.eval.scoring import summarize
from assistant.nlu.scope import ScopeCheck
from assistant.nlu.train import finetune
from assistant.nlu.understanding import Understanding
from domain.config import Config

# Five ways callers ask to exchange currency that nlu_data/ does not have (no new entity words), for
# the last intent of banking.yml, forex_trade.
EDIT_FILE = "banking.yml"
EDIT_INTENT = "forex_trade"
EDIT_EXAMPLES = ("出国前想先换点外币", "外币兑换在哪里办理", "我想去换点外币", "能不能帮我换点外汇", "我打算换一些外币带出去")


def edited_copy(config: Config, folder: Path, examples: tuple[str, ...] = EDIT_EXAMPLES) -> Config:
    """The configuration over a copy of nlu_data/ in `folder`, with `examples` added to EDIT_INTENT."""
    shutil.copytree(config.nlu_dir, folder / "nlu_data")
    edited = folder / "nlu_data" / EDIT_FILE
    text = edited.read_text(encoding="utf-8")
    if not text.rstrip().splitlines()[-1].startswith("    - ") or text.rfind("- intent: ") != text.rfind(f"- intent: {EDIT_INTENT}"):
        raise ValueError(f"{EDIT_FILE} no longer ends with the examples of {EDIT_INTENT}: update {__name__}")
    edited.write_text(text.rstrip("\n") + "\n" + "".join(f"    - {e}\n" for e in examples), encoding="utf-8")
    return Config(config.raw, folder)


def timed_finetune(config: Config, parent: Path, folder: Path) -> tuple[Path, float]:
    """Finetune `parent` on an edited copy of the data under `folder`: the model and the seconds it took."""
    edited = edited_copy(config, folder)
    start = time.perf_counter()
    model = finetune(edited, folder / "models", parent=parent)
    return model, round(time.perf_counter() - start, 1)


def understanding_for(assistant: Any, model: Path, nlu_dir: Path) -> Understanding:
    """The assistant's Understanding over `model` loaded in this process, scoped by the data in `nlu_dir`."""
    from assistant.nlu.resident import RasaParser

    return Understanding(RasaParser(model), assistant.normalizer, assistant.vocabulary, assistant.catalog,
                         ScopeCheck.from_data(nlu_dir), assistant.clock())


def holdout_summary(assistant: Any, model: Path, nlu_dir: Path, holdout: Path, console: Console) -> dict[str, Any]:
    """The summary of `model` on the held-out text, understood as the assistant does, in this process."""
    understanding = understanding_for(assistant, model, nlu_dir)
    with progress(console) as bar:
        outcomes = understand_all(understanding, read_holdout(holdout), bar, f"{model.name} on {holdout.name}")
    return summarize(outcomes)["summary"]
