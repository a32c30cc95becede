"""Jieba tokenisation that keeps entity boundaries.

Jieba happily merges a number with its unit or a name with a verb (500块, 给李四), so an entity
annotated on 500 or 李四 starts or ends inside a token and Rasa drops it as misaligned. We split
every token at digit/non-digit boundaries and teach jieba the entity words of the training data
(the user dictionary written by `assistant.nlu.train`), so each entity is whole tokens.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

_PIECES = re.compile(r"\d+(?:\.\d+)?|[^\d]+")


def split_token(token: Token) -> List[Token]:
    if len(_PIECES.findall(token.text)) < 2:
        return [token]
    return [Token(m.group(), token.start + m.start()) for m in _PIECES.finditer(token.text)]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class CallerTokenizer(JiebaTokenizer):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return JiebaTokenizer.get_default_config()

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        return [piece for token in super().tokenize(message, attribute) for piece in split_token(token)]
