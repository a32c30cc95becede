"""The files in nlu_data/ read the way Rasa 3.6 reads them, with the file and line of every entry.

An `nlu:` item is an intent, synonym, regex or lookup with an `examples: |` block of `- text` lines
(an intent may also list `- text: ...` mappings). An example annotates entities as `[text](entity)`,
`[text](entity:value)`, `[text]{"entity": ..., "value": ...}` or `[text][{...}, {...}]`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.errors import DataFileError
from domain.yamlfile import LineMap, file_error, load_yaml

_KEYS = {
    "intent": frozenset({"intent", "examples", "metadata"}),
    "synonym": frozenset({"synonym", "examples"}),
    "regex": frozenset({"regex", "examples"}),
    "lookup": frozenset({"lookup", "examples"}),
}
KINDS = tuple(_KEYS)
_STRIP = "\n\r "  # what Rasa strips from an example (not every kind of space)
_ANNOTATION = re.compile(  # Rasa's ENTITY_REGEX (rasa/shared/nlu/training_data/entities_parser.py)
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|\{(?P<dict>[^}]+?)\}|\[(?P<dicts>.*?)\])"
)
_ENTITY_DICT = re.compile(r"\{([^}]+?)\}")
_UNCLOSED = re.compile(r"\[[^\]]+\][({\[]")  # the start of an annotation _ANNOTATION did not match


@dataclass(frozen=True)
class Place:
    path: Path  # as shown to the user: relative to the project root
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Entry:
    """One example of an item: the text after `- `, annotation markup and all."""

    text: str
    place: Place


@dataclass(frozen=True)
class Item:
    kind: str  # one of KINDS
    name: str
    place: Place
    entries: tuple[Entry, ...]
    skipped: tuple[Place, ...]  # block lines Rasa skips: not `- text`


@dataclass(frozen=True)
class Entity:
    name: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Example:
    intent: str
    text: str  # without annotation markup
    entities: tuple[Entity, ...]
    place: Place


def data_files(nlu_dir: Path) -> list[Path]:
    """The YAML files of an nlu_data folder, in the order they are read."""
    return sorted(p for p in nlu_dir.rglob("*.yml") if p.is_file())


def read_items(path: Path, shown: Path) -> list[Item]:
    """The file's `nlu:` items; DataFileError (with `shown` and a line) where Rasa would fail."""
    try:
        data = load_yaml(path)
    except DataFileError as error:
        raise DataFileError(error.problem, shown, error.line) from error
    if data is None:
        return []
    if not isinstance(data, LineMap):
        raise file_error(shown, 1, "expected a mapping with an `nlu:` list")
    if not isinstance(data.get("version", ""), str):
        raise file_error(shown, data.line_of("version"), 'the version must be text: version: "3.1"')
    items = data.get("nlu")
    if items is None:
        return []
    if not isinstance(items, list):
        raise file_error(shown, data.line_of("nlu"), "`nlu:` must be a list of items")
    return [_item(item, shown, data.line_of("nlu")) for item in items]


def _item(item: Any, shown: Path, nlu_line: int) -> Item:
    if not isinstance(item, LineMap):
        raise file_error(shown, nlu_line, f"an `nlu:` item must be a mapping, not {item!r}")
    kind = next((k for k in KINDS if k in item), None)
    if kind is None:
        raise file_error(shown, item.line, f"an `nlu:` item needs one of the keys {', '.join(KINDS)}")
    for key in item:
        if key not in _KEYS[kind]:
            raise file_error(shown, item.line_of(key), f"{kind} item: unknown key {key!r}")
    name = item[kind]
    if not isinstance(name, str) or not name:
        raise file_error(shown, item.line_of(kind), f"the {kind} name must be text (quote numbers)")
    entries, skipped = _entries(item, kind, shown)
    return Item(kind, name, Place(shown, item.line_of(kind)), entries, skipped)


def _entries(item: LineMap, kind: str, shown: Path) -> tuple[tuple[Entry, ...], tuple[Place, ...]]:
    examples = item.get("examples")
    line = item.line_of("examples")
    if examples is None:
        return (), ()
    if kind == "intent" and isinstance(examples, list):
        return tuple(_listed(example, shown, line) for example in examples), ()
    if not isinstance(examples, str):
        raise file_error(shown, line, "`examples:` must be a block of `- text` lines (examples: |)")
    entries, skipped = [], []
    first = item.block_line("examples")  # None: not a `|` block, so its lines are not the file's
    for offset, text in enumerate(examples.splitlines()):
        place = Place(shown, first + offset if first else line)
        if text.startswith("-") and text[1:].strip(_STRIP):
            entries.append(Entry(text[1:].strip(_STRIP), place))
        elif text.strip():
            skipped.append(place)
    return tuple(entries), tuple(skipped)


def _listed(example: Any, shown: Path, line: int) -> Entry:
    if not isinstance(example, LineMap) or not isinstance(example.get("text"), str):
        raise file_error(shown, getattr(example, "line", line), "a listed example must be `- text: ...`")
    for key in example:
        if key not in ("text", "metadata"):
            raise file_error(shown, example.line_of(key), f"listed example: unknown key {key!r}")
    return Entry(example["text"].strip(_STRIP), Place(shown, example.line_of("text")))


def parse_example(intent: str, entry: Entry) -> Example:
    """The example's plain text and entities; ValueError for an annotation Rasa cannot read."""
    plain: list[str] = []
    entities: list[Entity] = []
    written = entry.text
    end = 0
    for match in _ANNOTATION.finditer(written):
        _check_plain(written[end:match.start()])
        plain.append(written[end:match.start()])
        start = sum(map(len, plain))
        text = match["text"]
        if match["entity"]:
            entities.append(Entity(match["entity"], match["value"] or text, start, start + len(text)))
        else:
            dicts = [match["dict"]] if match["dict"] else _ENTITY_DICT.findall(match["dicts"])
            entities += [_entity(d, text, start) for d in dicts]
        plain.append(text)
        end = match.end()
    _check_plain(written[end:])
    plain.append(written[end:])
    return Example(intent, "".join(plain), tuple(entities), entry.place)


def _check_plain(text: str) -> None:
    """Rasa keeps an annotation it cannot match as plain text, brackets and all: `[两百](quantity`."""
    unclosed = _UNCLOSED.search(text)
    if unclosed:
        raise ValueError(f"annotation {text[unclosed.start():]!r} is not closed: "
                         "write [text](entity), [text]{\"entity\": ...} or [text][{...}]")


def _entity(written: str, text: str, start: int) -> Entity:
    try:
        fields = json.loads(f"{{{written}}}")
    except json.JSONDecodeError as error:
        raise ValueError(f"entity annotation {{{written}}} is not JSON: {error.msg}") from error
    name, value = fields.get("entity"), fields.get("value", text)
    texts = all(isinstance(fields.get(key, ""), str) for key in ("role", "group"))
    if not isinstance(name, str) or not name or not texts or not isinstance(value, (str, int, float)):
        raise ValueError(f"entity annotation {{{written}}} needs \"entity\" (text) and, if given, "
                         "\"value\" (text or a number), \"role\" and \"group\" (text)")
    return Entity(name, str(value), start, start + len(text))
