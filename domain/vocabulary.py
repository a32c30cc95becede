"""The domain vocabulary (stocks, currencies, bill types) read from the Rasa training files in nlu_data/.

Synonym blocks map every surface form to a canonical value (茅台 -> 600519, 美金 -> USD); the first
example of a block is the value's display name. Lookup tables list the surface forms of each entity.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from domain.nlu_data import data_files, read_items
from domain.yamlfile import file_error


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
        for path in data_files(nlu_dir):
            for item in read_items(path, path):
                if item.kind not in ("synonym", "lookup"):
                    continue
                if not item.entries:
                    raise file_error(path, item.place.line, f"{item.name!r} needs an `examples: |` block of `- text` lines")
                surfaces = [entry.text for entry in item.entries]
                if item.kind == "lookup":
                    lookups.setdefault(item.name, []).extend(surfaces)
                    continue
                names.setdefault(item.name, surfaces[0])
                for entry in item.entries:
                    if synonyms.setdefault(entry.text, item.name) != item.name:
                        raise file_error(path, entry.place.line, f"synonym {entry.text!r} maps to both "
                                                                 f"{synonyms[entry.text]} and {item.name}")
        return cls(synonyms, lookups, names)
