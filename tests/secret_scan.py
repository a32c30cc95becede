"""After the whole test run: no PIN and no full card or account number anywhere the run wrote down.

Looked at: every log, report and JSON/HTML/TSV file and every SQLite database under var/ and under
the run's temporary folders, except the sandbox bank's own master data (customers, accounts, cards,
payees, bill accounts: a bank keeps its customers' numbers) and the trained models. The secrets are
the seeded customers' PINs and card/account numbers, and every PIN a test registers with `remember`,
in any form they could be written in: grouped by spaces, dashes or dots, in full-width digits, in
Chinese numerals read digit by digit, or \\u-escaped in JSON. The reading is done here, apart from the
masking code it checks.

Every WAV file there (call recordings among them) is listened to for keypad tones: the keys heard in
each channel (Goertzel filters at the eight DTMF frequencies) are looked through like text, so a
recording in which a PIN's tones can be heard fails the run.
"""
from __future__ import annotations

import re
import sqlite3
import wave
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from domain.config import RUNTIME_DIR

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "adapters" / "sandbox" / "seed.yml"
_BANK_MASTER_DATA = {"customers", "accounts", "cards", "payees", "bill_accounts"}
_TEXT_SUFFIXES = {".log", ".json", ".jsonl", ".html"}  # what the assistant writes; not test inputs
_FULL_NUMBER_DIGITS = 12  # card and account numbers; shorter ones are phone numbers, ids, amounts

_AS_DIGITS = str.maketrans({**dict.fromkeys("零〇洞", "0"), **dict.fromkeys("一幺壹", "1"),
                             **dict.fromkeys("二两兩贰", "2"), "三": "3", "叁": "3", "四": "4", "肆": "4",
                             "五": "5", "伍": "5", "六": "6", "陆": "6", "七": "7", "柒": "7", "八": "8",
                             "捌": "8", "九": "9", "玖": "9", **{chr(0xFF10 + d): str(d) for d in range(10)}})
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_BETWEEN_DIGITS = re.compile("(?<=\\d)[ \t\u00a0\u3000\\-‐‑‒–—―－.．·・]{1,3}(?=\\d)")  # not across lines

_registered: set[str] = set()

_ROWS, _COLUMNS = (697, 770, 852, 941), (1209, 1336, 1477, 1633)  # Hz: a key is one of each
_KEYS = ("123A", "456B", "789C", "*0#D")
_TONE_BLOCK_S = 0.0256  # 205 samples at 8 kHz, the usual Goertzel block: bins narrower than the tones' spacing
_TONE_SHARE = 0.7  # of a block's energy in its strongest row and column tone: a key, not speech or noise
_QUIET = 30.0  # RMS (16-bit) below which a block is silence, whatever its spectrum


def remember(secret: str) -> None:
    """A PIN or number a test typed, to look for after the run."""
    _registered.add(secret)


def seeded_secrets() -> set[str]:
    seed = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    found: set[str] = set()

    def walk(node: object, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif key == "pin" or (isinstance(node, str) and node.isdigit() and len(node) >= _FULL_NUMBER_DIGITS):
            found.add(str(node))

    walk(seed)
    return found


def as_digits(text: str) -> str:
    """`text` with every digit as an ASCII digit and no separators between digits: a number written
    as 6222 0210 0112 1234, 6222-0210-0112-1234, ６２２２… or 六二二二… reads 6222021001121234."""
    text = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return _BETWEEN_DIGITS.sub("", text.translate(_AS_DIGITS))


def secrets_in(secrets: Iterable[str], text: str) -> set[str]:
    """The secrets written in `text`, in whatever form."""
    digits = as_digits(text)
    return {secret for secret in secrets if secret in text or secret in digits}


def dtmf_keys(samples: np.ndarray, rate: int) -> str:
    """The keys whose tones sound in `samples` (mono), in order: a key counts once it has held for two
    blocks, and again only after a pause or another key."""
    size = int(rate * _TONE_BLOCK_S)
    blocks = samples[: len(samples) // size * size].astype(np.float64).reshape(-1, size)
    if not len(blocks):
        return ""
    t = np.arange(size) / rate
    filters = np.exp(-2j * np.pi * np.outer(t, _ROWS + _COLUMNS))
    energy = np.maximum((blocks ** 2).sum(axis=1), 1e-9)
    share = 2 * np.abs(blocks @ filters) ** 2 / (size * energy[:, None])  # a pure tone's share is 1
    row, column = share[:, :4].argmax(axis=1), share[:, 4:].argmax(axis=1)
    strongest = share[np.arange(len(blocks)), row] + share[np.arange(len(blocks)), 4 + column]
    loud = np.sqrt(energy / size) > _QUIET
    found, last, held = [], None, 0
    for i in range(len(blocks)):
        key = _KEYS[row[i]][column[i]] if loud[i] and strongest[i] > _TONE_SHARE else None
        held = held + 1 if key is not None and key == last else 1
        if key is not None and held == 2:
            found.append(key)
        last = key
    return "".join(found)


def wav_keys(path: Path) -> list[str]:
    """The keys heard in each channel of a 16-bit WAV file (none if it is not one)."""
    try:
        with wave.open(str(path), "rb") as recording:
            if recording.getsampwidth() != 2:
                return []
            channels, rate = recording.getnchannels(), recording.getframerate()
            data = recording.readframes(recording.getnframes())
    except (wave.Error, EOFError):
        return []
    # a truncated file (a test's malformed input, a recording cut off) ends in part of a frame: scan the whole ones
    samples = np.frombuffer(data[: len(data) // (2 * channels) * 2 * channels], dtype="<i2")
    return [dtmf_keys(samples[channel::channels], rate) for channel in range(channels)]


def written_texts(folders: list[Path]) -> Iterator[tuple[str, str]]:
    """(where, text) for everything the run wrote that could hold a secret."""
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.suffix in _TEXT_SUFFIXES:
                yield str(path), path.read_text(encoding="utf-8", errors="replace")
            elif path.suffix in (".sqlite", ".db"):
                yield from _tables(path)
            elif path.suffix == ".wav":
                yield f"{path} (keypad tones)", "\n".join(wav_keys(path))


def _tables(path: Path) -> Iterator[tuple[str, str]]:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in names:
            if name not in _BANK_MASTER_DATA:
                rows = con.execute(f'SELECT * FROM "{name}"').fetchall()  # noqa: S608 (names from the file)
                yield f"{path}:{name}", "\n".join(map(repr, rows))
        con.close()
    except sqlite3.DatabaseError:
        return  # not a database after all, or one being written: nothing readable to scan


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus != 0 or session.testscollected == 0:
        return
    folders = [RUNTIME_DIR]
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        folders.append(factory.getbasetemp())
    secrets = seeded_secrets() | _registered
    leaks = [f"{where}: {secret}" for where, text in written_texts([f for f in folders if f.exists()])
             for secret in sorted(secrets_in(secrets, text))]
    if leaks:
        session.config.get_terminal_writer().line("secrets written down:\n" + "\n".join(leaks[:20]), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
