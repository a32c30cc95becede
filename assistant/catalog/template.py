"""The reply template language of the catalog.

`{name}` is a value said as given; a `[...]` section is said only when every name directly inside it
has a value. Sections nest, and a nested section is optional on its own: "好的，[买入{stock}[{quantity}股]。]".
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache


def render(template: str, values: dict[str, str]) -> str:
    """Fill `template`; KeyError if a name outside every [...] section has no value."""
    return _render(parse(template), values)


def names(template: str) -> Iterator[tuple[str, bool]]:
    """(name, whether it sits inside a [...] section) for every name in the template.

    ValueError if brackets or braces do not match.
    """
    return _names(parse(template))


@dataclass(frozen=True)
class _Name:
    name: str


@dataclass(frozen=True)
class _Section:
    parts: tuple[_Part, ...]


_Part = str | _Name | _Section

_TOKEN = re.compile(r"\{(\w+)\}|[^{}\[\]]+|.")


@lru_cache(maxsize=None)  # the catalog's templates, parsed once when loaded and reused every turn
def parse(template: str) -> tuple[_Part, ...]:
    """ValueError if brackets or braces do not match."""
    open_sections: list[list[_Part]] = [[]]
    for match in _TOKEN.finditer(template):
        token = match.group()
        if match.group(1):
            open_sections[-1].append(_Name(match.group(1)))
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
                pass  # a name in this section has no value: the section is left out
        elif isinstance(part, _Name):
            said.append(values[part.name])
        else:
            said.append(part)
    return "".join(said)


def _names(parts: tuple[_Part, ...], in_section: bool = False) -> Iterator[tuple[str, bool]]:
    for part in parts:
        if isinstance(part, _Section):
            yield from _names(part.parts, True)
        elif isinstance(part, _Name):
            yield part.name, in_section
