"""Cutting a reply into sentences so the first one can be spoken while the rest are synthesised."""
from __future__ import annotations

import re
from collections.abc import Iterator

from assistant.speech.tts.base import Synthesizer

# A sentence ends at Chinese or ASCII terminal punctuation (with any closing quotes after it), at an
# English full stop followed by a space (so "5.00" stays whole), or at a line break.
_SENTENCE_END = re.compile(
    r"([。！？；!?;…]+[”’」』）)\"']*|\.+[”’\"')]*(?=\s|$)|\n)"
)
_CLAUSE_END = re.compile(r"(?<=[，：])")
# Longer sentences are also cut at their commas and colons, so the first audio is not kept waiting.
LONG_SENTENCE = 20


def split_sentences(text: str) -> list[str]:
    pieces = _SENTENCE_END.split(text)
    # split() alternates text and captured terminator: glue each terminator back on its sentence.
    sentences = [body + end for body, end in zip(pieces[::2], pieces[1::2] + [""])]
    result: list[str] = []
    for sentence in sentences:
        sentence = sentence.strip()
        clauses = _CLAUSE_END.split(sentence) if len(sentence) > LONG_SENTENCE else [sentence]
        result.extend(clause.strip() for clause in clauses if _has_words(clause))
    return result


def _has_words(piece: str) -> bool:
    return any(char.isalnum() for char in piece)


def speak(synth: Synthesizer, text: str) -> Iterator[bytes]:
    """Each sentence's PCM as soon as it is synthesised, in order."""
    for sentence in split_sentences(text):
        yield synth.synthesize(sentence)
