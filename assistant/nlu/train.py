"""Training the Rasa NLU model from nlu_data/, cached by a hash of what it is trained from.

The model for a given nlu_data/ + pipeline lives at var/nlu/<hash>.tar.gz; training writes to a
temporary name and renames on success, so a failed run never replaces a working model.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from contextlib import redirect_stdout
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


def train(config: Config, models_dir: Path = MODELS) -> Path:
    """Train unless a model for exactly this data and pipeline exists; returns its path."""
    target = model_path(config, models_dir)
    if target.exists():
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second command waits for the first one's training
        if not target.exists():
            _train(config, target)
    return target


def _train(config: Config, target: Path) -> None:
    Vocabulary.load(config.nlu_dir)  # broken YAML: one error with file and line, before rasa's traceback
    from assistant.nlu.fastload import quiet_rasa

    quiet_rasa()  # before TensorFlow is imported, or its C++ log level is already set
    from rasa.model_training import train_nlu
    from rasa.shared.nlu.training_data.loading import load_data

    os.environ["LOG_LEVEL"] = "INFO"  # rasa hides its epoch progress bar at WARNING and above
    started = time.perf_counter()
    data = load_data(str(config.nlu_dir))
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        dictionary = write_dictionary(data, Path(tmp) / "jieba")
        config_file = Path(tmp) / "config.yml"
        config_file.write_text(yaml.safe_dump(rasa_config(config, dictionary), allow_unicode=True))
        with redirect_stdout(sys.stderr):  # rasa prints its own messages; stdout is for results
            out = train_nlu(str(config_file), str(config.nlu_dir), tmp, fixed_model_name="model")
        if not out or not Path(out).exists():
            raise AssistantError("Rasa training did not produce a model; see the messages above")
        Path(out).rename(target)
    seconds = round(time.perf_counter() - started, 1)
    sidecar(target, ".json").write_text(json.dumps({
        "seconds": seconds, "examples": len(data.nlu_examples), "epochs": _epochs(config)}))
    logging.getLogger(__name__).info("trained NLU model %s", target.name)


def _epochs(config: Config) -> int | None:
    return next((step.get("epochs") for step in config.section("nlu")["pipeline"]
                 if step["name"] == "DIETClassifier"), None)
