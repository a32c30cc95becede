"""`assistant nlu validate`: the checks of nlu_data/ and intents/, each finding at its file and line.

Each check is tried on a copy of the project's own data with one fault added. Faults go at the end
of a file, over a line or into a file the data has no findings in, so the findings the data already
has keep their lines, and a test compares the findings after the change with those before it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.nlu.train import model_path
from assistant.nlu.validate import ERROR, MISALIGNED, WARNING, validate
from domain.config import Config, load_config

REPO = Path(__file__).resolve().parents[1]
ASSISTANT = Path(sys.executable).with_name("assistant")

Found = tuple[str, str, str, int]  # level, kind, path, line


def copy_project(folder: Path) -> Config:
    for part in ("nlu_data", "intents"):
        shutil.copytree(REPO / part, folder / part)
    shutil.copy(REPO / "config.yml", folder / "config.yml")
    return load_config(folder / "config.yml")


def found(config: Config) -> set[Found]:
    return {(f.level, f.kind, str(f.path), f.line) for f in validate(config, tokenizer=False)}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> set[Found]:
    return found(copy_project(tmp_path_factory.mktemp("pristine")))


@pytest.fixture()
def project(tmp_path: Path) -> Config:
    return copy_project(tmp_path)


def added(config: Config, baseline: set[Found]) -> set[Found]:
    return found(config) - baseline


def append(config: Config, name: str, text: str) -> int:
    """Append `text` to nlu_data/`name`; the line number its first line gets."""
    path = config.nlu_dir / name
    old = path.read_text(encoding="utf-8")
    if not old.endswith("\n"):
        old += "\n"
    path.write_text(old + text, encoding="utf-8")
    return old.count("\n") + 1


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip() == text)


def insert_after(path: Path, text: str, new_line: str) -> int:
    """Insert `new_line` after the first line that is `text` (stripped); its line number."""
    lines = path.read_text(encoding="utf-8").splitlines()
    at = line_of(path, text)
    lines.insert(at, new_line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return at + 1


def message_at(config: Config, kind: str, path: str, line: int) -> str:
    return next(f.message for f in validate(config, tokenizer=False)
                if (f.kind, str(f.path), f.line) == (kind, path, line))


# --- the project's own data -----------------------------------------------------------------------------


def test_the_project_data_has_no_errors() -> None:
    findings = validate(load_config(), tokenizer=False)
    assert [str(f) for f in findings if f.level == ERROR] == []
    assert all(f.path.parts[0] in ("nlu_data", "intents") and f.line > 0 for f in findings)


# --- files that cannot be read ---------------------------------------------------------------------------


def test_broken_yaml_is_one_error_at_its_line(project: Config, baseline: set[Found]) -> None:
    line = insert_after(project.nlu_dir / "banking.yml", "- intent: balance_inquiry", "  intent: again")
    assert found(project) == {(ERROR, "broken-file", "nlu_data/banking.yml", line)}
    assert "duplicate key 'intent'" in message_at(project, "broken-file", "nlu_data/banking.yml", line)


def test_an_item_rasa_cannot_read_is_an_error(project: Config) -> None:
    line = append(project, "cards.yml", "- examples: |\n    - 我的卡\n")
    assert found(project) == {(ERROR, "broken-file", "nlu_data/cards.yml", line)}


def test_a_broken_catalog_is_an_error_at_its_line(project: Config) -> None:
    line = insert_after(project.intents_dir / "cards.yml", "intents: [card_loss]", "    colour: red")
    assert found(project) == {(ERROR, "broken-file", "intents/cards.yml", line)}
    assert "unknown key 'colour'" in message_at(project, "broken-file", "intents/cards.yml", line)


# --- examples ----------------------------------------------------------------------------------------------


def test_an_example_under_two_intents_is_an_error_and_twice_under_one_a_warning(
        project: Config, baseline: set[Found]) -> None:
    """The later of the two (in file order) is the finding; its message names the earlier."""
    first = append(project, "service.yml", "- intent: greet\n  examples: |\n    - 查余额\n    - 买200股茅台\n    - 您好\n")
    assert added(project, baseline) == {
        (ERROR, "duplicate-example", "nlu_data/service.yml", first + 2),
        (ERROR, "duplicate-example", "nlu_data/service.yml", first + 3),  # 买[200](quantity)股[茅台](stock)
        (WARNING, "duplicate-example", "nlu_data/service.yml", first + 4),
    }
    balance = line_of(project.nlu_dir / "banking.yml", "- 查余额")
    message = message_at(project, "duplicate-example", "nlu_data/service.yml", first + 2)
    assert "'balance_inquiry'" in message and f"nlu_data/banking.yml:{balance}" in message and "'greet'" in message


def test_a_line_rasa_skips_is_a_warning(project: Config, baseline: set[Found]) -> None:
    first = append(project, "dialogue.yml", "- intent: greet\n  examples: |\n    - 喂喂您好\n    您好您好\n")
    assert added(project, baseline) == {(WARNING, "skipped-line", "nlu_data/dialogue.yml", first + 3)}


def test_an_annotation_rasa_cannot_read_is_an_error(project: Config, baseline: set[Found]) -> None:
    first = append(project, "securities.yml", '- intent: stock_buy\n  examples: |\n    - 买[茅台]{"entity": stock}\n')
    assert added(project, baseline) == {(ERROR, "bad-annotation", "nlu_data/securities.yml", first + 2)}


@pytest.mark.parametrize("annotation", ["[两百](quantity", '[两百]{"entity": "quantity"', "[两百][{"])
def test_an_unclosed_annotation_is_an_error_at_its_line(project: Config, baseline: set[Found], annotation: str) -> None:
    first = append(project, "securities.yml", f"- intent: stock_buy\n  examples: |\n    - 买{annotation}股茅台\n")
    assert added(project, baseline) == {(ERROR, "bad-annotation", "nlu_data/securities.yml", first + 2)}
    assert "not closed" in message_at(project, "bad-annotation", "nlu_data/securities.yml", first + 2)


def test_a_nul_byte_is_an_error_at_its_own_line(project: Config) -> None:
    first = append(project, "cards.yml", "- intent: card_lost\n  examples: |\n    - 我的卡\x00丢了\n")
    assert found(project) == {(ERROR, "broken-file", "nlu_data/cards.yml", first + 2)}
    assert "#x0000" in message_at(project, "broken-file", "nlu_data/cards.yml", first + 2)


@pytest.mark.parametrize("text", ["", "nlu: []\n", 'version: "3.1"\nnlu:\n'])
def test_an_empty_lookup_file_is_an_error_that_names_it(project: Config, baseline: set[Found], text: str) -> None:
    (project.nlu_dir / "lookups" / "funds.yml").write_text(text, encoding="utf-8")
    assert added(project, baseline) == {(ERROR, "empty-file", "nlu_data/lookups/funds.yml", 0)}


@pytest.mark.parametrize("count, level", [(1, ERROR), (5, WARNING)])
def test_too_few_examples(project: Config, baseline: set[Found], count: int, level: str) -> None:
    insert_after(project.intents_dir / "dialogue.yml", "replies:", "  thanks: 不客气。")
    examples = "".join(f"    - 谢谢{'你' * n}\n" for n in range(count))
    first = append(project, "dialogue.yml", f"- intent: thanks\n  examples: |\n{examples}")
    assert added(project, baseline) == {(level, "few-examples", "nlu_data/dialogue.yml", first)}


# --- intents and the catalog -------------------------------------------------------------------------------


def test_an_intent_the_catalog_does_not_know_is_an_error(project: Config, baseline: set[Found]) -> None:
    first = append(project, "out_of_scope.yml", "- intent: weather\n  examples: |\n    - 火星上有水吗\n    - 恐龙是怎么灭绝的\n")
    assert added(project, baseline) == {
        (ERROR, "unknown-intent", "nlu_data/out_of_scope.yml", first),
        (WARNING, "few-examples", "nlu_data/out_of_scope.yml", first),
    }


def test_a_catalog_intent_without_examples_is_an_error(project: Config, baseline: set[Found]) -> None:
    line = insert_after(project.intents_dir / "dialogue.yml", "replies:", "  thanks: 不客气。")
    assert added(project, baseline) == {(ERROR, "untrained-intent", "intents/dialogue.yml", line)}


# --- entities and slots ----------------------------------------------------------------------------------------


def test_an_entity_nothing_declares_is_an_error(project: Config, baseline: set[Found]) -> None:
    first = append(project, "securities.yml", "- intent: stock_buy\n  examples: |\n    - 帮我买点[黄金](metal)\n")
    assert added(project, baseline) == {(ERROR, "undeclared-entity", "nlu_data/securities.yml", first + 2)}


def test_a_slot_no_example_annotates_is_a_warning(project: Config, baseline: set[Found]) -> None:
    annotated = re.compile(r"\[([^\]]+)\]\(phone_number\)")
    for path in project.nlu_dir.glob("*.yml"):  # the same lines, without the annotations
        path.write_text(annotated.sub(r"\1", path.read_text(encoding="utf-8")), encoding="utf-8")
    callback = (project.intents_dir / "service.yml").read_text(encoding="utf-8").splitlines()
    slot = next(n for n, line in enumerate(callback, 1) if line.strip().startswith("phone_number:"))
    insurance = (project.intents_dir / "insurance.yml").read_text(encoding="utf-8").splitlines()
    contact = next(n for n, line in enumerate(insurance, 1) if line.strip().startswith("phone_number:"))
    regex = line_of(project.nlu_dir / "regexes.yml", "- regex: phone_number")
    assert added(project, baseline) == {
        (WARNING, "unfilled-slot", "intents/service.yml", slot),
        (WARNING, "unfilled-slot", "intents/insurance.yml", contact),
        (WARNING, "unannotated-table", "nlu_data/regexes.yml", regex),
    }


def test_an_annotated_value_the_slot_cannot_read_is_a_warning(project: Config, baseline: set[Found]) -> None:
    first = append(project, "banking.yml", "- intent: forex_trade\n  examples: |\n    - 我要买[贝壳币](currency)\n")
    assert added(project, baseline) == {(WARNING, "uncanonical-value", "nlu_data/banking.yml", first + 2)}


# --- lookup tables, synonyms, regexes ---------------------------------------------------------------------------


def test_an_empty_lookup_is_an_error(project: Config, baseline: set[Found]) -> None:
    first = append(project, "regexes.yml", "- lookup: branch\n  examples: |\n")
    assert added(project, baseline) == {
        (ERROR, "empty-item", "nlu_data/regexes.yml", first),
        (WARNING, "unannotated-table", "nlu_data/regexes.yml", first),
    }


def test_a_lookup_no_example_annotates_is_a_warning(project: Config, baseline: set[Found]) -> None:
    first = append(project, "regexes.yml", "- lookup: branch\n  examples: |\n    - 海淀支行\n    - 朝阳支行\n")
    assert added(project, baseline) == {(WARNING, "unannotated-table", "nlu_data/regexes.yml", first)}


def test_a_duplicate_lookup_entry_is_a_warning(project: Config, baseline: set[Found]) -> None:
    first = append(project, "securities.yml", "- lookup: stock\n  examples: |\n    - 茅台\n")
    assert added(project, baseline) == {(WARNING, "duplicate-entry", "nlu_data/securities.yml", first + 2)}
    table = (project.nlu_dir / "lookups" / "stocks.yml").read_text(encoding="utf-8").splitlines()
    listed = table.index("    - 茅台", table.index("- lookup: stock")) + 1
    assert f"nlu_data/lookups/stocks.yml:{listed}" in message_at(
        project, "duplicate-entry", "nlu_data/securities.yml", first + 2)


def test_an_entry_in_two_tables_is_a_warning_unless_examples_annotate_both(
        project: Config, baseline: set[Found]) -> None:
    first = append(project, "regexes.yml", "- lookup: bank\n  examples: |\n    - 中国银行\n    - 招商银行\n")
    append(project, "banking.yml", "- intent: transfer\n  examples: |\n    - 转[500](amount)块到我[中国银行](bank)的卡上\n")
    # 中国银行 is annotated as a stock elsewhere and as a bank here; 招商银行 only as a stock
    assert added(project, baseline) == {(WARNING, "shared-entry", "nlu_data/regexes.yml", first + 3)}


def test_a_synonym_mapped_to_two_values_is_an_error(project: Config, baseline: set[Found]) -> None:
    first = append(project, "securities.yml", '- synonym: "600036"\n  examples: |\n    - 茅台\n')
    assert added(project, baseline) == {(ERROR, "synonym-conflict", "nlu_data/securities.yml", first + 2)}
    message = message_at(project, "synonym-conflict", "nlu_data/securities.yml", first + 2)
    assert "'600036'" in message and "'600519'" in message and "nlu_data/lookups/stocks.yml:" in message


def test_a_synonym_missing_from_its_lookup_table_is_a_warning(project: Config, baseline: set[Found]) -> None:
    first = append(project, "securities.yml", '- synonym: "600519"\n  examples: |\n    - 茅台酒\n')
    assert added(project, baseline) == {(WARNING, "synonym-not-in-lookup", "nlu_data/securities.yml", first + 2)}


def test_an_invalid_regex_is_an_error(project: Config, baseline: set[Found]) -> None:
    first = append(project, "regexes.yml", "- regex: account_number\n  examples: |\n    - (\\d{16,19}\n")
    assert added(project, baseline) == {
        (ERROR, "bad-regex", "nlu_data/regexes.yml", first + 2),
        (WARNING, "unannotated-table", "nlu_data/regexes.yml", first),
    }


@pytest.mark.slow
def test_an_entity_inside_a_token_is_an_error_and_the_project_has_none(project: Config) -> None:
    """Jieba alone merges 500块 or 给李四 into one token and Rasa drops such entities; the project's tokenizer
    keeps every annotated entity whole, but an entity on 茅 inside 茅台 cannot be. ~15 s: TensorFlow."""
    first = append(project, "securities.yml", "- intent: stock_buy\n  examples: |\n    - 帮我买[茅](stock)台股票\n")
    misaligned = [f for f in validate(project) if f.kind == MISALIGNED]
    assert [(f.level, str(f.path), f.line) for f in misaligned] == [(ERROR, "nlu_data/securities.yml", first + 2)]
    assert "茅台" in misaligned[0].message  # the tokens are shown


# --- the command ---------------------------------------------------------------------------------------------------


def run_validate(config: Config, *options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_CONFIG": str(config.root / "config.yml")}
    return subprocess.run([str(ASSISTANT), "nlu", "validate", "--quick", *options], cwd=config.root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_command_lists_errors_then_warnings_then_a_summary_and_fails(project: Config) -> None:
    first = append(project, "dialogue.yml", "- intent: greet\n  examples: |\n    - 查余额\n    - 你好\n")
    result = run_validate(project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    errors, warnings = lines.index("errors:"), lines.index("warnings:")
    assert lines[errors + 1].startswith(f"nlu_data/dialogue.yml:{first + 2}: ")
    assert lines[errors + 2] == "" and errors < warnings
    assert f"nlu_data/dialogue.yml:{first + 3}: " in "\n".join(lines[warnings:])
    assert re.fullmatch(r"1 error, \d+ warnings \(tokenizer alignment not checked\)", lines[-1])


def test_command_passes_with_warnings_unless_strict(project: Config) -> None:
    append(project, "dialogue.yml", "- intent: greet\n  examples: |\n    - 你好\n")
    result = run_validate(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "errors:" not in result.stdout and result.stdout.splitlines()[0] == "warnings:"
    assert run_validate(project, "--strict").returncode == 1


def test_training_refuses_data_with_errors_and_trains_nothing(project: Config) -> None:
    first = append(project, "dialogue.yml", "- intent: greet\n  examples: |\n    - 查余额\n    - 你好\n")
    env = {**os.environ, "ASSISTANT_CONFIG": str(project.root / "config.yml")}
    result = subprocess.run([str(ASSISTANT), "nlu", "train"], cwd=project.root, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"nlu_data/dialogue.yml:{first + 2}: " in result.stderr and "Traceback" not in result.stderr
    assert not model_path(project).exists()
