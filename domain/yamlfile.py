"""YAML data files: safe loading, with every problem reported as "<file>:<line>: <problem>".

Mappings load as `LineMap`, a dict that remembers the line of each key, so code that checks a
file's schema can point at the offending line too, and at a line inside a literal block (`key: |`).
"""
from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from domain.errors import DataFileError


class LineMap(dict):
    """A YAML mapping that knows where it was written (1-based lines)."""

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.block_lines: dict[Any, int] = {}  # key of a literal block value -> line its text starts on

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)

    def block_line(self, key: Any) -> int | None:
        """The line the first line of the value's text is on, if the value is a literal block (`key: |`)."""
        return self.block_lines.get(key)


class _LineLoader(yaml.SafeLoader):
    def construct_line_map(self, node: yaml.MappingNode) -> LineMap:
        self.flatten_mapping(node)
        mapping = LineMap(node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark)
            # PyYAML silently keeps the last of two equal keys, which would hide a mistake.
            if key in mapping:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.key_lines[key] = key_node.start_mark.line + 1
            if isinstance(value_node, yaml.ScalarNode) and value_node.style == "|":
                mapping.block_lines[key] = value_node.start_mark.line + 2  # the line after the `|`
        return mapping


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_line_map)


def file_error(path: Path, line: int, problem: str) -> DataFileError:
    return DataFileError(problem, path, line)


def load_yaml(path: Path) -> Any:
    """The file's content, mappings as `LineMap`; DataFileError if it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataFileError(f"cannot read: {error}", path) from error
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        if isinstance(error, yaml.reader.ReaderError):  # a character YAML refuses (a NUL): no mark, a position
            line, problem = text.count("\n", 0, error.position) + 1, f"character #x{error.character:04x}: {error.reason}"
        else:
            line, problem = mark.line + 1 if mark else 1, getattr(error, "problem", None) or str(error)
        raise file_error(path, line, problem) from error
