"""Settings from config.yml, with paths resolved against the repository."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.yamlfile import load_yaml

REPO = Path(__file__).resolve().parents[1]  # the repository: domain/ sits at its top
RUNTIME_DIR = REPO / "var"  # sockets, trained models, logs: made at run time, git-ignored


@dataclass(frozen=True)
class Config:
    raw: dict[str, Any]
    root: Path

    def section(self, name: str) -> dict[str, Any]:
        return self.raw.get(name) or {}

    @property
    def models_dir(self) -> Path:
        return self.root / os.environ.get("MODELS_DIR", self.raw.get("models_dir", "../shared/models"))

    @property
    def downloads_dir(self) -> Path:
        return self.root / self.raw.get("downloads_dir", "models")

    @property
    def nlu_dir(self) -> Path:
        return self.root / "nlu_data"

    @property
    def intents_dir(self) -> Path:
        return self.root / "intents"

    @property
    def voices_dir(self) -> Path:
        return self.root / "voices"


def load_config(path: Path | None = None) -> Config:
    path = path or Path(os.environ.get("ASSISTANT_CONFIG", REPO / "config.yml"))
    return Config(load_yaml(path) or {}, path.resolve().parent)
