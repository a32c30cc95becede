"""The domain vocabulary (stocks, currencies, bill types) read from the Rasa training files in nlu_data/.

Synonym blocks map every surface form to a canonical value (茅台 -> 600519, 美金 -> USD); the first
example of a block is the value's display name. Lookup tables list the surface forms of each entity.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import DataFileError
from assistant.yamlfile import load_yaml


@dataclass
class Vocabulary:
    synonyms: dict[str, str]  # surface text -> canonical value
    lookups: dict[str, list[str]]  # lookup table name -> entries
    names: dict[str, str]  # canonical value -> display name

    def values_in(self, table: str) -> list[str]:
        """The canonical values lookup `table` names, each once, in file order."""
        return list(dict.fromkeys(self.synonyms.get(entry, entry) for entry in self.lookups.get(table, [])))

    def canonical(self, table: str, text: str) -> str | None:
        """The canonical value of `text` if it names something in lookup `table`, else None."""
        values = self.values_in(table)
        text = text.strip()
        value = self.synonyms.get(text, text)
        return value if value in values else None

    def display(self, value: str) -> str:
        return self.names.get(value, value)

    def names_in(self, table: str) -> list[str]:
        """Display names of the values in lookup `table`, in file order."""
        return [self.display(value) for value in self.values_in(table)]

    def terms(self) -> list[str]:
        """Every lookup table phrase, longest first (so a scan finds 中国平安 before 平安)."""
        unique = {entry for entries in self.lookups.values() for entry in entries}
        return sorted(unique, key=lambda term: (-len(term), term))

    @classmethod
    def load(cls, nlu_dir: Path) -> Vocabulary:
        synonyms: dict[str, str] = {}
        lookups: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        for path in sorted(nlu_dir.rglob("*.yml")):
            for item in _nlu_items(path):
                if "synonym" in item:
                    value = str(item["synonym"])
                    surfaces = _examples(path, item)
                    names.setdefault(value, surfaces[0])
                    for surface in surfaces:
                        if synonyms.setdefault(surface, value) != value:
                            raise DataFileError(
                                f"{path}: synonym {surface!r} maps to both {synonyms[surface]} and {value}"
                            )
                elif "lookup" in item:
                    lookups.setdefault(str(item["lookup"]), []).extend(_examples(path, item))
        return cls(synonyms, lookups, names)


def _nlu_items(path: Path) -> list[dict[str, Any]]:
    data = load_yaml(path) or {}
    items = data.get("nlu", []) if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise DataFileError(f"{path}:1: expected a mapping whose `nlu` key holds a list of items")
    return items


def _examples(path: Path, item: dict[str, Any]) -> list[str]:
    """The entries of an item's `examples: |` block, one `- text` line each."""
    block = item.get("examples")
    name = item.get("synonym", item.get("lookup"))
    entries = [line.strip()[1:].strip() for line in str(block or "").splitlines() if line.strip().startswith("-")]
    if not isinstance(block, str) or not entries:
        raise DataFileError(f"{path}: {name!r} needs an `examples: |` block of `- text` lines")
    return entries
