"""Synthetic test speech: espeak-ng audio as 16-bit mono WAV at the rate a test needs."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from assistant.audio import Audio, read_wav, write_wav


def espeak_wav(text: str, voice: str, path: Path, rate: int = 16000, pad_ms: int = 300) -> Path:
    """Speak `text` with espeak-ng `voice` into `path`, with `pad_ms` of silence on either side.

    The padding makes the clip look like a VAD segment; recognisers adapt on the leading silence.
    """
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "espeak.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, capture_output=True
        )
        speech = read_wav(raw, rate)
    silence = bytes(2 * (rate * pad_ms // 1000))
    write_wav(path, Audio(silence + speech.pcm + silence, rate))
    return Path(path)
