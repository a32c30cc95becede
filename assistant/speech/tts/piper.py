"""Neural speech from a piper voice (an .onnx model with its .onnx.json config)."""
from __future__ import annotations

from pathlib import Path

from piper import PiperVoice, SynthesisConfig

from assistant.core.errors import ModelNotFoundError


class PiperSynthesizer:
    name = "piper"

    def __init__(
        self,
        model_path: Path,
        config_path: Path | None = None,
        length_scale: float | None = None,
    ) -> None:
        model_path = Path(model_path)
        config_path = Path(config_path) if config_path else Path(f"{model_path}.json")
        for path in (model_path, config_path):
            if not path.is_file():
                raise ModelNotFoundError(
                    f"piper voice file {path} not found: fetch {model_path.name} and "
                    f"{model_path.name}.json (the download URLs are in voices/*.yml)"
                )
        self._voice = PiperVoice.load(model_path, config_path=config_path)
        self._config = SynthesisConfig(length_scale=length_scale)
        self.sample_rate: int = self._voice.config.sample_rate
        self.voice_id = f"{model_path.name}@length_scale={length_scale}"

    def synthesize(self, text: str) -> bytes:
        # piper splits its input into sentences itself; one sentence in usually means one chunk out.
        return b"".join(
            chunk.audio_int16_bytes for chunk in self._voice.synthesize(text, self._config)
        )
