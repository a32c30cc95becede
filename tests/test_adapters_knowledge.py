"""The knowledge base: answers from adapters/knowledge/*.yml, nothing for questions it does not cover,
and file:line errors for a broken file."""
from __future__ import annotations

from pathlib import Path

import pytest
from sandbox_bank import bank, knowledge, seeded_bank_file, vocabulary  # noqa: F401 - fixtures

from adapters.knowledge_base import KnowledgeBase
from domain.errors import DataFileError


@pytest.mark.parametrize("question, title", [
    ("活期存款的利息是多少", "活期存款利率"),
    ("存三年定期利率多少", "定期存款利率"),
    ("请问你们周末营业吗", "网点营业时间"),
    ("人工客服几点下班", "电话银行服务时间"),
    ("股票什么时候开盘", "股票交易时间"),
    ("最近的网点在哪", "附近网点查询"),
    ("跨行取款要手续费吗", "自助银行和取款机"),
    ("怎么申请信用卡", "信用卡申请"),
    ("一年能换多少美元", "外汇购汇额度"),
])
def test_questions_are_answered_from_the_yaml(knowledge, question, title):
    outcome = knowledge.answer(question)
    assert (outcome.status, outcome.data["title"]) == ("ok", title)
    assert outcome.data["answer"] and outcome.data["score"] >= knowledge.threshold


@pytest.mark.parametrize("question", ["今天天气怎么样", "给我放首歌", "电影几点开始", "怎么做红烧肉", "讲个笑话"])
def test_unrelated_questions_have_no_answer(knowledge, question):
    outcome = knowledge.answer(question)
    assert (outcome.status, outcome.reason) == ("rejected", "no_answer")
    assert outcome.data["score"] < knowledge.threshold


def test_the_knowledge_action_answers_through_the_back_end(bank):
    outcome = bank.run("knowledge.answer", customer=None, question="房贷利率是多少")
    assert outcome.data["title"] == "个人住房贷款利率" and "3.15%" in outcome.data["answer"]
    assert bank.run("knowledge.answer", customer=None, question="   ").reason == "bad_request"


def write(folder: Path, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "faq.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, line, problem", [
    ("entries:\n  - title: 利率\n    answer: [0.1%\n", 4, "expected ',' or ']'"),
    ("entries:\n  - title: 利率\n    questions: [利率]\n", 2, "entry needs `answer:` text"),
    ("entries:\n  - title: 利率\n    answer: 一年1.10%\n    questions: 利率多少\n", 4, "must be a list of texts"),
    ("entries:\n  - title: 利率\n    answer: 一年1.10%\n    anwser: 一年1.10%\n", 4, "unknown key 'anwser'"),
    ("entries:\n  - 利率\n", 1, "each entry is a mapping"),
    ("faq:\n  - title: 利率\n", 1, "an `entries:` list"),
])
def test_a_broken_knowledge_file_is_reported_with_file_and_line(tmp_path, text, line, problem):
    path = write(tmp_path / "knowledge", text)
    with pytest.raises(DataFileError) as error:
        KnowledgeBase(path.parent)
    assert str(error.value).startswith(f"{path}:{line}: ") and problem in str(error.value)


def test_an_empty_knowledge_folder_is_an_error(tmp_path):
    with pytest.raises(DataFileError, match="no knowledge entries"):
        KnowledgeBase(tmp_path)
