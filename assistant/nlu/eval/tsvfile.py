"""Tab-separated test sets: rows as dicts with their line numbers, problems as "<file>:<line>: <problem>"."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from assistant.core.errors import AssistantError


def read_tsv(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line, row) for every data row of a TSV file with a header naming at least `columns`."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise AssistantError(f"{path}: cannot read it ({error.strerror})") from error
    except UnicodeDecodeError as error:
        raise AssistantError(f"{path}: not UTF-8 text (bad byte at offset {error.start})") from error
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise AssistantError(f"{path}:1: the header needs the columns {', '.join(columns)} (missing {', '.join(missing)})")
    rows = []
    for row in reader:
        line = reader.line_num
        if any(row.get(c) is None for c in columns):
            raise AssistantError(f"{path}:{line}: expected {len(reader.fieldnames or [])} tab-separated columns")
        rows.append((line, row))
    return rows


def json_object(path: Path, line: int, column: str, text: str) -> dict[str, Any]:
    """A cell holding a JSON object (empty means {})."""
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise AssistantError(f"{path}:{line}: {column} is not valid JSON ({error.msg})") from error
    if not isinstance(value, dict):
        raise AssistantError(f"{path}:{line}: {column} must be a JSON object such as {{\"amount\": 500}}")
    return value
