"""Asking the caller which of two functions they meant, instead of guessing.

Asked for a request made with no function in progress, when the NLU's best and runner-up intents
are two functions within `dialog.ask_margin` of each other and either do the opposite of each other
(the catalog's `opposite:`, 买入股票 and 卖出股票) or the best is less sure than `dialog.ask_below`;
and whatever the margin, when they are opposites and the request names both sides (股票买卖).
The question (dialogue.yml prompts: ask_between) names both by their titles, the best first. The
answer picks one by key 1 or 2; by the words of dialogue.yml `ask_back:` (第一个, 后面那个); by a
title or what tells the two titles apart (买入, 卖出; in a short answer its first character, 买);
or by being understood as one of the two. The values heard with the request are kept.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from assistant.catalog.catalog import Catalog, FunctionSpec
from assistant.catalog.template import render
from assistant.core.frames import IntentResult
from assistant.dialog.reply import Reply
from assistant.dialog.settings import DialogSettings

FUNCTION = "function"  # awaited while the caller is asked which function they meant
KEYS = ("1", "2")  # the first, the second
_SHORT = 4  # an answer this short may name a function by the first character of what sets it apart


@dataclass(frozen=True)
class Question:
    functions: tuple[FunctionSpec, FunctionSpec]  # the best first
    entities: dict[str, Any] = field(default_factory=dict)  # heard with the request
    heard: str = ""  # the request, redacted


def torn_between(result: IntentResult, catalog: Catalog, settings: DialogSettings
                 ) -> tuple[FunctionSpec, FunctionSpec] | None:
    """The two functions to ask between, if the NLU was torn between them."""
    if len(result.ranking) < 2:
        return None
    (best, sure), (runner_up, runner_sure) = result.ranking[:2]
    first, second = catalog.function_for(best), catalog.function_for(runner_up)
    if first is None or second is None or first is second:
        return None
    opposite = first.opposite == second.id
    if opposite and all(cue[0] in result.text for cue in _apart(first.title, second.title)):
        return first, second  # the request names both sides (股票买卖): however sure the NLU is, ask
    if sure - runner_sure > settings.ask_margin:
        return None
    return (first, second) if opposite or sure < settings.ask_below else None


class AskBack:
    def __init__(self, catalog: Catalog, settings: DialogSettings, reply: Reply) -> None:
        self.catalog = catalog
        self.settings = settings
        self.reply = reply
        self.question: Question | None = None  # while the caller is asked

    def torn(self, result: IntentResult) -> tuple[FunctionSpec, FunctionSpec] | None:
        return torn_between(result, self.catalog, self.settings)

    def ask(self, functions: tuple[FunctionSpec, FunctionSpec], entities: dict[str, Any], heard: str) -> None:
        self.question = Question(functions, dict(entities), heard)
        self.reply.say(self.prompt())

    def prompt(self) -> str:
        assert self.question is not None
        first, second = self.question.functions
        return render(self.catalog.prompts["ask_between"], {"first": first.title, "second": second.title})

    def drop(self) -> None:
        self.question = None

    def by_key(self, keys: str) -> FunctionSpec | None:
        assert self.question is not None
        return self.question.functions[KEYS.index(keys)] if keys in KEYS else None

    def by_voice(self, text: str, understood: FunctionSpec | None) -> FunctionSpec | None:
        """The function an answer picks; `understood`: the function the NLU heard in it, if sure enough."""
        assert self.question is not None
        functions = self.question.functions
        first, second = (f.title for f in functions)
        cues = _apart(first, second)
        levels = [self.catalog.ask_back.first, self.catalog.ask_back.second], [[first], [second]], [[c] for c in cues]
        for words in levels:
            hits = [f for f, said in zip(functions, words) if any(w in text for w in said)]
            if len(hits) == 1:
                return hits[0]
        if understood in functions:
            return understood
        if len(text) <= _SHORT and cues[0][0] != cues[1][0]:
            hits = [f for f, cue in zip(functions, cues) if cue[0] in text]
            if len(hits) == 1:
                return hits[0]
        return None


def _apart(first: str, second: str) -> tuple[str, str]:
    """What tells two titles apart: each without the start and the end they share (买入股票,
    卖出股票 → 买入, 卖出); a title that is all shared is kept whole."""
    start = len(os.path.commonprefix([first, second]))
    end = len(os.path.commonprefix([first[start:][::-1], second[start:][::-1]]))
    return first[start:len(first) - end] or first, second[start:len(second) - end] or second
