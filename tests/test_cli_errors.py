"""The `assistant` command on bad input: one `error:` line naming the problem, exit 1, no traceback.

Each run is a real subprocess of the installed script. Commands that load Whisper or need the
resident NLU process take seconds (importing the engines alone is ~5 s here), so they are slow tests;
the errors caught before any engine loads are fast.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from domain.config import load_config

ASSISTANT = Path(sys.executable).with_name("assistant")
SPEECH_DIR = load_config().models_dir / "speech"
RECORDING = SPEECH_DIR / "IT0011W0001.wav"
HAN = re.compile(r"[\u4e00-\u9fff]")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(ASSISTANT), *map(str, args)], cwd=cwd, env=environment, capture_output=True, text=True,
        timeout=timeout,
    )


def assert_one_error(result: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 1, exactly one `error:` line holding every word, and no traceback anywhere."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == 1, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


@pytest.fixture()
def not_a_wav(tmp_path: Path) -> Path:
    path = tmp_path / "notes.wav"
    path.write_text("我想查一下余额\n", encoding="utf-8")
    return path


@pytest.fixture()
def truncated_wav(tmp_path: Path) -> Path:
    """The 44-byte header of a 2 s recording, cut off before any sample."""
    from assistant.core.audio import read_wav, write_wav

    whole = tmp_path / "whole.wav"
    write_wav(whole, read_wav(RECORDING))
    with wave.open(str(whole), "rb") as w:
        assert w.getnframes() > 0  # the header promises audio
    path = tmp_path / "cut.wav"
    path.write_bytes(whole.read_bytes()[:44])
    return path


@pytest.fixture()
def empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    return path


@pytest.fixture()
def stereo_44k(tmp_path: Path) -> Path:
    """The recording as a 44.1 kHz stereo WAV, made with the wave module (no sox needed)."""
    import numpy as np

    from assistant.core.audio import read_wav

    audio = read_wav(RECORDING, 44100)
    mono = np.frombuffer(audio.pcm, dtype="<i2")
    path = tmp_path / "stereo44.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(np.stack([mono, mono], axis=1).astype("<i2").tobytes())
    return path


# --- fast: refused before any engine loads -------------------------------------------------------------


def test_script_is_installed() -> None:
    assert ASSISTANT.is_file() and os.access(ASSISTANT, os.X_OK), ASSISTANT


def test_route_with_nothing(tmp_path: Path) -> None:
    assert_one_error(run("route", cwd=tmp_path), "nothing to route")


def test_route_wav_and_file_together(tmp_path: Path) -> None:
    assert_one_error(run("route", "--wav", "a.wav", "--file", "b.txt", cwd=tmp_path), "--file", "--wav")


def test_route_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "utterances.txt"
    assert_one_error(run("route", "--file", missing, cwd=tmp_path), str(missing), "No such file")


def test_route_file_is_a_directory(tmp_path: Path) -> None:
    assert_one_error(run("route", "--file", tmp_path, cwd=tmp_path), str(tmp_path))


def test_route_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes("我想查一下余额\n".encode("gbk"))
    assert_one_error(run("route", "--file", path, cwd=tmp_path), str(path), "UTF-8")


def test_unknown_command_has_no_traceback(tmp_path: Path) -> None:
    result = run("transcribe-all", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert "transcribe-all" in result.stderr


# --- slow: the Whisper model loads first ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("not_a_wav", ["not a WAV file"]),
        ("truncated_wav", ["truncated", "holds 0"]),
        ("empty_file", ["empty file"]),
    ],
)
def test_transcribe_bad_file(request: pytest.FixtureRequest, tmp_path: Path, case: str, words: list[str]) -> None:
    path: Path = request.getfixturevalue(case)
    result = run("transcribe", path, cwd=tmp_path)
    assert_one_error(result, str(path), *words)
    assert result.stdout == "\n"  # one (empty) line per file, so outputs stay aligned with inputs


@pytest.mark.slow
def test_transcribe_missing_model(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-whisper"
    result = run("transcribe", RECORDING, cwd=tmp_path, env={"WHISPER_MODEL": str(missing)})
    assert_one_error(result, str(missing), "WHISPER_MODEL", "does not exist")


@pytest.mark.slow
def test_transcribe_model_folder_without_model(tmp_path: Path) -> None:
    empty = tmp_path / "whisper"
    empty.mkdir()
    result = run("transcribe", RECORDING, cwd=tmp_path, env={"WHISPER_MODEL": str(empty)})
    assert_one_error(result, str(empty), "model.bin")


@pytest.mark.slow
def test_transcribe_44k_stereo(tmp_path: Path, stereo_44k: Path) -> None:
    result = run("transcribe", stereo_44k, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and HAN.search(lines[0]), result.stdout
    reference = "换一首歌"
    assert sum(ch in lines[0] for ch in reference) >= 3, f"heard {lines[0]!r}, said {reference!r}"


@pytest.mark.slow
def test_transcribe_good_and_bad_files_together(tmp_path: Path, not_a_wav: Path, empty_file: Path) -> None:
    """Bad files do not stop the good one; one output line per input, one error line per bad file."""
    result = run("transcribe", not_a_wav, RECORDING, empty_file, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output, output
    lines = result.stdout.split("\n")
    assert len(lines) == 4 and lines[3] == "", result.stdout
    assert lines[0] == "" and HAN.search(lines[1]) and lines[2] == "", result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and str(not_a_wav) in errors[0] and str(empty_file) in errors[1], result.stderr


# --- slow: route needs the resident NLU process ---------------------------------------------------------


@pytest.mark.slow
def test_route_wav_not_a_wav(tmp_path: Path, not_a_wav: Path) -> None:
    result = run("route", "--wav", not_a_wav, cwd=tmp_path)
    assert_one_error(result, str(not_a_wav), "not a WAV file")


@pytest.mark.slow
def test_route_wav_json_reports_the_error(tmp_path: Path, truncated_wav: Path) -> None:
    result = run("route", "--json", "--wav", truncated_wav, cwd=tmp_path)
    assert_one_error(result, str(truncated_wav), "truncated")
    import json

    record = json.loads(result.stdout)
    assert record["input"] == str(truncated_wav) and "truncated" in record["error"]


@pytest.mark.parametrize("folder, name", [("nlu_data", "banking.yml"), ("intents", "cards.yml")])
def test_broken_yaml_is_one_error_with_file_and_line(tmp_path: Path, folder: str, name: str) -> None:
    repo = Path(__file__).resolve().parents[1]
    for part in ("nlu_data", "intents"):
        shutil.copytree(repo / part, tmp_path / part)
    shutil.copy(repo / "config.yml", tmp_path / "config.yml")
    broken = tmp_path / folder / name
    lines = broken.read_text(encoding="utf-8").splitlines()
    lines.insert(5, "  - broken: [unclosed")
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("route", "你好", cwd=tmp_path, env={**os.environ, "ASSISTANT_CONFIG": str(tmp_path / "config.yml")})
    line = assert_one_error(result, name)
    assert re.search(rf"{re.escape(name)}:\d+", line)
