"""Checks of the NLU training data (nlu_data/) against itself and the function catalog (intents/).

What `rasa data validate` checks for NLU data, and what our code relies on: every intent is one the
catalog routes, every annotated entity becomes a slot, synonyms and lookup tables agree (the
vocabulary and the slot backstop read them), and every entity falls on the tokenizer's token
boundaries. Each finding names a file and line, the line of the example itself inside a block.

All checks but the last are plain Python and take well under a second. The tokenizer check loads
Rasa and TensorFlow (~15 s), so it runs only when the others found no error.
"""
from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from assistant.catalog.catalog import DIALOG_ACTS, DIALOGUE_FILE, FALLBACK, OUT_OF_SCOPE, UNKNOWN_INTENT, Catalog
from assistant.core.errors import AssistantError
from assistant.nlu.slots import CANONICAL_ENTITIES, canonical_slots
from domain.config import Config
from domain.errors import DataFileError
from domain.nlu_data import Example, Item, Place, data_files, parse_example, read_items
from domain.vocabulary import Vocabulary
from domain.yamlfile import LineMap, load_yaml

ERROR, WARNING = "error", "warning"
MISALIGNED = "misaligned-entity"
MIN_EXAMPLES = 2  # fewer and Rasa cannot train the intent
ENOUGH_EXAMPLES = 10
# Relative times are read against a fixed midnight, so every time of day is still ahead and the
# findings do not change with the hour the check runs.
_MIDNIGHT = datetime(2025, 1, 6)


@dataclass(frozen=True)
class Finding:
    level: str  # ERROR or WARNING
    path: Path  # relative to the project root
    line: int  # 0: the file as a whole
    message: str
    kind: str  # which check found it, e.g. "duplicate-example"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


def _error(kind: str, place: Place, message: str) -> Finding:
    return Finding(ERROR, place.path, place.line, message, kind)


def _warning(kind: str, place: Place, message: str) -> Finding:
    return Finding(WARNING, place.path, place.line, message, kind)


@dataclass(frozen=True)
class _CatalogPlaces:
    intents: dict[str, Place]  # every intent of a function or a reply -> where the catalog names it
    slots: dict[tuple[str, str], Place]  # (function id, slot name) -> where it is defined


@dataclass(frozen=True)
class _Data:
    items: list[Item]
    examples: list[Example]
    catalog: Catalog
    places: _CatalogPlaces

    def of_kind(self, kind: str) -> list[Item]:
        return [item for item in self.items if item.kind == kind]

    def annotated(self) -> set[str]:
        return {entity.name for example in self.examples for entity in example.entities}


def validate(config: Config, tokenizer: bool = True) -> list[Finding]:
    """Every finding, errors and warnings, in file order; the tokenizer check only when nothing else is an error."""
    findings, data = _read(config)
    if data is not None:
        findings += [finding for check in _CHECKS for finding in check(data)]
        if tokenizer and not any(f.level == ERROR for f in findings):
            findings += _misaligned_entities(config, data.examples)
    return sorted(findings, key=lambda f: (str(f.path), f.line))


def report(findings: list[Finding], tokenizer: bool = True) -> list[str]:
    """Lines to show: the errors, the warnings apart, then a one-line summary."""
    errors = [f for f in findings if f.level == ERROR]
    cautions = [f for f in findings if f.level == WARNING]
    lines = []
    for title, group in (("errors:", errors), ("warnings:", cautions)):
        if group:
            lines += [title, *map(str, group), ""]
    summary = f"{_count(len(errors), 'error')}, {_count(len(cautions), 'warning')}"
    if not tokenizer:
        summary += " (tokenizer alignment not checked)"
    elif any(f.kind != MISALIGNED for f in errors):
        summary += " (tokenizer alignment is checked once these errors are fixed)"
    return [*lines, summary]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# --- reading ------------------------------------------------------------------------------------------


def _read(config: Config) -> tuple[list[Finding], _Data | None]:
    """Findings that stop the other checks (a file that cannot be read), or the data to check."""
    findings: list[Finding] = []
    items: list[Item] = []
    paths = data_files(config.nlu_dir)
    if not paths:
        findings.append(Finding(ERROR, config.nlu_dir.relative_to(config.root), 0, "no training data (*.yml)",
                                "broken-file"))
    for path in paths:
        shown = path.relative_to(config.root)
        try:
            read = read_items(path, shown)
        except DataFileError as error:
            findings.append(_file_finding(error, config.root, config.nlu_dir))
            continue
        if not read:  # Rasa reads it as nothing: a lookup table emptied by mistake trains without its names
            findings.append(Finding(ERROR, shown, 0, "no `nlu:` items: the file is empty", "empty-file"))
        items += read
    try:
        catalog = Catalog.load(config.intents_dir)
        places = _catalog_places(config.intents_dir, config.root)
    except DataFileError as error:
        findings.append(_file_finding(error, config.root, config.intents_dir))
    if findings:
        return findings, None
    examples = []
    for item in items:
        for entry in item.entries if item.kind == "intent" else ():
            try:
                examples.append(parse_example(item.name, entry))
            except ValueError as error:
                findings.append(_error("bad-annotation", entry.place, str(error)))
    return findings, _Data(items, examples, catalog, places)


def _file_finding(error: DataFileError, root: Path, folder: Path) -> Finding:
    """The error as a finding; one that names no file is said of `folder`."""
    path = error.path or folder
    shown = path.relative_to(root) if path.is_absolute() else path
    problem = error.problem.replace(f"{root}{os.sep}", "")  # the catalog names other files too
    return Finding(ERROR, shown, error.line or 0, problem, "broken-file")


def _catalog_places(intents_dir: Path, root: Path) -> _CatalogPlaces:
    """Where the (already loaded, so well-formed) catalog names each intent and slot."""
    intents: dict[str, Place] = {}
    slots: dict[tuple[str, str], Place] = {}
    for path in sorted(intents_dir.glob("*.yml")):
        shown = path.relative_to(root)
        data = load_yaml(path)
        if path.name == DIALOGUE_FILE:
            replies = data["replies"]
            intents |= {intent: Place(shown, replies.line_of(intent)) for intent in replies}
            continue
        for fid, spec in data["functions"].items():
            intents |= {intent: Place(shown, spec.line_of("intents")) for intent in spec["intents"]}
            defined = spec.get("slots") or LineMap()
            slots |= {(fid, name): Place(shown, defined.line_of(name)) for name in defined}
    return _CatalogPlaces(intents, slots)


# --- checks that need no Rasa -------------------------------------------------------------------------


def _skipped_lines(data: _Data) -> Iterable[Finding]:
    for item in data.items:
        for place in item.skipped:
            yield _warning("skipped-line", place, f"{item.kind} '{item.name}': Rasa skips this line "
                                                  "(an example is written `- text`)")


def _duplicate_examples(data: _Data) -> Iterable[Finding]:
    first: dict[str, Example] = {}
    for example in data.examples:
        text = example.text.strip()
        seen = first.setdefault(text, example)
        if seen is example:
            continue
        if seen.intent == example.intent:
            yield _warning("duplicate-example", example.place,
                           f"'{text}' is already an example of intent '{seen.intent}' at {seen.place}")
        else:
            yield _error("duplicate-example", example.place,
                         f"'{text}' is an example of intent '{example.intent}' here and of "
                         f"'{seen.intent}' at {seen.place}")


def _example_counts(data: _Data) -> Iterable[Finding]:
    texts: dict[str, set[str]] = {}
    where: dict[str, Place] = {}
    for item in data.of_kind("intent"):
        texts.setdefault(item.name, set())
        where.setdefault(item.name, item.place)
    for example in data.examples:
        texts[example.intent].add(example.text.strip())
    for intent, unique in texts.items():
        if len(unique) < MIN_EXAMPLES:
            yield _error("few-examples", where[intent], f"intent '{intent}' has {_count(len(unique), 'example')}; "
                                                        f"Rasa needs at least {MIN_EXAMPLES} to train it")
        elif len(unique) < ENOUGH_EXAMPLES:
            yield _warning("few-examples", where[intent], f"intent '{intent}' has only {len(unique)} examples; "
                                                          f"give it at least {ENOUGH_EXAMPLES}")


def _intents_against_catalog(data: _Data) -> Iterable[Finding]:
    routed = {intent: place for intent, place in data.places.intents.items()
              if intent not in (FALLBACK, UNKNOWN_INTENT)}  # the policy's own, never trained
    trained: dict[str, Place] = {}
    for item in data.of_kind("intent"):
        trained.setdefault(item.name, item.place)
    for intent, place in trained.items():
        if intent not in routed and intent != OUT_OF_SCOPE and intent not in DIALOG_ACTS:
            yield _error("unknown-intent", place,
                         f"intent '{intent}' is not in the catalog: no function in intents/ lists it, "
                         f"{DIALOGUE_FILE} has no reply for it and the dialog does not act on it")
    for intent, place in routed.items():
        if intent not in trained:
            yield _error("untrained-intent", place, f"intent '{intent}' has no training examples in nlu_data/")


def _undeclared_entities(data: _Data) -> Iterable[Finding]:
    slots = {slot.name for function in data.catalog.functions.values() for slot in function.slots}
    tables = {item.name for item in data.items if item.kind in ("lookup", "regex")}
    declared = CANONICAL_ENTITIES | slots | tables
    for example in data.examples:
        for entity in example.entities:
            if entity.name not in declared:
                yield _error("undeclared-entity", example.place,
                             f"entity '{entity.name}' fills no slot and names no lookup table or regex")


def _unfilled_slots(data: _Data) -> Iterable[Finding]:
    annotated = data.annotated()
    for function in data.catalog.functions.values():
        for slot in function.slots:
            # A PIN is typed, never said; a choice is answered with one of its phrases.
            if slot.name not in annotated and not slot.secret and not slot.choices:
                yield _warning("unfilled-slot", data.places.slots[function.id, slot.name],
                               f"slot '{slot.name}' ({slot.type}) of function '{function.id}': no example "
                               f"annotates an entity '{slot.name}', so the NLU model never extracts it")


def _empty_items(data: _Data) -> Iterable[Finding]:
    for item in data.items:
        if item.kind != "intent" and not item.entries:
            yield _error("empty-item", item.place, f"{item.kind} '{item.name}' has no entries")


def _unannotated_tables(data: _Data) -> Iterable[Finding]:
    annotated = data.annotated()
    first: dict[tuple[str, str], Item] = {}
    for item in data.items:
        if item.kind in ("lookup", "regex") and first.setdefault((item.kind, item.name), item) is item:
            if item.name not in annotated:
                yield _warning("unannotated-table", item.place,
                               f"{item.kind} '{item.name}': no example annotates an entity '{item.name}'")


def _lookup_tables(data: _Data) -> dict[str, dict[str, Place]]:
    """Lookup table -> entry -> where it is listed first (a table may be split over items)."""
    tables: dict[str, dict[str, Place]] = {}
    for item in data.of_kind("lookup"):
        entries = tables.setdefault(item.name, {})
        for entry in item.entries:
            entries.setdefault(entry.text, entry.place)
    return tables


def _duplicate_entries(data: _Data) -> Iterable[Finding]:
    listed: dict[tuple[str, str], Place] = {}
    for item in data.of_kind("lookup"):
        for entry in item.entries:
            first = listed.setdefault((item.name, entry.text), entry.place)
            if first is not entry.place:
                yield _warning("duplicate-entry", entry.place,
                               f"'{entry.text}' is already in lookup table '{item.name}' at {first}")


def _shared_entries(data: _Data) -> Iterable[Finding]:
    tables = _lookup_tables(data)
    annotated_as: dict[str, set[str]] = {}
    for example in data.examples:
        for entity in example.entities:
            annotated_as.setdefault(example.text[entity.start:entity.end], set()).add(entity.name)
    owner: dict[str, str] = {}
    for table, entries in tables.items():
        for text, place in entries.items():
            other = owner.setdefault(text, table)
            # In two tables is fine when examples show the word used as both entities.
            if other != table and not {table, other} <= annotated_as.get(text, set()):
                yield _warning("shared-entry", place,
                               f"'{text}' is also in lookup table '{other}' at {tables[other][text]}, "
                               f"and no example annotates it as both '{other}' and '{table}'")


@dataclass(frozen=True)
class _Synonym:
    text: str
    value: str
    place: Place
    entity: str | None  # the annotated entity, for a synonym written inline in an example


def _synonyms(data: _Data) -> list[_Synonym]:
    """Every synonym in file order: synonym items and annotations whose value differs from their text."""
    found = [_Synonym(entry.text, item.name, entry.place, None)
             for item in data.of_kind("synonym") for entry in item.entries]
    for example in data.examples:
        for entity in example.entities:
            text = example.text[entity.start:entity.end]
            if text != entity.value:
                found.append(_Synonym(text, entity.value, example.place, entity.name))
    return sorted(found, key=lambda s: (str(s.place.path), s.place.line))


def _synonym_conflicts(data: _Data) -> Iterable[Finding]:
    first: dict[str, _Synonym] = {}
    for synonym in _synonyms(data):
        seen = first.setdefault(synonym.text, synonym)
        if seen.value != synonym.value:
            yield _error("synonym-conflict", synonym.place,
                         f"synonym '{synonym.text}' maps to '{synonym.value}' here and to "
                         f"'{seen.value}' at {seen.place}")


def _vocabulary(data: _Data) -> Vocabulary:
    """The vocabulary the assistant builds from these files (see assistant/vocabulary.py)."""
    synonyms = {synonym.text: synonym.value for synonym in _synonyms(data)}
    return Vocabulary(synonyms, {table: list(entries) for table, entries in _lookup_tables(data).items()}, {})


def _synonyms_in_lookups(data: _Data) -> Iterable[Finding]:
    """A value's names belong in the lookup table that holds its other names: the slot backstop and
    the regex features find only what the table lists."""
    tables = _lookup_tables(data)
    where: dict[str, Place] = {}
    for item in data.of_kind("lookup"):
        where.setdefault(item.name, item.place)
    listed = Counter(text for entries in tables.values() for text in entries)
    # An entry shared with another table says nothing about where a value's other names belong.
    own = Vocabulary(_vocabulary(data).synonyms,
                     {table: [text for text in entries if listed[text] == 1] for table, entries in tables.items()}, {})
    values = {table: set(own.values_in(table)) for table in tables}
    for synonym in _synonyms(data):
        for table, entries in tables.items():
            if synonym.value in values[table] and synonym.text not in entries:
                yield _warning("synonym-not-in-lookup", synonym.place,
                               f"synonym '{synonym.text}' of '{synonym.value}' is not in lookup table "
                               f"'{table}' ({where[table]}), which has other names of '{synonym.value}'")


def _uncanonical_values(data: _Data) -> Iterable[Finding]:
    """Annotated values that assistant/slots.py cannot make canonical: the slot would be dropped."""
    vocabulary = _vocabulary(data)
    for example in data.examples:
        for entity in example.entities:
            said = {"entity": entity.name, "value": entity.value}
            if entity.name in canonical_slots([said], "", vocabulary, _MIDNIGHT):
                continue
            if entity.name in vocabulary.lookups:
                problem = f"is neither in lookup table '{entity.name}' nor a synonym of one of its entries"
            else:
                problem = "is not a value assistant/slots.py can read"
            yield _warning("uncanonical-value", example.place,
                           f"{entity.name} '{entity.value}' {problem}, so the slot is dropped")


def _regex_patterns(data: _Data) -> Iterable[Finding]:
    for item in data.of_kind("regex"):
        for entry in item.entries:
            try:
                re.compile(entry.text)
            except re.error as error:
                yield _error("bad-regex", entry.place, f"regex '{item.name}': invalid pattern: {error}")


_CHECKS: tuple[Callable[[_Data], Iterable[Finding]], ...] = (
    _skipped_lines, _duplicate_examples, _example_counts, _intents_against_catalog, _undeclared_entities,
    _unfilled_slots, _uncanonical_values, _empty_items, _unannotated_tables, _duplicate_entries,
    _shared_entries, _synonym_conflicts, _synonyms_in_lookups, _regex_patterns,
)


# --- the tokenizer check (Rasa and TensorFlow) ----------------------------------------------------------


def _misaligned_entities(config: Config, examples: list[Example]) -> list[Finding]:
    """Entities that do not start and end on the project tokenizer's token boundaries.

    Rasa warns "Misaligned entity annotation" at training time and learns nothing from such an entity.
    """
    from assistant.nlu.fastload import quiet_rasa

    quiet_rasa()
    from rasa.shared.exceptions import RasaException
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.message import Message

    from assistant.nlu.tokenizer import CallerTokenizer
    from assistant.nlu.train import write_dictionary

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Rasa's schema check (pykwalify) warns past quiet_rasa()
        try:
            dictionary = write_dictionary(load_data(str(config.nlu_dir)), Path(folder))
        except RasaException as error:
            raise AssistantError(f"Rasa cannot read {config.nlu_dir}: {error}") from error
        tokenizer = CallerTokenizer.create(
            {**CallerTokenizer.get_default_config(), "dictionary_path": str(dictionary)},
            None, None, None,  # type: ignore[arg-type]
        )
    findings = []
    for example in examples:
        if not example.entities:
            continue
        tokens = tokenizer.tokenize(Message(data={"text": example.text}), "text")
        starts, ends = {t.start for t in tokens}, {t.end for t in tokens}
        for entity in example.entities:
            if entity.start not in starts or entity.end not in ends:
                words = " | ".join(t.text for t in tokens)
                findings.append(_error(MISALIGNED, example.place,
                                       f"entity '{entity.name}' on '{example.text[entity.start:entity.end]}' "
                                       f"does not fall on token boundaries ({words}), so Rasa cannot learn it"))
    return findings
