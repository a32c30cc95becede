"""Settings of numbers from a config.yml mapping: every layer's small `...Settings` dataclasses read alike."""
from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from assistant.core.errors import AssistantError

T = TypeVar("T")


def numbers_above_zero(cls: type[T], given: Any, where: str, **others: Any) -> T:
    """`cls` (a dataclass whose fields all have defaults) from the mapping `given` at config.yml `where`:
    a number left out keeps its default; an unknown key, a value that is not a number or one not above 0
    is refused naming `where`. `others` are its fields that are not numbers read here."""
    names = [f.name for f in fields(cls) if f.name not in others]  # type: ignore[arg-type]
    given = {} if given is None else given
    if not isinstance(given, dict) or set(given) - set(names):
        raise AssistantError(f"config.yml: {where}: give {', '.join(names[:-1])} and/or {names[-1]}"
                             if len(names) > 1 else f"config.yml: {where}: give {names[0]}")
    defaults = cls(**others)
    values = {}
    for name in names:
        default = getattr(defaults, name)
        value = given.get(name, default)
        try:
            number = type(default)(value)
        except (TypeError, ValueError):
            raise AssistantError(f"config.yml: {where}: {name} must be a number, not {value!r}") from None
        if number <= 0:
            raise AssistantError(f"config.yml: {where}: {name} must be above 0, not {value!r}")
        values[name] = number
    return cls(**values, **others)
