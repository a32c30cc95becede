"""PCM audio helpers: reading WAV files of any PCM or G.711 layout, resampling, chunking.

Inside the assistant audio is 16-bit mono PCM at 8 kHz (telephone) or 16 kHz; everything else is
converted at the edge, here, or refused with a clear error.
"""
from __future__ import annotations

import audioop
import stat
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

from assistant.core.errors import AudioFormatError

STREAM_RATES = (8000, 16000)
_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_ALAW = 6
_WAVE_FORMAT_MULAW = 7
_G711 = (_WAVE_FORMAT_ALAW, _WAVE_FORMAT_MULAW)
_PCM_BITS = (8, 16, 24, 32)
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


@dataclass(frozen=True)
class Audio:
    pcm: bytes  # 16-bit little-endian mono
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


def read_wav(path: str | Path, rate: int | None = None) -> Audio:
    """Read a WAV file as 16-bit mono PCM, resampled to `rate` when given.

    Accepts PCM of 8/16/24/32 bits and G.711 A-law and μ-law, any channel count and sample rate.
    """
    path = Path(path)
    data = _read(path)
    if not data:
        raise AudioFormatError(f"{path}: empty file, expected a WAV recording")
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError(f"{path}: not a WAV file (no RIFF/WAVE header)")
    fmt, channels, file_rate, width, frames = _parse_wav(path, data)
    if not frames:
        raise AudioFormatError(f"{path}: WAV file holds no audio samples (truncated?)")
    if fmt == _WAVE_FORMAT_MULAW:
        pcm = audioop.ulaw2lin(frames, 2)
    elif fmt == _WAVE_FORMAT_ALAW:
        pcm = alaw_to_pcm(frames)
    else:
        if width == 1:
            frames = audioop.bias(frames, 1, -128)  # 8-bit WAV samples are unsigned
        pcm = audioop.lin2lin(frames, width, 2) if width != 2 else frames
    samples = np.frombuffer(pcm, dtype="<i2")
    if channels > 1:
        usable = len(samples) - len(samples) % channels
        samples = samples[:usable].reshape(-1, channels).astype(np.float32).mean(axis=1)
    audio = Audio(np.asarray(samples).astype("<i2").tobytes(), file_rate)
    return resample(audio, rate) if rate else audio


def alaw_to_pcm(codes: bytes) -> bytes:
    """G.711 A-law bytes to 16-bit little-endian PCM (ITU-T G.711, the 13-bit values scaled by 8)."""
    return _ALAW_TABLE[np.frombuffer(codes, dtype=np.uint8)].tobytes()


def _alaw_table() -> np.ndarray:
    code = np.arange(256) ^ 0x55  # even bits are inverted on the line
    exponent, mantissa = (code >> 4) & 0x7, code & 0xF
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8,
                         ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(code & 0x80, magnitude, -magnitude).astype("<i2")


_ALAW_TABLE = _alaw_table()


def _read(path: Path) -> bytes:
    """The file's bytes, or a one-line error saying what `path` is instead of a readable file."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise AudioFormatError(f"{path}: is a directory, expected a WAV file")
        if not stat.S_ISREG(mode):
            raise AudioFormatError(f"{path}: is not a regular file, expected a WAV file")
        return path.read_bytes()
    except FileNotFoundError:
        raise AudioFormatError(f"{path}: no such file") from None
    except OSError as error:
        raise AudioFormatError(f"{path}: cannot read it ({error.strerror})") from None


def _parse_wav(path: Path, data: bytes) -> tuple[int, int, int, int, bytes]:
    """Walk the RIFF chunks ourselves: the `wave` module refuses μ-law and extensible headers."""
    pos, fmt_chunk, frames = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            fmt_chunk = body
        elif cid == b"data":
            if len(body) < size:
                raise AudioFormatError(f"{path}: WAV file is truncated: its data chunk says {size} bytes, "
                                       f"the file holds {len(body)}")
            frames = body
            break
        pos += 8 + size + (size & 1)
    if fmt_chunk is None or len(fmt_chunk) < 16:
        raise AudioFormatError(f"{path}: WAV header is missing its format chunk (truncated?)")
    if frames is None:
        raise AudioFormatError(f"{path}: WAV file has no data chunk (truncated?)")
    fmt = int.from_bytes(fmt_chunk[0:2], "little")
    channels = int.from_bytes(fmt_chunk[2:4], "little")
    rate = int.from_bytes(fmt_chunk[4:8], "little")
    bits = int.from_bytes(fmt_chunk[14:16], "little")
    if fmt == _WAVE_FORMAT_EXTENSIBLE and len(fmt_chunk) >= 26:
        fmt = int.from_bytes(fmt_chunk[24:26], "little")
    if fmt not in (_WAVE_FORMAT_PCM, *_G711):
        raise AudioFormatError(
            f"{path}: unsupported WAV encoding (format tag {fmt}); use PCM, A-law or μ-law"
        )
    if channels < 1 or rate < 1000:
        raise AudioFormatError(f"{path}: bad WAV header ({channels} channels, {rate} Hz)")
    if bits not in (_PCM_BITS if fmt == _WAVE_FORMAT_PCM else (8,)):
        kind = "PCM" if fmt == _WAVE_FORMAT_PCM else "G.711"
        allowed = ", ".join(map(str, _PCM_BITS)) if fmt == _WAVE_FORMAT_PCM else "8"
        raise AudioFormatError(f"{path}: unsupported sample width of {bits} bits for {kind}; use {allowed}")
    width = bits // 8
    block = width * channels
    return fmt, channels, rate, width, frames[: len(frames) - len(frames) % block]


def resample(audio: Audio, rate: int) -> Audio:
    if audio.sample_rate == rate:
        return audio
    g = gcd(audio.sample_rate, rate)
    samples = np.frombuffer(audio.pcm, dtype="<i2").astype(np.float32)
    from scipy.signal import resample_poly  # here: scipy.signal takes ~1 s to load, which commands without audio skip

    out = resample_poly(samples, rate // g, audio.sample_rate // g)
    return Audio(np.clip(out, -32768, 32767).astype("<i2").tobytes(), rate)


def write_wav(path: str | Path, audio: Audio) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.sample_rate)
        w.writeframes(audio.pcm)


def chunks(audio: Audio, ms: int) -> Iterator[tuple[float, bytes]]:
    """Split into `ms`-long pieces with their start time (the last one may be shorter)."""
    size = audio.sample_rate * ms // 1000 * 2
    for start in range(0, len(audio.pcm), size):
        yield start / 2 / audio.sample_rate, audio.pcm[start : start + size]


def to_float(pcm: bytes) -> np.ndarray:
    """16-bit PCM to float32 in [-1, 1], as the ASR engines want it."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def check_stream_rate(rate: int) -> None:
    if rate not in STREAM_RATES:
        raise AudioFormatError(f"stream sample rate {rate} Hz is not supported; use 8000 or 16000")
