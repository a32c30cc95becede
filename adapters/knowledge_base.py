"""The knowledge base: answers the business writes in adapters/knowledge/*.yml, found by similarity.

A question is compared with every entry's title and example questions by cosine similarity of
character 1-3-gram TF-IDF vectors (question words such as 什么, 几点 left out); the best entry answers
if it scores at least the threshold, else the outcome is rejected with reason no_answer.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from adapters import params
from adapters.base import Outcome, ok, rejected
from domain.clock import Clock, in_beijing, real_clock
from domain.errors import DataFileError
from domain.yamlfile import LineMap, file_error, load_yaml

FOLDER = Path(__file__).with_name("knowledge")
SHELF = Path("products") / "shelf.yml"  # the wealth products and bonds on sale, under the folder
RISK_LEVELS = ("R1", "R2", "R3", "R4", "R5")
THRESHOLD = 0.25
_NOT_WORDS = re.compile(r"[^\w]+")
# Words every question has: left out so that "电影几点开始" does not look like "银行几点开门".
_QUESTION_WORDS = re.compile(
    r"请问|你好|您好|麻烦|我想|了解|知道|一下|帮我|你们|我们|我的|有没有|是不是|可不可以|可以|能不能|"
    r"怎么样|怎么|怎样|如何|什么|多少|几点|哪里|哪儿|在哪|是|吗|呢|吧|啊|的|了|要|我|有"
)


@dataclass(frozen=True)
class Entry:
    title: str
    questions: tuple[str, ...]
    answer: str


def load_entries(folder: Path) -> list[Entry]:
    """Every entry of the folder's *.yml files; DataFileError (file:line) for one that is malformed."""
    entries = [entry for path in sorted(folder.glob("*.yml")) for entry in _entries(path)]
    if not entries:
        raise DataFileError(f"{folder}: no knowledge entries (*.yml files with an `entries:` list)")
    return entries


def _entries(path: Path) -> list[Entry]:
    data = load_yaml(path)
    if not isinstance(data, LineMap) or not isinstance(data.get("entries"), list):
        raise file_error(path, getattr(data, "line", 1), "expected a mapping with an `entries:` list")
    return [_entry(path, item, data.line_of("entries")) for item in data["entries"]]


def _entry(path: Path, item: Any, line: int) -> Entry:
    if not isinstance(item, LineMap):
        raise file_error(path, line, "each entry is a mapping with title, questions and answer")
    for key in ("title", "answer"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise file_error(path, item.line_of(key), f"entry needs `{key}:` text")
    questions = item.get("questions", [])
    if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
        raise file_error(path, item.line_of("questions"), "`questions:` must be a list of texts")
    unknown = set(item) - {"title", "questions", "answer"}
    if unknown:
        key = sorted(unknown)[0]
        raise file_error(path, item.line_of(key), f"unknown key {key!r} (expected title, questions, answer)")
    return Entry(item["title"].strip(), tuple(q.strip() for q in questions), item["answer"].strip())


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    kind: str  # wealth | bond
    risk: str  # R1..R5
    term: int  # days
    yield_pct: str
    minimum: int  # yuan
    sale_start: date
    sale_end: date
    redeemable: bool

    def on_sale(self, day: date) -> bool:
        return self.sale_start <= day <= self.sale_end

    def facts(self) -> dict[str, Any]:
        return {"product": self.code, "name": self.name, "kind": self.kind, "term": self.term,
                "yield": self.yield_pct, "risk": self.risk, "minimum": self.minimum,
                "sale_start": self.sale_start.isoformat(), "sale_end": self.sale_end.isoformat()}


def load_products(path: Path) -> dict[str, Product]:
    """The shelf file's products by code; DataFileError (file:line) for one that is malformed."""
    data = load_yaml(path)
    if not isinstance(data, LineMap) or not isinstance(data.get("products"), list):
        raise file_error(path, getattr(data, "line", 1), "expected a mapping with a `products:` list")
    products = {}
    for item in data["products"]:
        try:
            product = Product(str(item["code"]), str(item["name"]), str(item["kind"]), str(item["risk"]),
                              int(item["term"]), str(item["yield"]), int(item["minimum"]),
                              date.fromisoformat(str(item["sale_start"])), date.fromisoformat(str(item["sale_end"])),
                              bool(item["redeemable"]))
        except (KeyError, TypeError, ValueError) as error:
            raise file_error(path, getattr(item, "line", data.line_of("products")), f"bad product: {error!r}") from error
        if product.risk not in RISK_LEVELS or product.kind not in ("wealth", "bond"):
            raise file_error(path, item.line, f"{product.code}: risk must be R1-R5 and kind wealth or bond")
        products[product.code] = product
    return products


def _clean(text: str) -> str:
    return _QUESTION_WORDS.sub("", _NOT_WORDS.sub("", text))


class KnowledgeBase:
    def __init__(self, folder: Path = FOLDER, threshold: float = THRESHOLD, clock: Clock = real_clock) -> None:
        self.entries = load_entries(folder)
        shelf = folder / SHELF
        self.products = load_products(shelf) if shelf.is_file() else {}
        self.clock = clock
        self.threshold = threshold
        self._index: _Index | None = None  # built on the first question (scikit-learn loads slowly)

    def answer(self, question: str) -> Outcome:
        text = _clean(params.text(question, "question", limit=500))
        self._index = self._index or _Index(self.entries)
        entry, score = self._index.best(text)
        if entry is None or score < self.threshold:
            return rejected("no_answer", score=score)
        return ok(title=entry.title, answer=entry.answer, score=score)


    def product(self, product: str | None = None) -> Outcome:
        """One product's facts; without a product, the ones on sale today."""
        if product is None:
            today = in_beijing(self.clock()).date()
            items = [{"name": p.name, "risk": p.risk, "yield": p.yield_pct}
                     for p in self.products.values() if p.on_sale(today)]
            return ok(items=items, count=len(items))
        found = self.products.get(str(product))
        if found is None:
            return rejected("unknown_product", product=product)
        facts = found.facts()
        if found.kind == "wealth":
            facts["redeem"] = "可以随时赎回" if found.redeemable else "封闭期内不能赎回"
        return ok(**facts)


class _Index:
    """TF-IDF over every entry's title and questions."""

    def __init__(self, entries: list[Entry]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [(_clean(text), entry) for entry in entries for text in (entry.title, *entry.questions)]
        self.owners = [entry for _, entry in texts]
        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform([text for text, _ in texts]).tocsc()
        self.analyze = self.vectorizer.build_analyzer()
        self.unseen_idf = math.log(len(texts) + 1) + 1  # the smoothed idf of an n-gram in no text

    def best(self, text: str) -> tuple[Entry | None, float]:
        """The closest entry and its cosine similarity. n-grams the knowledge base never uses still
        weigh in the question's length, so "附近有什么好吃的" is not simply "附近"."""
        vocabulary, idf = self.vectorizer.vocabulary_, self.vectorizer.idf_
        counts = Counter(self.analyze(text))
        weights = {
            gram: (1 + math.log(count)) * (idf[vocabulary[gram]] if gram in vocabulary else self.unseen_idf)
            for gram, count in counts.items()
        }
        norm = math.sqrt(sum(weight * weight for weight in weights.values()))
        known = [(vocabulary[gram], weight / norm) for gram, weight in weights.items() if gram in vocabulary]
        if not known:
            return None, 0.0
        columns, query = zip(*known)
        scores = self.matrix[:, list(columns)] @ np.array(query)
        best = int(scores.argmax())
        return self.owners[best], round(float(scores[best]), 3)
