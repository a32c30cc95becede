"""Near-homophones of domain words, repaired by sound with the runtime's own terms (catalog and vocabulary)."""
import csv
import re
import shutil
from pathlib import Path

import pytest

from assistant.catalog.catalog import Catalog
from assistant.nlu.normalize import Normalizer, _syllable_cost, clean_text
from domain.config import load_config
from domain.errors import DataFileError
from domain.nlu_data import data_files, parse_example, read_items
from domain.vocabulary import Vocabulary

CONFIG = load_config()
CATALOG = Catalog.load(CONFIG.intents_dir)
VOCABULARY = Vocabulary.load(CONFIG.nlu_dir)
TERMS = CATALOG.vocabulary() + VOCABULARY.terms()
HOLDOUT = Path(__file__).parent / "data" / "nlu_holdout.tsv"


def _lines() -> list[str]:
    """The held-out text lines and every intent example of nlu_data."""
    with HOLDOUT.open(encoding="utf-8") as rows:
        lines = [row["text"] for row in csv.DictReader(rows, delimiter="\t")]
    for path in data_files(CONFIG.nlu_dir):
        lines += [parse_example(item.name, entry).text for item in read_items(path, path)
                  if item.kind == "intent" for entry in item.entries]
    return lines


LINES = _lines()


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer(TERMS, CATALOG.words)


def _not_a_term(heard: str) -> None:
    """The misheard form is in no term list and no synonym: it is repaired by sound, not by a table."""
    assert heard not in TERMS and heard not in VOCABULARY.synonyms and heard not in CATALOG.words


@pytest.mark.parametrize("said, heard, expected", [
    ("严重转账", "我要办理严重转账", "我要办理银证转账"),  # yin/yan, zheng/zhong
    ("缺单", "帮我把刚才那笔缺单", "帮我把刚才那笔撤单"),  # che/que
    ("预约", "帮我查一下预约", "帮我查一下余额"),  # e/yue, a common word: 查 makes 余额 the likelier
    ("网店", "附近的网店在哪里", "附近的网点在哪里"),  # dian3/dian4, a word: 附近 and 在哪里
    ("交易下", "帮我交易下电费", "帮我交一下电费"),
])
def test_telephone_mishearings_are_repaired(normalizer, said, heard, expected):
    _not_a_term(said)
    assert normalizer.normalize(heard) == expected


# Near-homophones made up for this test, over different functions; none is a term, a synonym or in
# any training or held-out line.
@pytest.mark.parametrize("word, heard, expected", [
    ("严正转账", "我要做严正转账", "我要做银证转账"),  # bank_securities_transfer
    ("余鹅", "查询余鹅", "查询余额"),  # balance_inquiry
    ("挂师", "我要挂师银行卡", "我要挂失银行卡"),  # card_loss
    ("静值", "我想查一下基金静值", "我想查一下基金净值"),  # fund_nav
    ("申够", "我要申够基金", "我要申购基金"),  # fund_subscribe
    ("输回", "我要把基金输回", "我要把基金赎回"),  # fund_redeem
    ("吃藏", "帮我查一下吃藏", "帮我查一下持仓"),  # positions
    ("为拖", "查一下为拖", "查一下委托"),  # order_query
    ("保担", "我要查保担", "我要查保单"),  # policy_inquiry
    ("理培", "我要理培", "我要理赔"),  # claim_report
    ("转人攻", "我要转人攻", "我要转人工"),  # human_agent
    ("账担", "查一下账担", "查一下账单"),  # credit_card_bill
    ("明系", "查一下明系", "查一下明细"),  # transaction_history
])
def test_unseen_near_homophones_are_repaired(normalizer, word, heard, expected):
    _not_a_term(word)
    assert word in heard and not any(word in line for line in LINES)
    assert normalizer.normalize(heard) == expected


@pytest.mark.parametrize("text", [
    "预约明天上午回电",  # 预约 in its own sense: no cue of 余额
    "外币兑换需要提前预约吗",
    "我想开个网店",
    "我要去网店买东西",
    "股票交易下单",  # 交易下 cuts 下单
    "帮我叫一下客服",  # 交一下 needs a bill said with it
    "行内转账",  # 内 only sounds like 瑞 by a rare reading
    "办理银行转账",
    "这个问题很严重",
    "我要卖股票",
])
def test_ordinary_sentences_are_left_alone(normalizer, text):
    assert normalizer.normalize(text) == text


def test_no_domain_term_said_right_is_lost_in_training_and_held_out_lines(normalizer):
    """A repair may fix a line but never overwrite a term the line already says (寿险报案 stays 报案)."""
    exact = re.compile("|".join(sorted(map(re.escape, {t for t in TERMS if len(t) >= 2}), key=len, reverse=True)))
    lost = []
    for line in LINES:
        before = exact.findall(clean_text(line))
        after = normalizer.normalize(line)
        lost += [(line, after, term) for term in before if term not in after]
    assert lost == []


def test_near_sounds_cost_less_than_unrelated_ones():
    assert _syllable_cost("zheng", "zheng") == 0
    assert _syllable_cost("zheng", "zhong") == 0.25  # eng/ong
    assert _syllable_cost("che", "que") == 0.5  # ch/q and e/üe
    assert _syllable_cost("zheng", "hang") == 1  # 银行 is not 银证


def test_a_bad_words_entry_is_a_file_error(tmp_path: Path):
    intents = Path(shutil.copytree(CONFIG.intents_dir, tmp_path / "intents"))
    dialogue = intents / "dialogue.yml"
    text = dialogue.read_text(encoding="utf-8").replace("  转账: []\n", "  转账: 查\n")
    dialogue.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as error:
        Catalog.load(intents)
    line = text[:text.index("  转账: 查")].count("\n") + 1
    assert str(error.value) == f"{dialogue}:{line}: words: '转账' needs a list of cue words ([] for none)"
