"""The function catalog: what callers can ask for, read from the YAML files in `intents/`.

Each function replaces one key-press menu path, so adding a function means editing YAML, not code.
Every `*.yml` file except `dialogue.yml` holds `functions:`; `dialogue.yml` holds `replies:`, the
answers to intents that are not functions (greet, goodbye, ...) plus two that must exist:
`nlu_fallback` (the reprompt) and `unknown_intent` (an intent no file knows).

Templates (opening, confirm) use a small language: `{slot}` is the slot's display value and a
`[...]` section is said only when every slot directly inside it has a value. Sections nest, and
a nested section is optional on its own: "好的，[买入{stock}[{quantity}股]。]".
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import DataFileError
from assistant.yamlfile import LineMap, file_error, load_yaml

SLOT_TYPES = frozenset({
    "amount", "quantity", "price", "stock", "currency", "bill_type", "payee", "phone_number",
    "when", "text",
})
DIALOGUE_FILE = "dialogue.yml"
FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"  # an NLU intent for requests we do not serve; reported as FALLBACK
UNKNOWN_INTENT = "unknown_intent"

_FUNCTION_KEYS = frozenset({
    "intents", "title", "menu", "verify", "slots", "opening", "confirm", "action",
})
_SLOT_KEYS = frozenset({"type", "required", "prompt"})


@dataclass(frozen=True)
class SlotSpec:
    name: str
    type: str
    required: bool
    prompt: str


@dataclass(frozen=True)
class FunctionSpec:
    id: str
    title: str
    intents: tuple[str, ...]
    slots: tuple[SlotSpec, ...]  # in file order, which is the order they are asked for
    opening: str
    confirm: str | None  # None: nothing to confirm (queries, transfer to an agent)
    action: str | None  # the back-end adapter action that carries it out
    verify: bool  # the caller must be verified first
    menu: tuple[str, ...]  # the key-press menu path this function replaces


class Catalog:
    def __init__(self, functions: dict[str, FunctionSpec], replies: dict[str, str]) -> None:
        self.functions = functions
        self.replies = replies
        self._by_intent = {
            intent: function for function in functions.values() for intent in function.intents
        }

    def function_for(self, intent: str) -> FunctionSpec | None:
        return self._by_intent.get(intent)

    def vocabulary(self) -> list[str]:
        """Titles and menu words, each once: phrases for ASR biasing and pinyin repair."""
        phrases = (p for f in self.functions.values() for p in (f.title, *f.menu))
        return list(dict.fromkeys(phrases))

    @classmethod
    def load(cls, directory: Path) -> Catalog:
        functions: dict[str, FunctionSpec] = {}
        claimed: dict[str, tuple[str, str]] = {}  # intent -> (function id, "file:line")
        paths = sorted(p for p in directory.glob("*.yml") if p.name != DIALOGUE_FILE)
        if not paths:
            raise DataFileError(f"{directory}: no function files (*.yml)")
        for path in paths:
            for function, id_line, intents_line in _read_functions(path):
                if function.id in functions:
                    raise file_error(path, id_line, f"function '{function.id}' is defined twice")
                functions[function.id] = function
                for intent in function.intents:
                    if intent in claimed:
                        owner, where = claimed[intent]
                        raise file_error(path, intents_line, f"intent '{intent}' is already "
                                                             f"claimed by function '{owner}' ({where})")
                    claimed[intent] = (function.id, f"{path}:{intents_line}")
        replies = _read_replies(directory / DIALOGUE_FILE, claimed)
        return cls(functions, replies)


def render(template: str, values: dict[str, str]) -> str:
    """Fill `template`; KeyError if a slot outside every [...] section has no value."""
    return _render(_parse(template), values)


@dataclass(frozen=True)
class _Slot:
    name: str


@dataclass(frozen=True)
class _Section:
    parts: tuple[_Part, ...]


_Part = str | _Slot | _Section


_TOKEN = re.compile(r"\{(\w+)\}|[^{}\[\]]+|.")


def _parse(template: str) -> tuple[_Part, ...]:
    """ValueError if brackets or braces do not match."""
    open_sections: list[list[_Part]] = [[]]
    for match in _TOKEN.finditer(template):
        token = match.group()
        if match.group(1):
            open_sections[-1].append(_Slot(match.group(1)))
        elif token == "[":
            open_sections.append([])
        elif token == "]":
            if len(open_sections) == 1:
                raise ValueError("']' without '['")
            parts = open_sections.pop()
            open_sections[-1].append(_Section(tuple(parts)))
        elif token in ("{", "}"):
            raise ValueError(f"stray '{token}' (a slot is written {{name}})")
        else:
            open_sections[-1].append(token)
    if len(open_sections) > 1:
        raise ValueError("'[' without ']'")
    return tuple(open_sections[0])


def _render(parts: tuple[_Part, ...], values: dict[str, str]) -> str:
    said = []
    for part in parts:
        if isinstance(part, _Section):
            try:
                said.append(_render(part.parts, values))
            except KeyError:
                pass  # a slot of this section has no value: the section is left out
        elif isinstance(part, _Slot):
            said.append(values[part.name])
        else:
            said.append(part)
    return "".join(said)


def _slot_names(parts: tuple[_Part, ...],
                in_section: bool = False) -> Iterator[tuple[str, bool]]:
    """(slot name, whether it sits inside a [...] section) for every slot in the template."""
    for part in parts:
        if isinstance(part, _Section):
            yield from _slot_names(part.parts, True)
        elif isinstance(part, _Slot):
            yield part.name, in_section


class _Fields:
    """Typed access to one YAML mapping, with file:line errors."""

    def __init__(self, path: Path, mapping: Any, line: int, what: str, allowed: frozenset[str]):
        if not isinstance(mapping, LineMap):
            raise file_error(path, line, f"{what} must be a mapping")
        for key in mapping:
            if key not in allowed:
                raise file_error(path, mapping.line_of(key), f"{what}: unknown key {key!r}")
        self.path, self.mapping, self.line, self.what = path, mapping, line, what

    def error(self, key: str, problem: str) -> DataFileError:
        return file_error(self.path, self.mapping.line_of(key), f"{self.what}: {problem}")

    def get(self, key: str, kind: type, default: Any = ...) -> Any:
        """The value of `key` (a non-empty str, a bool, a list of words or a mapping).

        Without a default the key is required; null counts as absent.
        """
        value = self.mapping.get(key)
        if value is None:
            if default is ...:
                raise file_error(self.path, self.line, f"{self.what}: missing '{key}'")
            return default
        if kind is list:
            ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        else:
            ok = isinstance(value, kind) and value != ""
        if not ok:
            expected = {str: "text", bool: "true or false", list: "a list of words",
                        LineMap: "a mapping"}[kind]
            raise self.error(key, f"'{key}' must be {expected}")
        return value


def _top_level(path: Path, section: str) -> tuple[LineMap, int]:
    fields = _Fields(path, load_yaml(path), 1, path.name, frozenset({section}))
    return fields.get(section, LineMap), fields.mapping.line_of(section)


def _read_functions(path: Path) -> Iterator[tuple[FunctionSpec, int, int]]:
    """The file's functions, each with the line of its id and the line of its intents."""
    specs, _ = _top_level(path, "functions")
    for fid, spec in specs.items():
        function = _read_function(path, str(fid), spec, specs.line_of(fid))
        yield function, specs.line_of(fid), spec.line_of("intents")


def _read_function(path: Path, fid: str, spec: Any, line: int) -> FunctionSpec:
    fields = _Fields(path, spec, line, f"function '{fid}'", _FUNCTION_KEYS)
    slot_specs = fields.get("slots", LineMap, LineMap())
    slots = tuple(_read_slot(path, fid, str(name), slot, slot_specs.line_of(name))
                  for name, slot in slot_specs.items())
    function = FunctionSpec(
        id=fid,
        title=fields.get("title", str),
        intents=tuple(fields.get("intents", list)),
        slots=slots,
        opening=fields.get("opening", str),
        confirm=fields.get("confirm", str, None),
        action=fields.get("action", str, None),
        verify=fields.get("verify", bool, False),
        menu=tuple(fields.get("menu", list, [])),
    )
    if not function.intents:
        raise fields.error("intents", "'intents' must name at least one intent")
    required = {slot.name: slot.required for slot in slots}
    _check_template(fields, "opening", set(required), may_miss=set(required))
    if function.confirm is not None:
        _check_template(fields, "confirm", set(required),
                        may_miss={name for name, needed in required.items() if not needed})
    return function


def _read_slot(path: Path, fid: str, name: str, spec: Any, line: int) -> SlotSpec:
    fields = _Fields(path, spec, line, f"function '{fid}' slot '{name}'", _SLOT_KEYS)
    if not name.isidentifier():
        raise file_error(path, line, f"function '{fid}': slot name '{name}' must be a word "
                                     "(letters, digits, _)")
    slot = SlotSpec(name=name, type=fields.get("type", str),
                    required=fields.get("required", bool, False), prompt=fields.get("prompt", str))
    if slot.type not in SLOT_TYPES:
        raise fields.error("type", f"unknown type '{slot.type}' "
                                   f"(known: {', '.join(sorted(SLOT_TYPES))})")
    return slot


def _check_template(fields: _Fields, key: str, slots: set[str], may_miss: set[str]) -> None:
    """Every slot named exists, and those that may have no value when it is said sit in [...]."""
    try:
        parts = _parse(fields.mapping[key])
    except ValueError as error:
        raise fields.error(key, f"{key}: {error}") from error
    for name, in_section in _slot_names(parts):
        if name not in slots:
            raise fields.error(key, f"{key} names slot '{name}', which the function does not have")
        if name in may_miss and not in_section:
            raise fields.error(key, f"{key}: slot '{name}' may have no value yet, "
                                    f"so put it inside [...]")


def _read_replies(path: Path, function_intents: dict[str, tuple[str, str]]) -> dict[str, str]:
    replies, line = _top_level(path, "replies")
    for intent, reply in replies.items():
        if not isinstance(reply, str) or not reply:
            raise file_error(path, replies.line_of(intent), f"reply '{intent}' must be text")
        if intent in function_intents:
            owner, where = function_intents[intent]
            raise file_error(path, replies.line_of(intent),
                             f"intent '{intent}' is already claimed by function '{owner}' ({where})")
    for needed in (FALLBACK, UNKNOWN_INTENT):
        if needed not in replies:
            raise file_error(path, line, f"replies: missing '{needed}'")
    return dict(replies)
