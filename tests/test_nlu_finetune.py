"""A trainer's small edit is finetuned from the full model in minutes and loses nothing on held-out text;
an edit that adds an intent is refused before any training, with the reason."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from assistant.nlu.eval.small_edit import EDIT_EXAMPLES, EDIT_FILE, EDIT_INTENT, edited_copy, holdout_summary, timed_finetune, understanding_for
from assistant.nlu.train import FINETUNE_EPOCHS, NotFinetunable, finetune, is_trained, model_path, train, training_record
from domain.config import Config

HOLDOUT = Path(__file__).parent / "data" / "nlu_holdout.tsv"


@pytest.fixture(scope="module")
def assistant(config: Config) -> Any:
    from assistant.runtime.voice import VoiceService

    return VoiceService(config)


@pytest.fixture(scope="module")
def full_model(config: Config) -> Path:
    return train(config)


@pytest.fixture(scope="module")
def small_edit(config: Config, full_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, Path]:
    folder = tmp_path_factory.mktemp("small-edit")
    model, seconds = timed_finetune(config, full_model, folder)
    return model, seconds, folder / "nlu_data"


@pytest.mark.slow
def test_small_edit_is_finetuned_and_stored_under_its_hash(config: Config, full_model: Path, small_edit: tuple[Path, float, Path]) -> None:
    model, _, nlu_dir = small_edit  # the time depends on the machine's load: bench/nlu reports it
    record = training_record(model)
    assert record is not None and record["finetuned_from"] == full_model.name
    assert record["epochs"] == math.ceil(training_record(full_model)["epochs"] * FINETUNE_EPOCHS)
    assert record["examples"] == record["parent_examples"] + len(EDIT_EXAMPLES)
    assert model == model_path(Config(config.raw, nlu_dir.parent), model.parent)
    assert is_trained(model) and not is_trained(model, full=True)  # `--full` would train this data again


@pytest.mark.slow
def test_small_edit_understands_the_new_examples_and_keeps_the_holdout(
        assistant: Any, config: Config, full_model: Path, small_edit: tuple[Path, float, Path]) -> None:
    model, _, nlu_dir = small_edit
    understanding = understanding_for(assistant, model, nlu_dir)
    assert [understanding.understand(text).intent for text in EDIT_EXAMPLES] == [EDIT_INTENT] * len(EDIT_EXAMPLES)
    console = Console(stderr=True)
    finetuned = holdout_summary(assistant, model, nlu_dir, HOLDOUT, console)
    full = holdout_summary(assistant, full_model, config.nlu_dir, HOLDOUT, console)
    assert finetuned["accuracy"]["rate"] >= full["accuracy"]["rate"] - 0.01, (finetuned, full)
    assert finetuned["out_of_scope_rejected"]["rate"] >= full["out_of_scope_rejected"]["rate"] - 0.05, (finetuned, full)
    assert finetuned["slots_exact"]["rate"] >= full["slots_exact"]["rate"] - 0.01, (finetuned, full)


def test_new_intent_is_refused_before_training(config: Config, full_model: Path, tmp_path: Path) -> None:
    edited = edited_copy(config, tmp_path)
    with (edited.nlu_dir / EDIT_FILE).open("a", encoding="utf-8") as data:
        data.write("\n- intent: gold_price\n  examples: |\n    - 今天金价多少\n    - 黄金现在什么价\n")
    with pytest.raises(NotFinetunable, match="new intent gold_price.*a full training is needed"):
        finetune(edited, tmp_path / "models", parent=full_model)
    assert not model_path(edited, tmp_path / "models").exists()  # no silent full training instead
