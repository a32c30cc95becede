"""Telephone channels over clean speech, as numpy arrays of float samples in [-1, 1].

Every channel but `clean` is a telephone line: 8 kHz, 300-3400 Hz (sox `sinc`), the speech level
varied by a few dB, then one impairment, then G.711 (A-law for `alaw`, μ-law otherwise; `gsm` is a
GSM 06.10 round trip through sox instead). Each impairment draws its strength from `rng`, so one
request heard on one channel is the same file on every run:

  loss    20 ms frames dropped (silence, as a jitter buffer without concealment plays them), 3-12 %,
          in bursts of 1-3 frames
  babble  three to five other requests' speech mixed in at 5-20 dB SNR
  street  low-frequency rumble (brown noise), passing-car swells and a little hiss at 5-20 dB SNR
  clip    8-18 dB too much gain, clipped at full scale
  quiet   speech at -34 to -40 dBFS RMS
"""
from __future__ import annotations

import audioop
import random
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

PHONE_RATE = 8000
FRAME_S = 0.02
_G711_TAG = {"alaw": 6, "ulaw": 7}


def db(x: float) -> float:
    return 10 ** (x / 20)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def sox(args: list[str]) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True)


def write_pcm(path: Path, samples: np.ndarray, rate: int) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def read_pcm(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit mono WAV as float samples and its rate."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono PCM")
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768, w.getframerate()


def write_g711(path: Path, samples: np.ndarray, law: str) -> None:
    """An 8 kHz G.711 WAV (format tag 6 A-law, 7 μ-law), encoded with audioop as a line codec does."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    data = audioop.lin2alaw(pcm, 2) if law == "alaw" else audioop.lin2ulaw(pcm, 2)
    fmt = (_G711_TAG[law]).to_bytes(2, "little") + (1).to_bytes(2, "little") + PHONE_RATE.to_bytes(4, "little") \
        + PHONE_RATE.to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little") + (0).to_bytes(2, "little")
    pad = b"\0" if len(data) % 2 else b""
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt + b"data" + len(data).to_bytes(4, "little") + data + pad
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)


def telephone_band(speech: np.ndarray, rate: int) -> np.ndarray:
    """Speech at 8 kHz, 300-3400 Hz, peak at -3 dBFS."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        write_pcm(src, speech, rate)
        sox([str(src), "-r", str(PHONE_RATE), str(out), "sinc", "300-3400", "norm", "-3"])
        band, _ = read_pcm(out)
    return band


def _at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, voiced: np.ndarray) -> np.ndarray:
    """`noise` scaled so that the speech's voiced part is `snr_db` above it, added to `speech`."""
    noise = noise[: len(speech)]
    if len(noise) < len(speech):
        noise = np.pad(noise, (0, len(speech) - len(noise)))
    gain = rms(speech[voiced]) / max(rms(noise), 1e-9) / db(snr_db)
    return speech + gain * noise


def _voiced(x: np.ndarray) -> np.ndarray:
    """Samples in 20 ms frames whose level is within 30 dB of the loudest frame."""
    n = int(FRAME_S * PHONE_RATE)
    frames = len(x) // n
    levels = np.array([rms(x[i * n:(i + 1) * n]) for i in range(frames)])
    keep = levels > levels.max(initial=0) * db(-30)
    mask = np.zeros(len(x), dtype=bool)
    for i in np.flatnonzero(keep):
        mask[i * n:(i + 1) * n] = True
    return mask if mask.any() else np.ones(len(x), dtype=bool)


def street_noise(n: int, rng: random.Random) -> np.ndarray:
    gen = np.random.default_rng(rng.getrandbits(32))
    brown = np.cumsum(gen.standard_normal(n))
    brown -= np.convolve(brown, np.ones(801) / 801, mode="same")  # keep it from drifting: a rumble
    hiss = gen.standard_normal(n) * 0.05 * np.std(brown)
    t = np.arange(n) / PHONE_RATE
    swells = np.ones(n)
    for _ in range(rng.randint(1, 3)):  # cars passing: a few seconds of louder noise each
        centre, width = rng.uniform(0, t[-1] if n else 1), rng.uniform(0.6, 1.8)
        swells += rng.uniform(1.0, 3.0) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    return (brown * swells + hiss).astype(np.float32)


def babble_noise(others: list[np.ndarray], n: int, rng: random.Random) -> np.ndarray:
    """Other requests' telephone speech, each at a random offset, looped to length `n`."""
    mix = np.zeros(n, dtype=np.float32)
    for other in others:
        if not len(other):
            continue
        looped = np.tile(other, n // len(other) + 2)
        start = rng.randrange(len(other))
        mix += looped[start:start + n] * db(rng.uniform(-6, 0))
    return mix


def packet_loss(x: np.ndarray, rng: random.Random) -> np.ndarray:
    n = int(FRAME_S * PHONE_RATE)
    rate = rng.uniform(0.03, 0.12)
    out = x.copy()
    frame = 0
    while frame * n < len(x):
        if rng.random() < rate / 2:  # bursts of 1-3 frames average 2
            burst = rng.randint(1, 3)
            out[frame * n:(frame + burst) * n] = 0
            frame += burst
        frame += 1
    return out


def gsm_round_trip(x: np.ndarray) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        src, coded, out = Path(tmp) / "in.wav", Path(tmp) / "coded.gsm", Path(tmp) / "out.wav"
        write_pcm(src, x, PHONE_RATE)
        sox([str(src), "-t", "gsm", str(coded)])
        sox(["-t", "gsm", str(coded), "-b", "16", "-e", "signed-integer", str(out)])
        decoded, _ = read_pcm(out)
    return decoded


def render(channel: str, speech: np.ndarray, rate: int, out: Path, rng: random.Random,
           babble_pool: list[np.ndarray]) -> None:
    """`speech` (clean, at `rate`) heard through `channel`, written to `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if channel == "clean":
        write_pcm(out, speech, rate)
        return
    line = telephone_band(speech, rate) * db(rng.uniform(-6, 0))
    voiced = _voiced(line)
    if channel == "loss":
        line = packet_loss(line, rng)
    elif channel == "babble":
        others = rng.sample(babble_pool, min(len(babble_pool), rng.randint(3, 5)))
        if not others:
            raise ValueError("babble needs other requests' speech: make more than one request")
        line = _at_snr(line, babble_noise(others, len(line), rng), rng.uniform(5, 20), voiced)
    elif channel == "street":
        line = _at_snr(line, street_noise(len(line), rng), rng.uniform(5, 20), voiced)
    elif channel == "clip":
        line = np.clip(line * db(rng.uniform(8, 18)), -1.0, 1.0)
    elif channel == "quiet":
        line = line * (db(rng.uniform(-40, -34)) / max(rms(line[voiced]), 1e-9))
    elif channel == "gsm":
        write_pcm(out, gsm_round_trip(np.clip(line, -1, 1)), PHONE_RATE)
        return
    elif channel not in _G711_TAG:
        raise ValueError(f"no channel {channel!r}")
    peak = float(np.max(np.abs(line), initial=0))
    if peak > 1.0 and channel in ("babble", "street"):
        line = line / peak * db(-1)  # a line's AGC: noise at that SNR may not clip
    write_g711(out, line, "alaw" if channel == "alaw" else "ulaw")
