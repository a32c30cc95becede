"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""
from __future__ import annotations

from pathlib import Path


class AssistantError(Exception):
    """A problem the user can act on: bad input, a missing model, a broken data file."""


class AudioFormatError(AssistantError):
    """Audio that is not PCM WAV, is truncated or empty, or has an unsupported rate."""


class ModelNotFoundError(AssistantError):
    """A model that is neither configured, staged in ../shared/models, nor downloadable."""


class DataFileError(AssistantError):
    """A broken YAML file in nlu_data/ or intents/; the message names file and line."""

    def __init__(self, problem: str, path: Path | None = None, line: int | None = None) -> None:
        where = ":".join(str(part) for part in (path, line) if part is not None)
        super().__init__(f"{where}: {problem}" if where else problem)
        self.problem, self.path, self.line = problem, path, line
