"""The hand-written NLU data in nlu_data/, read by our Vocabulary and by Rasa's own loader, and the
held-out test set in tests/data/nlu_holdout.tsv."""
from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData

from domain.errors import DataFileError
from domain.vocabulary import Vocabulary

REPO = Path(__file__).resolve().parents[1]
NLU_DIR = REPO / "nlu_data"
HOLDOUT = REPO / "tests" / "data" / "nlu_holdout.tsv"

INTENTS = {
    "balance_inquiry", "transaction_history", "transfer", "card_loss", "change_password", "pay_bill",
    "forex_trade", "credit_card_repay", "credit_card_bill", "stock_buy", "stock_sell", "order_cancel",
    "order_query", "stock_quote", "positions", "bank_securities_transfer", "price_alert", "complaint",
    "suggestion", "business_info", "human_agent", "callback_request", "greet", "goodbye", "affirm", "deny",
    "out_of_scope", "inform", "key_menu",
    "policy_inquiry", "claim_report", "claim_status", "premium_payment", "policy_loan", "policy_contact_change",
    "fund_nav", "fund_subscribe", "fund_redeem", "fund_positions", "fund_plan", "wealth_product_info",
    "wealth_purchase", "wealth_redeem", "bond_purchase", "trade_history", "custody_info",
}
ENTITIES = {"amount", "quantity", "price", "stock", "currency", "bill_type", "payee", "phone_number", "when",
            "policy", "fund", "product", "date", "place"}
VOCABULARY_ENTITIES = {"stock", "currency", "bill_type"}
NUMERIC_ENTITIES = {"amount", "quantity", "price"}
BILL_TYPES = {"mobile", "water", "electricity", "gas", "cable_tv", "government"}


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.load(NLU_DIR)


@pytest.fixture(scope="module")
def training_data() -> TrainingData:
    return load_data(str(NLU_DIR))


@pytest.fixture(scope="module")
def holdout() -> list[dict[str, str]]:
    with HOLDOUT.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_at_least_fifty_stocks_with_six_digit_codes(vocabulary: Vocabulary) -> None:
    codes = {vocabulary.canonical("stock", name) for name in vocabulary.lookups["stock"]}
    assert None not in codes
    assert len(codes) >= 50
    assert all(re.fullmatch(r"[036]\d{5}", code) for code in codes)


@pytest.mark.parametrize(
    ("table", "text", "value"),
    [
        ("stock", "茅台", "600519"),
        ("stock", "贵州茅台", "600519"),
        ("stock", "招商银行", "600036"),
        ("stock", "招行", "600036"),
        ("stock", "万科", "000002"),
        ("stock", "平安银行", "000001"),
        ("stock", "中国平安", "601318"),
        ("stock", "600519", "600519"),
        ("currency", "美元", "USD"),
        ("currency", "美金", "USD"),
        ("currency", "港币", "HKD"),
        ("bill_type", "电费", "electricity"),
        ("bill_type", "话费", "mobile"),
        ("bill_type", "煤气费", "gas"),
        ("bill_type", "闭路费", "cable_tv"),
        ("bill_type", "交通罚款", "government"),
    ],
)
def test_canonical_values(vocabulary: Vocabulary, table: str, text: str, value: str) -> None:
    assert vocabulary.canonical(table, text) == value


def test_canonical_rejects_unknown_text_and_other_tables(vocabulary: Vocabulary) -> None:
    assert vocabulary.canonical("stock", "特斯拉") is None
    assert vocabulary.canonical("currency", "茅台") is None
    assert vocabulary.canonical("stock", "USD") is None
    assert vocabulary.canonical("no_such_table", "茅台") is None


def test_display_names_are_the_first_synonym_example(vocabulary: Vocabulary) -> None:
    assert vocabulary.display("600519") == "贵州茅台"
    assert vocabulary.display("000002") == "万科A"
    assert vocabulary.display("USD") == "美元"
    assert vocabulary.display("electricity") == "电费"
    assert vocabulary.display("government") == "政府非税缴费"
    assert vocabulary.display("XYZ") == "XYZ"


def test_every_canonical_value_has_a_display_name(vocabulary: Vocabulary) -> None:
    for table in VOCABULARY_ENTITIES:
        for entry in vocabulary.lookups[table]:
            assert vocabulary.canonical(table, entry) in vocabulary.names
    assert {vocabulary.canonical("bill_type", e) for e in vocabulary.lookups["bill_type"]} == BILL_TYPES


def test_every_synonym_is_in_a_lookup_table(vocabulary: Vocabulary) -> None:
    listed = {entry for entries in vocabulary.lookups.values() for entry in entries}
    assert set(vocabulary.synonyms) <= listed


def test_terms_are_unique_and_longest_first(vocabulary: Vocabulary) -> None:
    terms = vocabulary.terms()
    assert len(terms) == len(set(terms))
    assert [len(t) for t in terms] == sorted((len(t) for t in terms), reverse=True)
    assert {"贵州茅台", "茅台", "美金", "电费"} <= set(terms)
    assert terms.index("中国平安") < terms.index("平安")


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "lookups" / "broken.yml"
    broken.parent.mkdir()
    broken.write_text('version: "3.1"\nnlu:\n- synonym: "600519"\n  examples: 茅台: 600519\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"broken\.yml:4: mapping values are not allowed"):
        Vocabulary.load(tmp_path)


def test_conflicting_synonyms_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        'nlu:\n- synonym: "600519"\n  examples: |\n    - 茅台\n- synonym: "000858"\n  examples: |\n    - 茅台\n',
        encoding="utf-8",
    )
    with pytest.raises(DataFileError, match="a.yml"):
        Vocabulary.load(tmp_path)


def test_rasa_reads_the_same_vocabulary(vocabulary: Vocabulary, training_data: TrainingData) -> None:
    assert vocabulary.synonyms.items() <= training_data.entity_synonyms.items()
    rasa_lookups: dict[str, set[str]] = defaultdict(set)
    for table in training_data.lookup_tables:
        rasa_lookups[table["name"]].update(table["elements"])
    assert rasa_lookups == {name: set(entries) for name, entries in vocabulary.lookups.items()}
    assert {regex["name"] for regex in training_data.regex_features} == {"stock", "phone_number", "fund", "policy"}


def test_every_intent_has_enough_examples(training_data: TrainingData) -> None:
    counts = Counter(example.get("intent") for example in training_data.intent_examples)
    assert set(counts) == INTENTS
    assert {intent: n for intent, n in counts.items() if n < 25} == {}
    assert counts["out_of_scope"] >= 80


def test_no_example_under_two_intents(training_data: TrainingData) -> None:
    intents_of: dict[str, set[str]] = defaultdict(set)
    for example in training_data.intent_examples:
        intents_of[example.get("text")].add(example.get("intent"))
    assert {text: i for text, i in intents_of.items() if len(i) > 1} == {}


def test_entities_are_known_and_well_formed(vocabulary: Vocabulary, training_data: TrainingData) -> None:
    assert training_data.entities <= ENTITIES
    for example in training_data.intent_examples:
        for entity in example.get("entities") or []:
            name, text = entity["entity"], entity["value"]
            where = f"{example.get('text')!r}: {name}={text!r}"
            if name in VOCABULARY_ENTITIES:
                assert vocabulary.canonical(name, text), where
            elif name in NUMERIC_ENTITIES:
                assert re.fullmatch(r"\d+(\.\d+)?", text), where
            elif name == "phone_number":
                assert re.fullmatch(r"1[3-9]\d{9}", text), where


def _skeleton(text: str) -> str:
    """Text without spaces and numbers, so a holdout line can't be a training line with other digits."""
    return re.sub(r"[\s\d零〇一二两三四五六七八九十百千万.]", "", text)


def test_holdout_covers_every_intent(holdout: list[dict[str, str]]) -> None:
    assert len(holdout) >= 200
    counts = Counter(row["intent"] for row in holdout)
    assert set(counts) == INTENTS - {"out_of_scope"} | {"nlu_fallback"}
    assert {intent: n for intent, n in counts.items() if n < 6} == {}
    assert counts["nlu_fallback"] >= 30


def test_holdout_slots_are_canonical(vocabulary: Vocabulary, holdout: list[dict[str, str]]) -> None:
    for row in holdout:
        slots = json.loads(row["slots_json"])
        assert set(slots) <= ENTITIES, row
        for name, value in slots.items():
            if name in VOCABULARY_ENTITIES:
                assert vocabulary.canonical(name, value) == value, row
            elif name in NUMERIC_ENTITIES:
                assert isinstance(value, (int, float)), row
            else:
                assert isinstance(value, str) and value, row


def test_holdout_is_not_training_data(training_data: TrainingData, holdout: list[dict[str, str]]) -> None:
    trained = {_skeleton(example.get("text")) for example in training_data.intent_examples}
    assert [row["text"] for row in holdout if _skeleton(row["text"]) in trained] == []
