"""Fixed prompts (greetings, menus, confirmations) synthesised once and kept as WAV files.

Only for fixed prompt texts: anything holding customer data must not be cached (it lands on disk).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from assistant.core.audio import Audio, read_wav, write_wav
from assistant.speech.tts.base import Synthesizer


class VoicedSynthesizer(Synthesizer, Protocol):
    voice_id: str  # model file / voice and its settings: a new voice must not reuse old audio


class PromptCache:
    def __init__(self, synth: VoicedSynthesizer, directory: Path) -> None:
        self.synth = synth
        self.directory = Path(directory)

    def path_for(self, text: str) -> Path:
        key = "\n".join((self.synth.name, self.synth.voice_id, text))
        return self.directory / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.wav"

    def get(self, text: str) -> bytes:
        """PCM at the synthesiser's rate, synthesised only the first time."""
        path = self.path_for(text)
        if path.is_file():
            return read_wav(path).pcm
        pcm = self.synth.synthesize(text)
        self._store(path, pcm)
        return pcm

    def build(
        self, texts: Iterable[str], progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Synthesise every text not cached yet; returns how many were newly made.

        `progress(done, total)` is called after each text.
        """
        pending = list(dict.fromkeys(texts))
        made = 0
        for done, text in enumerate(pending, start=1):
            path = self.path_for(text)
            if not path.is_file():
                self._store(path, self.synth.synthesize(text))
                made += 1
            if progress:
                progress(done, len(pending))
        return made

    def _store(self, path: Path, pcm: bytes) -> None:
        if not pcm:
            return  # a blank text: a WAV without samples would be refused when read back
        # Write then rename, so a reader never sees half a file (setup and the app may overlap).
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        write_wav(partial, Audio(pcm, self.synth.sample_rate))
        partial.replace(path)
