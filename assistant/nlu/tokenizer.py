"""Jieba tokenisation that keeps entity boundaries.

Jieba happily merges a number with its unit or a name with a verb (500块, 给李四, 美元汇率), so an
entity annotated on 500, 李四 or 美元 starts or ends inside a token and Rasa drops it as misaligned.
We teach jieba the entity words of the training data (the user dictionary written by
`assistant.nlu.train`), then split every token at digit/non-digit boundaries and around any entity
word it still swallows, so each entity is whole tokens.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

_PIECES = re.compile(r"\d+(?:\.\d+)?|[^\d]+")


def split_token(token: Token, words: re.Pattern[str] | None = None) -> List[Token]:
    pieces = [Token(m.group(), token.start + m.start()) for m in _PIECES.finditer(token.text)]
    return [part for piece in pieces for part in _around_words(piece, words)]


def _around_words(token: Token, words: re.Pattern[str] | None) -> List[Token]:
    """`token` cut before and after each entity word inside it (美元汇率 -> 美元 汇率)."""
    match = words.search(token.text) if words and len(token.text) > 1 else None
    if not match or match.group() == token.text:
        return [token]
    cuts = sorted({0, match.start(), match.end(), len(token.text)})
    parts = [Token(token.text[a:b], token.start + a) for a, b in zip(cuts, cuts[1:])]
    return [p for part in parts for p in _around_words(part, words)]


def _entity_words(dictionary_path: str | None) -> re.Pattern[str] | None:
    userdict = Path(dictionary_path or "") / "userdict.txt"
    if not dictionary_path or not userdict.is_file():
        return None
    words = [line.split()[0] for line in userdict.read_text(encoding="utf-8").splitlines() if line.strip()]
    words = [w for w in words if len(w) > 1]
    return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True)))) if words else None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class CallerTokenizer(JiebaTokenizer):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return JiebaTokenizer.get_default_config()

    def __init__(self, config: Dict[Text, Any], *args: Any) -> None:
        super().__init__(config, *args)
        self.entity_words = _entity_words(config.get("dictionary_path"))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "CallerTokenizer":
        # A trained model carries its dictionary: read the entity words from there, not from the
        # (long gone) folder it was trained from.
        tokenizer = cls({**config, "dictionary_path": None}, model_storage, resource)
        with model_storage.read_from(resource) as directory:
            cls._load_custom_dictionary(str(directory))
            tokenizer.entity_words = _entity_words(str(directory))
        return tokenizer

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = super().tokenize(message, attribute)
        return [piece for token in tokens for piece in split_token(token, self.entity_words)]
