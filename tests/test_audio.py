"""Reading WAV files of every PCM layout callers send, and refusing the rest with a clear error."""
from __future__ import annotations

import audioop
import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.core.audio import (
    Audio,
    alaw_to_pcm,
    check_stream_rate,
    chunks,
    read_wav,
    resample,
    to_float,
    write_wav,
)
from assistant.core.errors import AudioFormatError
from domain.config import load_config

SPEECH_DIR = load_config().models_dir / "speech"
RECORDING = SPEECH_DIR / "IT0011W0001.wav"  # 16 kHz mono 16-bit, about 2 s of Mandarin

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")


def samples(audio: Audio) -> np.ndarray:
    return np.frombuffer(audio.pcm, dtype="<i2").astype(np.float64)


def original() -> np.ndarray:
    with wave.open(str(RECORDING), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def write_raw_wav(path: Path, frames: bytes, channels: int, rate: int, width: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def sine(freq: float, rate: int, seconds: float, amplitude: float = 10000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def peak_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def sox(*args: str | Path) -> None:
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True)


# --- 16-bit mono at the stream rate ---------------------------------------------------------------


def test_real_recording_reads_unchanged() -> None:
    audio = read_wav(RECORDING)
    assert audio.sample_rate == 16000
    assert np.array_equal(samples(audio), original())
    assert audio.seconds == pytest.approx(len(original()) / 16000)
    assert read_wav(RECORDING, 16000) == audio


def test_write_read_roundtrip(tmp_path: Path) -> None:
    pcm = original().tobytes()
    write_wav(tmp_path / "copy.wav", Audio(pcm, 16000))
    back = read_wav(tmp_path / "copy.wav")
    assert back == Audio(pcm, 16000)
    with wave.open(str(tmp_path / "copy.wav"), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)


def test_resample_to_8k_keeps_duration_and_pitch(tmp_path: Path) -> None:
    tone = sine(440.0, 16000, 1.0).astype("<i2")
    path = write_raw_wav(tmp_path / "tone.wav", tone.tobytes(), 1, 16000, 2)
    audio = read_wav(path, 8000)
    assert audio.sample_rate == 8000
    assert len(audio.pcm) // 2 == 8000
    assert peak_frequency(samples(audio), 8000) == pytest.approx(440.0, abs=2)


# --- 44.1 kHz stereo --------------------------------------------------------------------------------


def interleave(left: np.ndarray, right: np.ndarray) -> bytes:
    return np.clip(np.stack([left, right], axis=1), -32768, 32767).astype("<i2").tobytes()


def test_stereo_44k_sine_downmixed_and_resampled(tmp_path: Path) -> None:
    tone = sine(1000.0, 44100, 2.0)
    path = write_raw_wav(tmp_path / "tone.wav", interleave(tone, tone), 2, 44100, 2)
    audio = read_wav(path, 16000)
    x = samples(audio)
    assert audio.sample_rate == 16000
    assert abs(len(x) / 16000 - 2.0) <= 0.01  # duration kept within a 10 ms frame
    assert peak_frequency(x, 16000) == pytest.approx(1000.0, abs=2)
    # same channel twice: the average is the tone itself, at full level
    assert np.sqrt((x[1000:-1000] ** 2).mean()) == pytest.approx(10000 / np.sqrt(2), rel=0.02)


def test_stereo_opposite_phases_cancel(tmp_path: Path) -> None:
    tone = sine(440.0, 44100, 1.0)
    path = write_raw_wav(tmp_path / "antiphase.wav", interleave(tone, -tone), 2, 44100, 2)
    x = samples(read_wav(path, 16000))
    assert np.abs(x).max() <= 2  # L + R = 0: nothing left, not one channel, not the sum


def test_stereo_different_signals_are_averaged(tmp_path: Path) -> None:
    speech16 = original().astype(np.float64)
    speech44 = samples(resample(Audio(original().tobytes(), 16000), 44100))
    seconds = len(speech44) / 44100
    tone44 = sine(3000.0, 44100, seconds, amplitude=4000.0)[: len(speech44)]
    path = write_raw_wav(tmp_path / "mixed.wav", interleave(speech44, tone44), 2, 44100, 2)
    x = samples(read_wav(path, 16000))
    assert abs(len(x) - len(speech16)) <= 16000 // 100
    expected = (speech16 + sine(3000.0, 16000, len(speech16) / 16000, amplitude=4000.0)[: len(speech16)]) / 2
    assert correlation(x, expected) > 0.99
    gain = np.dot(x[: len(expected)], expected[: len(x)]) / np.dot(expected, expected)
    assert gain == pytest.approx(1.0, abs=0.03)  # the mean of both channels, not their sum


@needs_sox
def test_stereo_44k_from_sox_matches_the_recording(tmp_path: Path) -> None:
    path = tmp_path / "stereo44.wav"
    sox(RECORDING, "-r", "44100", "-c", "2", path)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getframerate()) == (2, 44100)
    x = samples(read_wav(path, 16000))
    assert abs(len(x) - len(original())) <= 16000 // 100
    assert correlation(x, original().astype(np.float64)) > 0.995


# --- other sample widths and μ-law ---------------------------------------------------------------------


def test_8_bit_unsigned_pcm(tmp_path: Path) -> None:
    x = original()
    unsigned = ((x.astype(np.int32) >> 8) + 128).astype(np.uint8)  # 8-bit WAV samples are unsigned
    path = write_raw_wav(tmp_path / "u8.wav", unsigned.tobytes(), 1, 16000, 1)
    expected = (x.astype(np.int32) >> 8) << 8
    assert np.array_equal(samples(read_wav(path)), expected)


def test_24_bit_pcm(tmp_path: Path) -> None:
    x = original().astype(np.int32) * 256 + 0x5A  # low byte set: it must be dropped, not wrapped
    raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in x)
    path = write_raw_wav(tmp_path / "s24.wav", raw, 1, 16000, 3)
    assert np.array_equal(samples(read_wav(path)), original())


def test_32_bit_pcm(tmp_path: Path) -> None:
    x = original().astype("<i4") * 65536 + 0x1234
    path = write_raw_wav(tmp_path / "s32.wav", x.tobytes(), 1, 16000, 4)
    assert np.array_equal(samples(read_wav(path)), original())


@needs_sox
@pytest.mark.parametrize(("args", "max_error", "min_correlation"), [
    (["-b", "8", "-e", "unsigned-integer"], 256, 0.97),  # a quiet recording loses much in 8 bits
    (["-b", "24"], 0, 0.999999),  # sox writes WAVE_FORMAT_EXTENSIBLE for these
    (["-b", "32"], 0, 0.999999),
])
def test_sox_written_widths(tmp_path: Path, args: list[str], max_error: int, min_correlation: float) -> None:
    path = tmp_path / "out.wav"
    sox(RECORDING, *args, "-D", path)  # -D: no dither, so the expected error is exact
    x = samples(read_wav(path))
    assert len(x) == len(original())
    assert np.abs(x - original()).max() <= max_error
    assert correlation(x, original().astype(np.float64)) > min_correlation


@needs_sox
def test_mu_law(tmp_path: Path) -> None:
    path = tmp_path / "mulaw.wav"
    sox(RECORDING, "-e", "mu-law", "-b", "8", "-D", path)
    with path.open("rb") as f:
        assert int.from_bytes(f.read(22)[20:22], "little") == 7  # WAVE_FORMAT_MULAW
    x = samples(read_wav(path))
    o = original().astype(np.float64)
    assert len(x) == len(o)
    # G.711 keeps about 4 significant bits per sample: a relative error, small near zero
    assert np.all(np.abs(x - o) <= np.abs(o) / 8 + 16)
    assert correlation(x, o) > 0.999


def test_mu_law_written_by_hand(tmp_path: Path) -> None:
    """A minimal μ-law header (format tag 7, 18-byte fmt chunk) as telephone systems write it."""
    encoded = audioop.lin2ulaw(original().tobytes(), 2)
    fmt = (7).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    fmt += (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little") + bytes(2)
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt
    body += b"fact" + (4).to_bytes(4, "little") + len(encoded).to_bytes(4, "little")
    body += b"data" + len(encoded).to_bytes(4, "little") + encoded
    path = tmp_path / "mulaw8k.wav"
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    audio = read_wav(path)
    assert audio.sample_rate == 8000
    assert audio.pcm == audioop.ulaw2lin(encoded, 2)


def g711_wav(path: Path, tag: int, encoded: bytes, rate: int = 8000) -> Path:
    """A minimal G.711 header (18-byte fmt chunk, a fact chunk) as telephone systems write it."""
    fmt = tag.to_bytes(2, "little") + (1).to_bytes(2, "little") + rate.to_bytes(4, "little")
    fmt += rate.to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little") + bytes(2)
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt
    body += b"fact" + (4).to_bytes(4, "little") + len(encoded).to_bytes(4, "little")
    body += b"data" + len(encoded).to_bytes(4, "little") + encoded
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    return path


@pytest.mark.parametrize("code, value", [
    (0xD5, 8), (0x55, -8),  # the two codes nearest zero (the line's idle pattern is 0xD5)
    (0xAA, 32256), (0x2A, -32256),  # the largest magnitude, 4032 in G.711's 13-bit units
    (0x80, 5504), (0x00, -5504), (0xD4, 24), (0xC5, 264), (0xE5, 1056), (0xF5, 528), (0xA5, 16896),
])
def test_a_law_codes_decode_to_the_g711_values(code: int, value: int) -> None:
    assert np.frombuffer(alaw_to_pcm(bytes([code])), dtype="<i2")[0] == value


def test_a_law_decoding_agrees_with_the_reference_for_all_256_codes() -> None:
    every = bytes(range(256))
    assert alaw_to_pcm(every) == audioop.alaw2lin(every, 2)


def test_a_law_written_by_hand(tmp_path: Path) -> None:
    encoded = audioop.lin2alaw(original().tobytes(), 2)
    audio = read_wav(g711_wav(tmp_path / "alaw8k.wav", 6, encoded))
    assert audio.sample_rate == 8000
    assert audio.pcm == alaw_to_pcm(encoded)


@needs_sox
def test_a_law_from_sox_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "alaw.wav"
    sox(RECORDING, "-e", "a-law", "-D", path)  # no dither: the error is the quantisation alone
    with path.open("rb") as f:
        assert int.from_bytes(f.read(22)[20:22], "little") == 6  # WAVE_FORMAT_ALAW
    x = samples(read_wav(path))
    o = original().astype(np.float64)
    assert len(x) == len(o)
    assert np.all(np.abs(x - o) <= np.abs(o) / 32 + 16)  # 4 bits of mantissa; no zero level, steps of 16 near 0
    back = tmp_path / "back.wav"
    sox(path, "-e", "signed-integer", "-b", "16", back)  # sox's own decoding, sample for sample
    assert np.array_equal(x, samples(read_wav(back)))


@needs_sox
def test_telephone_mu_law_8k_read_at_16k(tmp_path: Path) -> None:
    path = tmp_path / "phone.wav"
    sox(RECORDING, "-r", "8000", "-e", "mu-law", "-b", "8", path)
    audio = read_wav(path, 16000)
    assert audio.sample_rate == 16000
    assert abs(len(audio.pcm) // 2 - len(original())) <= 16000 // 100
    assert correlation(samples(audio), original().astype(np.float64)) > 0.9


# --- refusals ----------------------------------------------------------------------------------------


def wav_bytes(tmp_path: Path) -> bytes:
    write_wav(tmp_path / "ok.wav", Audio(original().tobytes(), 16000))
    return (tmp_path / "ok.wav").read_bytes()


def assert_refused(path: Path, *words: str) -> None:
    with pytest.raises(AudioFormatError) as caught:
        read_wav(path)
    message = str(caught.value)
    assert str(path) in message, f"the message does not name the file: {message}"
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert "\n" not in message


def test_text_file_is_not_a_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("我想查一下余额\n", encoding="utf-8")
    assert_refused(path, "not a WAV file")


def test_mp3_is_not_a_wav(tmp_path: Path) -> None:
    path = tmp_path / "call.mp3"
    path.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + np.random.default_rng(0).bytes(4000))
    assert_refused(path, "not a WAV file")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert_refused(path, "empty file")


def test_missing_file(tmp_path: Path) -> None:
    assert_refused(tmp_path / "nowhere.wav", "no such file")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    assert_refused(tmp_path, "is a directory")


def test_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "pipe.wav"
    os.mkfifo(path)
    assert_refused(path, "is not a regular file")


@pytest.mark.parametrize("bits", [12, 4, 20, 0, 64])
def test_a_sample_width_that_is_not_whole_bytes_is_refused(tmp_path: Path, bits: int) -> None:
    data = bytearray(wav_bytes(tmp_path))
    data[34:36] = bits.to_bytes(2, "little")
    path = tmp_path / f"pcm{bits}.wav"
    path.write_bytes(bytes(data))
    assert_refused(path, f"unsupported sample width of {bits} bits", "PCM")


def test_a_g711_sample_width_other_than_8_bits_is_refused(tmp_path: Path) -> None:
    data = bytearray(g711_wav(tmp_path / "alaw.wav", 6, bytes(800)).read_bytes())
    data[34:36] = (16).to_bytes(2, "little")
    path = tmp_path / "alaw16.wav"
    path.write_bytes(bytes(data))
    assert_refused(path, "unsupported sample width of 16 bits", "G.711")


def test_zero_frame_wav(tmp_path: Path) -> None:
    path = write_raw_wav(tmp_path / "zero.wav", b"", 1, 16000, 2)
    assert path.stat().st_size == 44
    assert_refused(path, "no audio samples")


def test_truncated_after_the_header(tmp_path: Path) -> None:
    """The header promises two seconds but the data stops right after it: an error."""
    path = tmp_path / "cut.wav"
    path.write_bytes(wav_bytes(tmp_path)[:44])
    assert_refused(path, "truncated", "holds 0")


def test_truncated_inside_the_header(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    path.write_bytes(wav_bytes(tmp_path)[:30])
    assert_refused(path, "format chunk", "truncated")


def test_truncated_before_the_data_chunk(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    path.write_bytes(wav_bytes(tmp_path)[:36])  # RIFF + a whole fmt chunk, nothing after
    assert_refused(path, "no data chunk", "truncated")


def test_truncated_inside_the_data_is_reported(tmp_path: Path) -> None:
    """A recording cut short (a dropped upload) is not transcribed as if it were whole."""
    path = tmp_path / "cut.wav"
    whole = wav_bytes(tmp_path)
    path.write_bytes(whole[: 44 + 16000 + 1])  # half a second and one stray byte
    assert_refused(path, "truncated", f"says {len(whole) - 44} bytes", "holds 16001")


def test_a_stray_byte_after_the_last_whole_sample_is_dropped(tmp_path: Path) -> None:
    data = bytearray(wav_bytes(tmp_path)[: 44 + 16001])
    data[40:44] = (16001).to_bytes(4, "little")  # a data chunk of half a second and one byte
    path = tmp_path / "odd.wav"
    path.write_bytes(bytes(data))
    assert np.array_equal(samples(read_wav(path)), original()[:8000])


def test_float_wav_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "float.wav"
    data = (original().astype("<f4") / 32768).tobytes()
    fmt = (3).to_bytes(2, "little") + (1).to_bytes(2, "little") + (16000).to_bytes(4, "little")
    fmt += (64000).to_bytes(4, "little") + (4).to_bytes(2, "little") + (32).to_bytes(2, "little")
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt + b"data" + len(data).to_bytes(4, "little") + data
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    assert_refused(path, "unsupported WAV encoding", "format tag 3", "PCM", "A-law")


@needs_sox
def test_float_wav_from_sox_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "float.wav"
    sox(RECORDING, "-e", "floating-point", "-b", "32", path)
    assert_refused(path, "unsupported WAV encoding")


def test_zero_channels_is_a_bad_header(tmp_path: Path) -> None:
    data = bytearray(wav_bytes(tmp_path))
    data[22:24] = (0).to_bytes(2, "little")
    path = tmp_path / "nochannels.wav"
    path.write_bytes(bytes(data))
    assert_refused(path, "bad WAV header", "0 channels")


# --- stream rates, chunking, floats -----------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000])
def test_stream_rates_accepted(rate: int) -> None:
    check_stream_rate(rate)


@pytest.mark.parametrize("rate", [44100, 48000, 11025])
def test_other_stream_rates_refused(rate: int) -> None:
    with pytest.raises(AudioFormatError) as caught:
        check_stream_rate(rate)
    message = str(caught.value)
    assert f"{rate} Hz" in message and "8000" in message and "16000" in message


@pytest.mark.parametrize(("rate", "ms"), [(16000, 30), (8000, 20), (8000, 30), (16000, 10)])
def test_chunks_timing(rate: int, ms: int) -> None:
    n = int(rate * 1.005)  # one second and 5 ms: the last chunk is short
    pcm = np.arange(n, dtype="<i2").tobytes()
    pieces = list(chunks(Audio(pcm, rate), ms))
    size = rate * ms // 1000
    assert len(pieces) == -(-n // size)
    for i, (t, piece) in enumerate(pieces[:-1]):
        assert t == pytest.approx(i * ms / 1000)
        assert len(piece) == 2 * size
        # each chunk starts at the sample its time says
        assert np.frombuffer(piece, dtype="<i2")[0] == int(round(t * rate))
    assert 0 < len(pieces[-1][1]) < 2 * size
    assert b"".join(p for _, p in pieces) == pcm


def test_to_float_range() -> None:
    x = to_float(np.array([-32768, 0, 16384, 32767], dtype="<i2").tobytes())
    assert x.dtype == np.float32
    assert x.tolist() == pytest.approx([-1.0, 0.0, 0.5, 32767 / 32768])
