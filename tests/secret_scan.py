"""After the whole test run: no PIN and no full card or account number anywhere the run wrote down.

Looked at: every log, report and JSON/HTML/TSV file and every SQLite database under var/ and under
the run's temporary folders, except the sandbox bank's own master data (customers, accounts, cards,
payees, bill accounts: a bank keeps its customers' numbers) and the trained models. The secrets are
the seeded customers' PINs and card/account numbers, and every PIN a test registers with `remember`,
in any form they could be written in: grouped by spaces, dashes or dots, in full-width digits, in
Chinese numerals read digit by digit, or \\u-escaped in JSON. The reading is done here, apart from the
masking code it checks.
"""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

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


def written_texts(folders: list[Path]) -> Iterator[tuple[str, str]]:
    """(where, text) for everything the run wrote that could hold a secret."""
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.suffix in _TEXT_SUFFIXES:
                yield str(path), path.read_text(encoding="utf-8", errors="replace")
            elif path.suffix in (".sqlite", ".db"):
                yield from _tables(path)


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
