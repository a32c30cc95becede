"""Shared fixtures: the configuration, the staged speech data and one assistant per test run."""
from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # speech_synth

from assistant.config import Config, load_config  # noqa: E402


@dataclass(frozen=True)
class SpokenRequest:
    path: Path
    utterance: str
    intent: str
    slots: dict[str, Any]

    @property
    def channel(self) -> str:
        return self.path.parent.name


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def speech_dir(config: Config) -> Path:
    folder = config.models_dir / "speech"
    if not (folder / "transcripts.tsv").exists():
        pytest.fail(f"recorded speech is missing: {folder}/transcripts.tsv (the staged models folder)")
    return folder


@pytest.fixture(scope="session")
def banking_dev(speech_dir: Path) -> list[SpokenRequest]:
    folder = speech_dir / "banking_dev"
    with (folder / "index.tsv").open(encoding="utf-8") as f:
        return [
            SpokenRequest(folder / r["file"], r["utterance"], r["expected_intent"], json.loads(r["expected_slots"]))
            for r in csv.DictReader(f, delimiter="\t")
        ]


@pytest.fixture(scope="session")
def assistant(config: Config) -> Any:
    """The real assistant: trained NLU (through the resident process), whisper, TTS."""
    from assistant.app import Assistant

    instance = Assistant(config)
    _ = instance.understanding
    return instance
