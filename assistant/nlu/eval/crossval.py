"""k-fold cross-validation over nlu_data/: K models, each trained without one part and tested on it.

Each intent's examples are shuffled with a fixed seed (so runs over the same data test the same
folds and can be compared) and dealt to the folds in turn. A fold's training data is nlu_data/
without its test examples (lookups, synonyms and regexes stay whole). It is trained by
assistant.nlu.train like the served model, with config.yml's DIET epochs unless overridden, into a
temporary folder, loaded in this process, tested through the assistant's Understanding and dropped.
Rasa draws its own epoch bar while a fold trains; the testing has a rich one.
"""
from __future__ import annotations

import random
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from assistant.core.errors import AssistantError
from assistant.nlu.eval.evaluate import progress, understand_all
from assistant.nlu.eval.examples import Example, annotated
from assistant.nlu.eval.scoring import Outcome
from assistant.nlu.scope import ScopeCheck
from assistant.nlu.train import train
from assistant.nlu.understanding import Understanding
from domain.config import Config
from domain.nlu_data import Item, data_files, read_items

SEED = 7
DIET_DEFAULT_EPOCHS = 300  # rasa 3.6's own default
Position = tuple[Path, int, int]  # an example's file (relative to nlu_data/), item and place in the item


def cross_validate(assistant: Any, folds: int, epochs: int | None, console: Console) -> tuple[list[Outcome], dict[str, Any]]:
    """The outcome of every example of nlu_data/, each tested by the model that did not see it."""
    from assistant.nlu.fastload import quiet_rasa

    quiet_rasa()  # before the first rasa import
    config, epochs = with_epochs(assistant.config, epochs)
    files = {path.relative_to(config.nlu_dir): read_items(path, path.relative_to(config.root)) for path in data_files(config.nlu_dir)}
    tests = [
        ((path, i, j), annotated(item.name, entry))
        for path, items in files.items()
        for i, item in enumerate(items) if item.kind == "intent"
        for j, entry in enumerate(item.entries)
    ]
    if len(tests) < folds:
        raise AssistantError(f"{config.nlu_dir}: {len(tests)} examples cannot make {folds} folds")
    fold_of = deal([example.intent for _, example in tests], folds, SEED)
    outcomes: list[Outcome] = []
    models = []
    for k in range(folds):
        held_out = [(position, example) for (position, example), fold in zip(tests, fold_of) if fold == k]
        step = f"fold {k + 1}/{folds}"
        console.print(f"{step}: training on {len(tests) - len(held_out)} examples, {epochs} epochs", highlight=False)
        with tempfile.TemporaryDirectory() as tmp:
            write_data(files, {position for position, _ in held_out}, Path(tmp) / "nlu_data")
            model = train(Config(config.raw, Path(tmp)), models_dir=Path(tmp) / "models")
            scope = ScopeCheck.from_data(Path(tmp) / "nlu_data")  # the fold's own training data
            outcomes += _test(assistant, model, scope, [example for _, example in held_out], console, f"{step}: testing")
        models.append(model.name)
    return outcomes, {"source": str(config.nlu_dir), "models": models, "folds": folds, "epochs": epochs, "seed": SEED}


def _test(assistant: Any, model: Path, scope: ScopeCheck, examples: list[Example], console: Console,
          what: str) -> list[Outcome]:
    from assistant.nlu.resident import RasaParser

    understanding = Understanding(RasaParser(model), assistant.normalizer, assistant.vocabulary, assistant.catalog, scope,
                                  assistant.clock())
    with progress(console) as bar:
        return understand_all(understanding, examples, bar, what)


def with_epochs(config: Config, epochs: int | None) -> tuple[Config, int]:
    """The configuration with DIET trained for `epochs` (None: as configured), and that number."""
    pipeline = [dict(step) for step in config.section("nlu")["pipeline"]]
    diet = next((step for step in pipeline if step["name"] == "DIETClassifier"), None)
    if diet is None:
        raise AssistantError("config.yml: the nlu pipeline has no DIETClassifier to cross-validate")
    if epochs is not None:
        diet["epochs"] = epochs
    return Config({**config.raw, "nlu": {**config.section("nlu"), "pipeline": pipeline}}, config.root), diet.get("epochs", DIET_DEFAULT_EPOCHS)


def deal(labels: list[str], folds: int, seed: int) -> list[int]:
    """A fold for each position, every label's positions shuffled and dealt round the folds in turn."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for position, label in enumerate(labels):
        by_label[label].append(position)
    rng = random.Random(seed)
    fold_of = [0] * len(labels)
    dealt = 0  # carried across labels, so small intents do not all start in fold 0
    for label in sorted(by_label):
        positions = by_label[label]
        rng.shuffle(positions)
        for position in positions:
            fold_of[position] = dealt % folds
            dealt += 1
    return fold_of


class _BlockDumper(yaml.SafeDumper):
    """Examples as literal blocks, as Rasa data is written by hand. Text starting with a digit is
    quoted: Rasa reads YAML 1.2, where a bare stock code such as 000858 is the number 858."""


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else '"' if text[:1].isdigit() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _text)


def write_data(files: dict[Path, list[Item]], held_out: set[Position], folder: Path) -> None:
    """The data files again under `folder`, without the held-out examples."""
    for relative, items in files.items():
        nlu = []
        for i, item in enumerate(items):
            kept = [entry.text for j, entry in enumerate(item.entries) if (relative, i, j) not in held_out]
            if kept:
                nlu.append({item.kind: item.name, "examples": "".join(f"- {text}\n" for text in kept)})
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.dump({"version": "3.1", "nlu": nlu}, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False), encoding="utf-8")
