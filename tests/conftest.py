"""Shared fixtures: the configuration, the staged speech data and one assistant per test run."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # speech_synth

from databases import call_database, parametrize_databases  # noqa: E402,F401  (the call store's engine)
from secret_scan import pytest_sessionfinish  # noqa: E402,F401  (the end-of-run scan for secrets)

from assistant.nlu.eval.spoken_set import SpokenRequest, read_spoken_set  # noqa: E402
from domain.config import Config, load_config  # noqa: E402


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_databases(metafunc)


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
    return read_spoken_set(speech_dir / "banking_dev")


@pytest.fixture(scope="session")
def assistant(config: Config) -> Any:
    """The real assistant: trained NLU (through the resident process), whisper, TTS."""
    from assistant.runtime.voice import VoiceService

    instance = VoiceService(config)
    _ = instance.understanding
    return instance
