"""A test run's report shown three ways: the terminal, a self-contained HTML page and the confusion PNG.

The terminal and the page are built from the same rows, formatted from report.json's numbers, so
they cannot disagree with it.
"""
from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

Rows = list[list[str]]


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    columns: list[str]
    rows: Rows


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _slots(slots: dict[str, Any]) -> str:
    return json.dumps(slots, ensure_ascii=False, sort_keys=True)


def summary_rows(report: dict[str, Any]) -> Rows:
    s = report["summary"]
    n = s["examples"]
    rows = [
        ["examples", str(n)],
        ["intent accuracy", f"{number(s['accuracy']['rate'])} ({s['accuracy']['correct']}/{n})"],
        ["macro F1", number(s["macro_f1"])],
        ["out of scope rejected", _rejected(s["out_of_scope_rejected"])],
        ["in scope wrongly rejected", _rejected(s["in_scope_rejected"])],
        ["slots all right", f"{number(s['slots_exact']['rate'])} ({s['slots_exact']['exact']}/{n})"],
    ]
    if "mean_cer" in s:
        rows.append(["mean ASR CER", number(s["mean_cer"])])
    if report.get("diff"):
        rows.append(["since the previous run", report["diff"]["summary"]])
    return rows


def _rejected(counts: dict[str, Any]) -> str:
    return f"{number(counts['rate'])} ({counts['rejected']}/{counts['expected']})"


def _score_rows(scores: dict[str, dict[str, Any]]) -> Rows:
    return [[name, number(s["precision"]), number(s["recall"]), number(s["f1"]), str(s["support"])] for name, s in scores.items()]


def _heard(example: dict[str, Any]) -> list[str]:
    return [example["file"], example["transcript"]] if "file" in example else []


def sections(report: dict[str, Any]) -> list[Section]:
    """Every table of the report but the summary, in reading order."""
    voice = report["kind"] == "voice"
    heard = ["file", "heard"] if voice else []
    examples = report["examples"]
    wrong = [e for e in examples if not e["correct"]]
    slot_misses = [e for e in examples if not e["slots_exact"]]
    found: list[Section] = []
    if report.get("diff"):
        for change in ("fixed", "broke"):
            rows = [[e["key"], e["expected"], e["before"], e["got"], number(e["confidence"])] for e in report["diff"][change]]
            found.append(Section(change, f"{change} since {report['diff']['previous']}", ["example", "expected", "got before", "got now", "confidence"], rows))
    found += [
        Section("intents", "intents", ["intent", "precision", "recall", "F1", "support"], _score_rows(report["intents"])),
        Section(
            "misclassified",
            f"misclassified ({len(wrong)})",
            ["text", *heard, "expected", "got", "confidence"],
            [[e["text"], *_heard(e), e["expected"], e["got"], number(e["confidence"])] for e in wrong],
        ),
        Section("slots", "slots", ["slot", "precision", "recall", "F1", "support"], _score_rows(report["slots"])),
        Section(
            "slot-misses",
            f"slots not all right ({len(slot_misses)})",
            ["text", *heard, "expected slots", "found"],
            [[e["text"], *_heard(e), _slots(e["expected_slots"]), _slots(e["slots"])] for e in slot_misses],
        ),
    ]
    if voice:
        found.append(Section(
            "transcripts",
            "transcripts",
            ["file", "utterance", "heard", "segments", "CER", "expected", "got"],
            [[e["file"], e["text"], e["transcript"], str(e["segments"]), number(e["cer"]), e["expected"], e["got"]] for e in examples],
        ))
    return found


def title(report: dict[str, Any]) -> str:
    return f"NLU test: {report['kind']} {report['name']}"


def print_report(console: Console, report: dict[str, Any], folder: Path) -> None:
    shown = {"fixed", "broke", "intents", "misclassified", "slot-misses"}  # the rest is in the HTML page
    console.print(_table(title(report), ["", ""], summary_rows(report), show_header=False))
    for section in sections(report):
        if section.rows and section.id in shown:
            console.print(_table(section.title, section.columns, section.rows))
    console.print(f"report: {folder / 'report.html'}", highlight=False, soft_wrap=True)


def _table(name: str, columns: list[str], rows: Rows, show_header: bool = True) -> Table:
    table = Table(title=name, box=box.SIMPLE_HEAD, show_header=show_header, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def html_page(report: dict[str, Any], confusion_png: bytes) -> str:
    esc = html.escape
    image = base64.b64encode(confusion_png).decode()
    parts = [
        f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title(report))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(title(report))}</h1>",
        f"<p>{esc(report['source'])} · {esc(report['created'])} · NLU model {esc(', '.join(report['models']))}"
        + (f" · ASR {esc(report['asr'])}" if "asr" in report else "") + "</p>",
        _html_table("summary", [], summary_rows(report)),
    ]
    for section in sections(report):
        parts.append(f"<h2>{esc(section.title)}</h2>")
        parts.append(_html_table(section.id, section.columns, section.rows))
        if section.id == "intents":
            parts.append("<h2>confusion matrix</h2>")
            parts.append(f"<img alt=\"confusion matrix, rows expected, columns got\" src=\"data:image/png;base64,{image}\">")
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_table(table_id: str, columns: list[str], rows: Rows) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table id=\"{table_id}\">" + (f"<thead><tr>{head}</tr></thead>" if head else "") + f"<tbody>{body}</tbody></table>"


_CSS = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}th{background:#eee}img{max-width:100%}"
)


def confusion_png(labels: list[str], matrix: list[list[int]]) -> bytes:
    """Rows expected, columns got; colour is the share of the row, the number the count."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    n = len(labels)
    side = max(4.0, 0.3 * n + 2.5)
    figure = Figure(figsize=(side, side), dpi=100)
    axes = figure.subplots()
    shares = [[count / max(1, sum(row)) for count in row] for row in matrix]
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(n), labels, rotation=90, fontsize=8)
    axes.set_yticks(range(n), labels, fontsize=8)
    axes.set_xlabel("got")
    axes.set_ylabel("expected")
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                axes.text(j, i, str(count), ha="center", va="center", fontsize=7, color="white" if shares[i][j] > 0.5 else "black")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
