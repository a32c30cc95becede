"""Training the Rasa NLU model from nlu_data/, cached by a hash of what it is trained from.

The model for a given nlu_data/ + pipeline lives at var/nlu/<hash>.tar.gz; training writes to a
temporary name and renames on success, so a failed run never replaces a working model.

A small edit (a few examples more or less, no new intent, entity or entity word) can be trained by
finetuning an earlier full model of the same pipeline with a fraction of its epochs (`finetune`).
The result is stored under the new data's hash like any model, its .json record naming the model it
came from; `train(..., full=True)` replaces it with a full training of the same data. Finetuning is
never the default: a full training depends on the data and pipeline only (fixed seed), a finetuned
model also on the history it came from.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import math
import os
import sys
import tempfile
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from assistant.core.errors import AssistantError
from domain.config import RUNTIME_DIR, Config
from domain.nlu_data import data_files
from domain.vocabulary import Vocabulary

if TYPE_CHECKING:  # rasa loads TensorFlow: only where training needs it
    from rasa.shared.nlu.training_data.training_data import TrainingData

MODELS = RUNTIME_DIR / "nlu"
SMALL_EDIT_EXAMPLES = 50  # a finetuned model's data may have this many examples more or fewer than its parent's
FINETUNE_EPOCHS = 0.1  # the share of the configured DIET epochs a finetuning runs (10 of 100: bench/nlu)
_TOKENIZER_SOURCE = Path(__file__).with_name("tokenizer.py")


def rasa_config(config: Config, dictionary_dir: Path) -> dict:
    pipeline = [dict(step) for step in config.section("nlu")["pipeline"]]
    for step in pipeline:
        if step["name"].endswith("CallerTokenizer"):
            step["dictionary_path"] = str(dictionary_dir)
    return {"recipe": "default.v1", "language": "zh", "pipeline": pipeline}


def model_hash(config: Config) -> str:
    import rasa

    h = hashlib.sha256(rasa.__version__.encode())
    h.update(json.dumps(config.section("nlu")["pipeline"], sort_keys=True).encode())
    h.update(_TOKENIZER_SOURCE.read_bytes())
    for path in data_files(config.nlu_dir):
        h.update(str(path.relative_to(config.nlu_dir)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def model_path(config: Config, models_dir: Path = MODELS) -> Path:
    return models_dir / f"{model_hash(config)}.tar.gz"


def sidecar(model: Path, suffix: str) -> Path:
    """A file beside `model` named after its hash: <hash>.sock, <hash>.json."""
    return model.with_name(model.name.removesuffix(".tar.gz") + suffix)


def training_record(model: Path) -> dict | None:
    """What `train` noted about the run that made `model` (seconds, examples, epochs), if anything."""
    record = sidecar(model, ".json")
    return json.loads(record.read_text()) if record.exists() else None


def entity_words(data: TrainingData) -> list[str]:
    """Words jieba must keep whole: every lookup entry, synonym and annotated entity text."""
    words = {e for table in data.lookup_tables for e in table["elements"]}
    words |= set(data.entity_synonyms)
    for message in data.nlu_examples:
        text = message.get("text")
        words |= {text[e["start"] : e["end"]] for e in message.get("entities") or []}
    return sorted(w for w in words if w and not w.isdigit())


def write_dictionary(data: TrainingData, folder: Path) -> Path:
    """The jieba user dictionary the tokenizer loads: entity words at a high frequency."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "userdict.txt").write_text("".join(f"{w} 1000\n" for w in entity_words(data)), encoding="utf-8")
    return folder


class NotFinetunable(AssistantError):
    """The edit cannot be finetuned from the model asked for: a full training is needed."""


def train(config: Config, models_dir: Path = MODELS, full: bool = False) -> Path:
    """Train unless a model for exactly this data and pipeline exists; returns its path.

    With `full`, a model that was finetuned for this data is replaced by a full training of it."""
    target = model_path(config, models_dir)
    if is_trained(target, full):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with _lock(target):
        if not is_trained(target, full):
            _train(config, target)
    return target


def finetune(config: Config, models_dir: Path = MODELS, parent: Path | None = None) -> Path:
    """Train a small edit of the data by finetuning `parent` (default: the newest full model in
    `models_dir`); NotFinetunable says why when it cannot be done (Rasa's own check refuses a parent
    of another pipeline)."""
    target = model_path(config, models_dir)
    if target.exists():
        return target
    parent = parent or newest_full_model(models_dir)
    if parent is None:
        raise NotFinetunable(f"no fully trained model in {models_dir} to finetune: train in full first")
    models_dir.mkdir(parents=True, exist_ok=True)
    with _lock(target):
        if not target.exists():
            _train(config, target, parent)
    return target


def newest_full_model(models_dir: Path) -> Path | None:
    full = [m for m in models_dir.glob("*.tar.gz")
            if (record := training_record(m)) is not None and "finetuned_from" not in record]
    return max(full, key=lambda m: m.stat().st_mtime, default=None)


def is_trained(target: Path, full: bool = False) -> bool:
    """Whether `target` exists (with `full`: and was not finetuned)."""
    if not target.exists():
        return False
    return not (full and "finetuned_from" in (training_record(target) or {}))


@contextmanager
def _lock(target: Path) -> Iterator[None]:
    with (target.parent / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second command waits for the first one's training
        yield


def _train(config: Config, target: Path, parent: Path | None = None) -> None:
    Vocabulary.load(config.nlu_dir)  # broken YAML: one error with file and line, before rasa's traceback
    from assistant.nlu.fastload import quiet_rasa

    quiet_rasa()  # before TensorFlow is imported, or its C++ log level is already set
    from rasa.model_training import train_nlu
    from rasa.shared.exceptions import InvalidConfigException
    from rasa.shared.nlu.training_data.loading import load_data

    os.environ["LOG_LEVEL"] = "INFO"  # rasa hides its epoch progress bar at WARNING and above
    started = time.perf_counter()
    data = load_data(str(config.nlu_dir))
    parent_info = _ParentModel(parent) if parent else None
    if parent_info:
        parent_info.check(data)
    epochs = _epochs(config)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        dictionary = write_dictionary(data, Path(tmp) / "jieba")
        config_file = Path(tmp) / "config.yml"
        config_file.write_text(yaml.safe_dump(rasa_config(config, dictionary), allow_unicode=True))
        finetuning = {}
        if parent_info:
            finetuning = {"model_to_finetune": str(parent), "finetuning_epoch_fraction": FINETUNE_EPOCHS}
            epochs = math.ceil(epochs * FINETUNE_EPOCHS) if epochs else None  # as Rasa counts them
        with redirect_stdout(sys.stderr), _dictionary_path_as(parent_info):  # stdout is for results
            try:
                out = train_nlu(str(config_file), str(config.nlu_dir), tmp, fixed_model_name="model", **finetuning)
            except InvalidConfigException as e:  # Rasa's own finetuning checks (labels, pipeline)
                raise NotFinetunable(f"cannot finetune {parent.name if parent else ''}: {e}") from e
        if not out or not Path(out).exists():
            raise AssistantError("Rasa training did not produce a model; see the messages above")
        Path(out).rename(target)
    record = {"seconds": round(time.perf_counter() - started, 1), "examples": len(data.nlu_examples), "epochs": epochs}
    if parent_info:
        record |= {"finetuned_from": parent_info.path.name, "parent_examples": parent_info.examples}
    sidecar(target, ".json").write_text(json.dumps(record))
    how = f"finetuned from {parent_info.path.name}, {epochs} epochs" if parent_info else f"full, {epochs} epochs"
    logging.getLogger(__name__).info("trained NLU model %s (%s)", target.name, how)


class _ParentModel:
    """What a model to be finetuned was trained on, read from its archive and record."""

    def __init__(self, path: Path) -> None:
        record = training_record(path)
        if not path.exists() or record is None:
            raise NotFinetunable(f"{path}: no such trained model (with its .json record) to finetune")
        if "finetuned_from" in record:
            raise NotFinetunable(f"{path.name} was itself finetuned: finetune the full model "
                                 f"{record['finetuned_from']} instead, so changes do not pile up")
        self.path, self.examples = path, record["examples"]
        with tarfile.open(path) as archive:
            files = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}

            def read(name: str) -> str:
                member = archive.extractfile(files[name])
                assert member is not None
                return member.read().decode("utf-8")

            metadata = json.loads(read("metadata.json"))
            self.intents = set(json.loads(read("DIETClassifier.index_label_id_mapping.json")).values())
            self.entities = {tag[2:] if tag[1:2] == "-" else tag  # BILOU tags: B-amount ... U-amount
                             for spec in json.loads(read("DIETClassifier.entity_tag_specs.json"))
                             if spec["tag_name"] == "entity" for tag in spec["ids_to_tags"].values()} - {"O"}
            self.words = {line.split()[0] for line in read("userdict.txt").splitlines() if line.strip()}
        self.dictionary_path = next(node["config"]["dictionary_path"] for node in metadata["train_schema"]["nodes"].values()
                                    if "dictionary_path" in node["config"])

    def check(self, data: TrainingData) -> None:
        """Refuse what finetuning cannot learn, naming it: new or dropped labels, new entity words."""
        problems = []
        for kind, old, new in (("intent", self.intents, set(data.intents)), ("entity", self.entities, set(data.entities))):
            if new - old:
                problems.append(f"new {kind} {', '.join(sorted(new - old))}")
            if old - new:
                problems.append(f"{kind} without examples now: {', '.join(sorted(old - new))}")
        if words := set(entity_words(data)) - self.words:
            problems.append(f"new entity words the tokenizer does not know: {'、'.join(sorted(words)[:10])}")
        if abs(len(data.nlu_examples) - self.examples) > SMALL_EDIT_EXAMPLES:
            problems.append(f"{len(data.nlu_examples)} examples against {self.examples}, more than "
                            f"{SMALL_EDIT_EXAMPLES} apart")
        if problems:
            raise NotFinetunable(f"cannot finetune {self.path.name}: {'; '.join(problems)} — a full training is needed")


@contextmanager
def _dictionary_path_as(parent: _ParentModel | None) -> Iterator[None]:
    """Rasa refuses to finetune when any pipeline setting but the epochs changed. The tokenizer's
    dictionary_path is a temporary folder of each run, not a setting: compare it as the parent's."""
    if parent is None:
        yield
        return
    from rasa.engine.graph import GraphSchema
    from rasa.graph_components.validators.finetuning_validator import FinetuningValidator

    original = FinetuningValidator._get_fingerprint_of_schema_without_irrelevant_keys

    def fingerprint(validator: FinetuningValidator) -> str:
        context = validator._execution_context
        nodes = {name: replace(node, config={**node.config, "dictionary_path": parent.dictionary_path})
                 if "dictionary_path" in node.config else node for name, node in context.graph_schema.nodes.items()}
        validator._execution_context = replace(context, graph_schema=GraphSchema(nodes))
        try:
            return original(validator)
        finally:
            validator._execution_context = context

    FinetuningValidator._get_fingerprint_of_schema_without_irrelevant_keys = fingerprint  # type: ignore[method-assign]
    try:
        yield
    finally:
        FinetuningValidator._get_fingerprint_of_schema_without_irrelevant_keys = original  # type: ignore[method-assign]


def _epochs(config: Config) -> int | None:
    return next((step.get("epochs") for step in config.section("nlu")["pipeline"]
                 if step["name"] == "DIETClassifier"), None)
