"""`assistant nlu test`: scores on hand-made cases, the report files, and runs through the real assistant.

The scoring and the report files are checked on outcomes made here, without a model. The CLI runs use
the trained NLU (through the resident process), Whisper on banking_dev, and for k-fold a tiny copy
of nlu_data/ trained for a few epochs.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from datetime import datetime
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from assistant.core.errors import AssistantError
from assistant.nlu.eval.examples import read_holdout
from assistant.nlu.eval.report_store import save_run
from assistant.nlu.eval.report_view import print_report
from assistant.nlu.eval.scoring import Outcome, confusion, diff, intent_scores, scores, slot_scores, summarize
from assistant.nlu.eval.spoken_set import read_spoken_set
from domain.config import Config
from domain.errors import UserError
from domain.vocabulary import Vocabulary

ASSISTANT = Path(sys.executable).with_name("assistant")

# expected → got: a twice right and once taken for b; b once right and once taken for a;
# c rejected; one out-of-scope request rejected.
PAIRS = [("a", "a"), ("a", "a"), ("a", "b"), ("b", "b"), ("b", "a"), ("c", "nlu_fallback"), ("nlu_fallback", "nlu_fallback")]


def test_intent_precision_recall_and_f1() -> None:
    got = intent_scores(PAIRS)
    assert got["a"] == scores(2, 1, 1) and (got["a"].precision, got["a"].recall, got["a"].f1, got["a"].support) == (0.6667, 0.6667, 0.6667, 3)
    assert (got["b"].precision, got["b"].recall, got["b"].f1, got["b"].support) == (0.5, 0.5, 0.5, 2)
    assert (got["c"].precision, got["c"].recall, got["c"].f1, got["c"].support) == (0.0, 0.0, 0.0, 1)
    fallback = got["nlu_fallback"]  # took c as well: precision 1/2, recall 1/1
    assert (fallback.precision, fallback.recall, fallback.f1, fallback.support) == (0.5, 1.0, 0.6667, 1)


def test_confusion_counts_expected_rows_against_got_columns_with_fallback_last() -> None:
    labels, matrix = confusion(PAIRS)
    assert labels == ["a", "b", "c", "nlu_fallback"]
    assert matrix == [[2, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]]


def test_slot_scores_count_a_wrong_value_as_missed_and_spurious() -> None:
    got = slot_scores([
        ({"stock": "600519", "quantity": 200}, {"stock": "600519", "quantity": 100}),
        ({"amount": 500}, {"amount": 500.0, "payee": "李四"}),  # 500 == 500.0: canonical numbers compare by value
        ({"when": "2026-01-05T10:00:00"}, {}),
        ({}, {}),
    ])
    as_tuples = {name: (s.precision, s.recall, s.f1, s.support) for name, s in got.items()}
    assert as_tuples == {
        "amount": (1.0, 1.0, 1.0, 1),
        "payee": (0.0, 0.0, 0.0, 0),
        "quantity": (0.0, 0.0, 0.0, 1),
        "stock": (1.0, 1.0, 1.0, 1),
        "when": (0.0, 0.0, 0.0, 1),
    }


def test_diff_names_what_was_fixed_and_what_broke() -> None:
    change = diff({"查余额": False, "我要挂失": True, "转账": True, "gone": False}, {"查余额": True, "我要挂失": False, "转账": True, "new": False})
    assert (change.fixed, change.broke) == (["查余额"], ["我要挂失"])
    assert str(change) == "fixed 1, broke 1"


def outcome(text: str, expected: str, got: str, confidence: float = 0.9, **slots: Any) -> Outcome:
    return Outcome(text, expected, got, confidence, expected_slots=dict(slots), slots=dict(slots))


def test_summary_counts_out_of_scope_rejection_and_exact_slots() -> None:
    outcomes = [
        outcome("查余额", "balance_inquiry", "balance_inquiry"),
        outcome("今天天气怎么样", "nlu_fallback", "nlu_fallback"),
        outcome("放首歌", "nlu_fallback", "greet"),
        outcome("买两百股茅台", "stock_buy", "nlu_fallback", stock="600519"),
        Outcome("转五百", "transfer", "transfer", 0.8, {"amount": 500}, {"amount": 50}),
    ]
    summary = summarize(outcomes)["summary"]
    assert summary["accuracy"] == {"correct": 3, "rate": 0.6}
    assert summary["out_of_scope_rejected"] == {"rejected": 1, "expected": 2, "rate": 0.5}
    assert summary["in_scope_rejected"] == {"rejected": 1, "expected": 3, "rate": 0.3333}
    assert summary["slots_exact"] == {"exact": 4, "rate": 0.8}
    assert "mean_cer" not in summary
    no_out_of_scope = summarize(outcomes[:1])["summary"]["out_of_scope_rejected"]
    assert no_out_of_scope == {"rejected": 0, "expected": 0, "rate": None}  # no rate rather than a made-up 0


def test_a_report_writes_no_pin_and_no_whole_card_number() -> None:
    said = Outcome("卡号6222021001121234丢了", "card_loss", "card_loss", 0.9, {"pin": "246810"}, {"pin": "135790", "phone_number": "13800138000"})
    written = json.dumps(said.as_json(), ensure_ascii=False)
    assert "6222021001121234" not in written and "************1234" in written
    assert "246810" not in written and "135790" not in written
    assert said.as_json()["slots"] == {"pin": "******", "phone_number": "13800138000"}  # a phone number is no secret
    assert said.as_json()["slots_exact"] is False  # scored on the real values, which differ


class Tables(HTMLParser):
    """Cell texts of every <table id=...> in a page, and the <img> sources."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs)["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_a_second_run_reports_files_with_the_same_numbers_and_what_changed(tmp_path: Path) -> None:
    first = [outcome("查余额", "balance_inquiry", "balance_inquiry"), outcome("我要挂失", "card_loss", "greet", 0.51)]
    second = [outcome("查余额", "balance_inquiry", "transfer", 0.47), outcome("我要挂失", "card_loss", "card_loss")]
    meta = {"source": "hand-made", "models": ["m"]}
    save_run(tmp_path, "holdout", "tiny", meta, first)
    folder, report = save_run(tmp_path, "holdout", "tiny", meta, second)

    assert folder.parent == tmp_path / "holdout-tiny" and len(list(folder.parent.iterdir())) == 2
    on_disk = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert on_disk == report
    assert report["diff"]["summary"] == "fixed 1, broke 1"
    assert [e["key"] for e in report["diff"]["fixed"]] == ["我要挂失"]
    assert [(e["key"], e["before"], e["got"]) for e in report["diff"]["broke"]] == [("查余额", "balance_inquiry", "transfer")]

    page = Tables()
    page.feed((folder / "report.html").read_text(encoding="utf-8"))
    summary = dict(page.tables["summary"])
    assert summary["intent accuracy"] == f"{report['summary']['accuracy']['rate']:.4f} (1/2)" == "0.5000 (1/2)"
    assert summary["since the previous run"] == "fixed 1, broke 1"
    intents = {row[0]: row[1:] for row in page.tables["intents"][1:]}
    assert intents["card_loss"] == ["1.0000", "1.0000", "1.0000", "1"]
    assert intents["balance_inquiry"][1] == f"{report['intents']['balance_inquiry']['recall']:.4f}" == "0.0000"
    assert page.tables["misclassified"][1] == ["查余额", "balance_inquiry", "transfer", "0.4700"]
    assert [row[0] for row in page.tables["broke"][1:]] == ["查余额"]
    assert page.images and page.images[0].startswith("data:image/png;base64,")

    width, height = png_size(folder / "confusion.png")
    assert 300 <= width <= 2000 and 300 <= height <= 2000

    out = StringIO()
    print_report(Console(file=out, width=160), report, folder)
    text = out.getvalue()
    assert "0.5000 (1/2)" in text and "fixed 1, broke 1" in text and "查余额" in text


def test_the_confusion_png_grows_to_keep_27_intents_readable(tmp_path: Path) -> None:
    labels = [f"intent_{n:02d}" for n in range(27)]
    folder, _ = save_run(tmp_path, "holdout", "wide", {"source": "", "models": []}, [outcome(t, t, t) for t in labels])
    width, height = png_size(folder / "confusion.png")
    assert width >= 900 and height >= 900  # ~30 px per label


def test_holdout_tsv_reads_slots_as_written_and_when_it_was_said(tmp_path: Path) -> None:
    path = tmp_path / "set.tsv"
    path.write_text(
        "text\tintent\tslots_json\tnow\n"
        "半个小时以后打给我\tcallback_request\t{\"when\": \"2026-01-05T09:30:00\"}\t2026-01-05T09:00:00\n"
        "今天天气怎么样\tout_of_scope\t{}\t\n",
        encoding="utf-8",
    )
    first, second = read_holdout(path)
    assert (first.intent, first.slots, first.now) == ("callback_request", {"when": "2026-01-05T09:30:00"}, datetime(2026, 1, 5, 9))
    assert (second.intent, second.now) == ("nlu_fallback", None)  # out_of_scope is reported as nlu_fallback


def test_holdout_yaml_slots_are_the_annotations_made_canonical(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "set.yml"
    path.write_text(
        'version: "3.1"\nnlu:\n- intent: stock_buy\n  examples: |\n    - 买[两百股](quantity)[茅台](stock)\n'
        "- intent: callback_request\n  examples: |\n    - [明天上午10点](when)打给我\n    - 我在开会 [等会](when)再打\n",
        encoding="utf-8",
    )
    vocabulary = Vocabulary.load(config.nlu_dir)
    buy, callback, vague = read_holdout(path)
    now = datetime(2026, 1, 5, 9, 0)
    assert buy.text == "买两百股茅台"
    assert buy.expected_slots(vocabulary, now) == {"quantity": 200, "stock": "600519"}
    assert callback.expected_slots(vocabulary, now) == {"when": "2026-01-06T10:00:00"}
    assert vague.expected_slots(vocabulary, now) == {}  # 等会 has no canonical time: not expected


@pytest.mark.parametrize("name, content, words", [
    ("bad.tsv", "text\tintent\tslots_json\n查余额\tbalance_inquiry\t{amount: 5}\n", ["bad.tsv:2:", "slots_json", "JSON"]),
    ("bad.tsv", "text\tintent\n查余额\tbalance_inquiry\n", ["bad.tsv:1:", "slots_json"]),
    ("bad.tsv", "text\tintent\tslots_json\tnow\n查余额\tbalance_inquiry\t{}\t明天\n", ["bad.tsv:2:", "ISO 8601"]),
    ("bad.yml", 'version: "3.1"\nnlu:\n- intent: transfer\n  examples: |\n    - 转[五百]{"entity": amount}\n', ["bad.yml:5:", "not JSON"]),
    ("bad.yml", "nlu: [unclosed\n", ["bad.yml:"]),
])
def test_a_broken_holdout_is_one_error_with_file_and_line(tmp_path: Path, name: str, content: str, words: list[str]) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as error:
        read_holdout(path)
    for word in words:
        assert word in str(error.value)


def test_the_spoken_set_reader_reads_banking_dev(banking_dev: list) -> None:
    assert len(banking_dev) == 76
    first = banking_dev[0]
    assert (first.file, first.channel, first.utterance, first.intent, first.slots) == ("clean/001.wav", "clean", "我想买入股票", "stock_buy", {})
    assert {r.channel for r in banking_dev} == {"clean", "phone"}


def test_a_spoken_set_row_naming_a_missing_recording_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "index.tsv").write_text("file\tutterance\texpected_intent\texpected_slots\nnone.wav\t查余额\tbalance_inquiry\t{}\n", encoding="utf-8")
    with pytest.raises(AssistantError, match=r"index.tsv:2: none.wav: no such file"):
        read_spoken_set(tmp_path)


def test_folds_deal_every_intent_evenly() -> None:
    from assistant.nlu.eval.crossval import deal

    labels = ["a"] * 10 + ["b"] * 5 + ["c"] * 1
    folds = deal(labels, 5, seed=7)
    assert deal(labels, 5, seed=7) == folds  # same data, same folds: runs can be compared
    for label, count in (("a", 10), ("b", 5)):
        assert sorted(f for f, l in zip(folds, labels) if l == label) == sorted(list(range(5)) * (count // 5))


def test_fold_data_is_nlu_data_without_the_held_out_examples(config: Config, tmp_path: Path) -> None:
    from assistant.nlu.eval.crossval import write_data
    from domain.nlu_data import read_items

    cards = Path("cards.yml")
    items = read_items(config.nlu_dir / cards, cards)
    held_out = {(cards, 0, 0), (cards, 1, 2)}
    write_data({cards: items}, held_out, tmp_path)
    again = read_items(tmp_path / cards, cards)
    assert [(i.kind, i.name) for i in again] == [(i.kind, i.name) for i in items]
    for i, (before, after) in enumerate(zip(items, again)):
        assert [e.text for e in after.entries] == [e.text for j, e in enumerate(before.entries) if (cards, i, j) not in held_out]
    assert len(again[0].entries) == len(items[0].entries) - 1


def test_fold_data_keeps_stock_codes_as_text(config: Config, tmp_path: Path) -> None:
    """Rasa reads YAML 1.2, where a bare 000858 is the number 858 and fails its schema."""
    from assistant.nlu.eval.crossval import write_data
    from domain.nlu_data import read_items

    stocks = Path("lookups/stocks.yml")
    write_data({stocks: read_items(config.nlu_dir / stocks, stocks)}, set(), tmp_path)
    assert '- synonym: "000858"' in (tmp_path / stocks).read_text(encoding="utf-8")


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ASSISTANT), *map(str, args)], capture_output=True, text=True, timeout=1800, env={**os.environ, **(env or {})})


def only_run(root: Path) -> tuple[Path, dict[str, Any]]:
    (folder,) = [p.parent for p in root.glob("*/*/report.json")]
    return folder, json.loads((folder / "report.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("args, words", [
    ([], ["nothing to test", "--holdout"]),
    (["--epochs", "5"], ["--epochs", "--folds"]),
    (["--holdout", "BAD"], ["bad.tsv:2:", "slots_json"]),
])
def test_cli_bad_input_is_one_error_line_before_any_model_loads(tmp_path: Path, args: list[str], words: list[str]) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("text\tintent\tslots_json\n查余额\tbalance_inquiry\t{amount: 5}\n", encoding="utf-8")
    result = run("nlu", "test", *[str(bad) if a == "BAD" else a for a in args], "--out", tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert all(word in error for word in words), error
    assert not list(tmp_path.glob("*/*/report.json"))


@pytest.mark.slow
def test_cli_holdout_run_through_the_real_nlu(assistant: Any, tmp_path: Path) -> None:
    holdout = tmp_path / "mini.tsv"
    holdout.write_text(
        "text\tintent\tslots_json\tnow\n"
        "帮我给张伟转两千块钱\ttransfer\t{\"payee\": \"张伟\", \"amount\": 2000}\t\n"
        "你们一个小时以后再给我打电话吧\tcallback_request\t{\"when\": \"2026-01-05T10:00:00\"}\t2026-01-05T09:00:00\n"
        "我的银行卡找不着了 帮我挂失\tcard_loss\t{}\t\n"
        "今天天气怎么样\tnlu_fallback\t{}\t\n"
        "查余额\tstock_buy\t{}\t\n",  # labelled wrong on purpose: must show up as misclassified
        encoding="utf-8",
    )
    result = run("nlu", "test", "--holdout", holdout, "--out", tmp_path / "reports")
    assert result.returncode == 0, result.stderr
    folder, report = only_run(tmp_path / "reports")
    assert folder.parent.name == "holdout-mini"
    assert report["summary"]["examples"] == 5
    wrong = [e for e in report["examples"] if not e["correct"]]
    assert [(e["text"], e["got"]) for e in wrong] == [("查余额", "balance_inquiry")]
    assert report["summary"]["accuracy"] == {"correct": 4, "rate": 0.8}
    assert report["summary"]["out_of_scope_rejected"] == {"rejected": 1, "expected": 1, "rate": 1.0}
    transfer = report["examples"][0]
    assert transfer["slots"] == {"payee": "张伟", "amount": 2000} and transfer["slots_exact"]
    assert report["examples"][1]["slots"] == {"when": "2026-01-05T10:00:00"}
    assert report["models"] == [assistant.understanding.parser.model.name]
    assert "0.8000 (4/5)" in result.stdout and "查余额" in result.stdout
    assert (folder / "report.html").exists() and (folder / "confusion.png").exists()


@pytest.mark.slow
def test_cli_voice_run_hears_8_and_16_khz_recordings(assistant: Any, banking_dev: list, tmp_path: Path) -> None:
    chosen = [r for r in banking_dev if r.file in ("clean/002.wav", "phone/002.wav", "clean/016.wav")]
    folder = tmp_path / "three"
    lines = ["file\tutterance\texpected_intent\texpected_slots"]
    for request in chosen:
        (folder / request.channel).mkdir(parents=True, exist_ok=True)
        shutil.copy(request.path, folder / request.file)
        lines.append(f"{request.file}\t{request.utterance}\t{request.intent}\t{json.dumps(request.slots, ensure_ascii=False)}")
    (folder / "index.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run("nlu", "test", "--voice", folder, "--out", tmp_path / "reports")
    assert result.returncode == 0, result.stderr
    run_folder, report = only_run(tmp_path / "reports")
    assert run_folder.parent.name == "voice-three"
    examples = {e["file"]: e for e in report["examples"]}
    assert set(examples) == {"clean/002.wav", "phone/002.wav", "clean/016.wav"}
    for example in examples.values():
        assert example["segments"] >= 1 and example["transcript"]
        assert 0 <= example["cer"] <= 1
    assert examples["clean/002.wav"]["cer"] <= 0.2  # clean speech of 买入两百股招商银行 is heard almost right
    assert report["summary"]["mean_cer"] == round(sum(e["cer"] for e in examples.values()) / 3, 4)
    assert report["asr"]
    page = Tables()
    page.feed((run_folder / "report.html").read_text(encoding="utf-8"))
    transcripts = {row[0]: row for row in page.tables["transcripts"][1:]}
    assert transcripts["phone/002.wav"][2] == examples["phone/002.wav"]["transcript"]
    assert transcripts["phone/002.wav"][4] == f"{examples['phone/002.wav']['cer']:.4f}"


@pytest.mark.slow
def test_cli_kfold_on_a_tiny_data_folder(config: Config, tmp_path: Path) -> None:
    """Three intents with a dozen examples each, 2 folds of 60 epochs (about 2 minutes)."""
    root = tmp_path / "project"
    shutil.copytree(config.intents_dir, root / "intents")
    shutil.copytree(config.nlu_dir / "lookups", root / "nlu_data" / "lookups")
    shutil.copy(config.nlu_dir / "regexes.yml", root / "nlu_data")
    nlu = yaml.safe_load((config.nlu_dir / "banking.yml").read_text(encoding="utf-8"))["nlu"]
    kept = [
        {"intent": item["intent"], "examples": "".join(item["examples"].splitlines(keepends=True)[:12])}
        for item in nlu if item.get("intent") in ("balance_inquiry", "transfer", "pay_bill")
    ]
    (root / "nlu_data" / "banking.yml").write_text(yaml.safe_dump({"version": "3.1", "nlu": kept}, allow_unicode=True), encoding="utf-8")
    shutil.copy(config.root / "config.yml", root)

    result = run("nlu", "test", "--folds", "2", "--epochs", "60", "--out", tmp_path / "reports", env={"ASSISTANT_CONFIG": str(root / "config.yml")})
    assert result.returncode == 0, result.stderr
    folder, report = only_run(tmp_path / "reports")
    assert folder.parent.name == "kfold-nlu_data-k2-e60"
    assert (report["folds"], report["epochs"], len(report["models"])) == (2, 60, 2)
    assert report["summary"]["examples"] == 36  # every example tested once, by the model that did not see it
    assert report["summary"]["accuracy"]["rate"] >= 0.6  # each fold's model learnt from the other half
    assert sorted({e["expected"] for e in report["examples"]}) == ["balance_inquiry", "pay_bill", "transfer"]
    assert report["intents"]["transfer"]["support"] == 12
