"""Formant speech from the espeak-ng binary: robotic but tiny, always there as the fallback."""
from __future__ import annotations

import io
import shutil
import subprocess
import wave

from assistant.core.errors import ModelNotFoundError

# Not plain "cmn": in espeak-ng 1.51 (Debian/Ubuntu) that voice reads its internal pinyin as
# English, "您好" comes out as "nin two hao three" (espeak-ng issues #1028, #1236).
MANDARIN = "cmn-latn-pinyin"


class EspeakSynthesizer:
    name = "espeak"

    def __init__(self, voice: str = MANDARIN, rate: int = 175, pitch: int = 50) -> None:
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise ModelNotFoundError("espeak-ng is not installed: apt-get install espeak-ng")
        self._command = [binary, "-v", voice, "-s", str(rate), "-p", str(pitch)]
        self._command += ["-b", "1", "--stdin", "--stdout"]  # UTF-8 text in, WAV out
        self.voice_id = f"{voice}@rate={rate},pitch={pitch}"
        # Speaking a blank checks the voice exists and tells us the rate from the WAV header.
        self.sample_rate, _ = self._run(" ")

    def synthesize(self, text: str) -> bytes:
        if not text.strip():
            return b""
        _, pcm = self._run(text)
        return pcm

    def _run(self, text: str) -> tuple[int, bytes]:
        # Text goes in on stdin, so a sentence starting with "-" is never taken for an option.
        result = subprocess.run(self._command, input=text.encode("utf-8"), capture_output=True)
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise ModelNotFoundError(f"espeak-ng failed with voice {self.voice_id}: {message}")
        # Writing to a pipe, espeak-ng cannot fill in the data size; `wave` just reads to EOF.
        with wave.open(io.BytesIO(result.stdout), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise ModelNotFoundError("espeak-ng produced audio that is not 16-bit mono")
            return wav.getframerate(), wav.readframes(wav.getnframes())
