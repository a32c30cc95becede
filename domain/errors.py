"""Errors that reach the user as one clear line (the CLI prints them without a traceback).

Both the assistant and the back ends (adapters/) raise these; each side subclasses `UserError` for
its own kinds, so the CLI catches one class.
"""
from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A problem the user can act on: bad input, a missing model, a broken data or settings file."""


class ConfigError(UserError):
    """A setting in config.yml that cannot be used; the message names it."""


class DataFileError(UserError):
    """A broken data file (nlu_data/, intents/, the knowledge base, a seed); the message names file and line."""

    def __init__(self, problem: str, path: Path | None = None, line: int | None = None) -> None:
        where = ":".join(str(part) for part in (path, line) if part is not None)
        super().__init__(f"{where}: {problem}" if where else problem)
        self.problem, self.path, self.line = problem, path, line
