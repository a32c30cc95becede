import pytest

from assistant.nlu.normalize import Normalizer, clean_text, normalize_numbers
from domain.vocabulary import Vocabulary

TITLES = ["买入股票", "卖出股票", "外汇买卖", "银证转账", "信用卡还款", "查询余额", "转账汇款", "生活缴费"]
VOCABULARY = Vocabulary(
    synonyms={"贵州茅台": "600519", "茅台": "600519", "招商银行": "600036", "招行": "600036", "万科": "000002",
              "五粮液": "000858", "三一重工": "600031", "三一": "600031", "中国一重": "601106",
              "一汽解放": "000800", "九阳股份": "002242", "七匹狼": "002029", "三六零": "601360",
              "上汽集团": "600104", "上汽": "600104", "美元": "USD", "电费": "electricity", "话费": "mobile",
              "电话费": "mobile"},
    lookups={"stock": ["贵州茅台", "茅台", "招商银行", "招行", "万科", "五粮液", "三一重工", "三一", "中国一重",
                       "一汽解放", "九阳股份", "七匹狼", "三六零", "上汽集团", "上汽"],
             "currency": ["美元"], "bill_type": ["电费", "话费", "电话费"]},
    names={},
)


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer(TITLES + VOCABULARY.terms())


@pytest.mark.parametrize("raw, expected", [
    ("我想買入股票", "我想买入股票"),
    ("我想買入股票。", "我想买入股票"),
    ("我 想 买入 股票", "我想买入股票"),
    ("你好，请帮我查一下余额！", "你好请帮我查一下余额"),
    ("买入１００股", "买入100股"),
    ("ＡＴＭ机 在哪", "ATM机在哪"),
    ("转3,500元", "转3500元"),
    ("价格是15.5元。", "价格是15.5元"),
    ("明天10:30", "明天10:30"),
    ("iPhone 15 多少钱?", "iPhone 15多少钱"),
])
def test_clean_text_unifies_script_width_punctuation_and_spacing(raw, expected):
    assert clean_text(raw) == expected


@pytest.mark.parametrize("spoken, expected", [
    ("三千八", "3800"),
    ("一万二", "12000"),
    ("一万一", "11000"),
    ("两万块", "20000块"),
    ("5千", "5000"),
    ("1.2万", "12000"),
    ("一点二万", "12000"),
    ("一千五百元整", "1500元"),
    ("两百股", "200股"),
    ("三千五百元", "3500元"),
    ("转三千五百元给李四", "转3500元给李四"),
    ("从银行转一万到证券账户", "从银行转10000到证券账户"),
    ("十块五", "10.5元"),
    ("十块五毛", "10.5元"),
    ("三块二毛五", "3.25元"),
    ("二十块零五分", "20.05元"),
    ("六零零五一九", "600519"),
    ("一三八零零一三八零零零", "13800138000"),
    ("幺三八洞洞幺三八洞洞洞", "13800138000"),
    ("二零二四年三月五号", "2024年3月5号"),
    ("买入一手", "买入100股"),
    ("卖出三手", "卖出300股"),
    ("买入3手", "买入300股"),
    ("百分之五", "5%"),
    ("百分之零点五", "0.5%"),
    ("一个小时后", "1个小时后"),
    ("两个小时以后", "2个小时以后"),
    ("明天上午十点", "明天上午10点"),
    ("下午三点半", "下午3点半"),
    ("下午一点", "下午1点"),
    ("三点十分", "3点10分"),
    ("十点零五分", "10点05分"),
    ("平安银行涨到十五块提醒我", "平安银行涨到15块提醒我"),
    ("按三十块一股买入四百股", "按30块1股买入400股"),  # 一 counts shares here, it is not 30.1 yuan
    ("三块五一股", "3.5元1股"),
    ("三块五毛一股", "3.5元1股"),
])
def test_numbers_become_arabic(spoken, expected):
    assert normalize_numbers(spoken) == expected


@pytest.mark.parametrize("text", [
    "我的手机号", "手续费多少", "我想买二手车", "他有一手好牌",  # 手 is not a lot of shares here
    "张三", "李四", "王五", "查一下", "一些", "快一点", "一直", "万一转错了", "一起", "统一", "一般", "第一",
    "十分感谢", "一二线城市", "换一首歌", "星期一",
])
def test_numerals_inside_words_stay(text):
    assert normalize_numbers(text) == text


@pytest.mark.parametrize("text", ["万科", "五粮液", "三一重工", "三一", "一汽解放", "中国一重", "九阳股份", "七匹狼", "三六零"])
def test_vocabulary_terms_keep_their_numerals(normalizer, text):
    assert normalizer.normalize(text) == text


def test_vocabulary_terms_are_protected_where_the_number_rules_alone_would_convert(normalizer):
    assert normalize_numbers("买入三六零") == "买入360"
    assert normalizer.normalize("买入三六零") == "买入三六零"


@pytest.mark.parametrize("spoken, expected", [
    ("把万科卖掉三百股", "把万科卖掉300股"),
    ("买入两百股三一重工", "买入200股三一重工"),
    ("转给张三五百元", "转给张三500元"),
    ("我想買入兩百股貴州毛台。", "我想买入200股贵州茅台"),
])
def test_numbers_next_to_protected_words_still_convert(normalizer, spoken, expected):
    assert normalizer.normalize(spoken) == expected


@pytest.mark.parametrize("heard, expected", [
    ("外会买卖", "外汇买卖"),
    ("银正转帐", "银证转账"),
    ("我想办理银正转帐", "我想办理银证转账"),
    ("贵州毛台", "贵州茅台"),
    ("查一下贵州毛台的股价", "查一下贵州茅台的股价"),
    ("招商银航", "招商银行"),
    ("买入股标", "买入股票"),  # biao/piao: close pinyin, not identical
    ("我想买没元", "我想买美元"),  # two characters: identical pinyin only
    # Telephone-channel transcripts of banking_dev:
    ("把万颗卖掉三百股", "把万科卖掉300股"),  # a rare word that sounds exactly like the term, tones too
    ("我要交电化费", "我要交电话费"),  # 交电|化费: an exact sound-alike may cut words
    ("买入两百股票商银行", "买入200股招商银行"),  # a long term one syllable off may cut a word
    ("我想办理严重转账", "我想办理银证转账"),  # yan/yin, zhong/zheng: near sounds, none wrong
    ("外汇麦卖", "外汇买卖"),
])
def test_misheard_domain_terms_are_repaired(normalizer, heard, expected):
    assert normalizer.normalize(heard) == expected


@pytest.mark.parametrize("text", [
    "我想买股票",
    "我要卖股票",  # not 买入股票: a paraphrase is not a mishearing
    "查一下余额",
    "今天天气怎么样",
    "今天晚上吃什么",  # 上吃 sounds like 上汽 but cuts the word 晚上
    "这个月花费多少",  # 花费 is a word, not 话费
    "我想买股票价格是多少",
    "民众很多",
    "卖出股份",
    "办理银行转账",  # 银行 is a common word heard whole, not 银证
    "能不能回个电话给我",  # 给 is heard right, not 电话费
    "交有线电视的钱",
    "帮我交一下燃气费",
    "信用卡账单出了吗",
    "美的今天开盘多少",
    "我想给你们提一点建议",
])
def test_correct_phrases_are_not_repaired(normalizer, text):
    assert normalizer.normalize(text) == text


def test_exact_terms_are_not_changed_into_other_terms(normalizer):
    assert normalizer.normalize("卖出股票") == "卖出股票"
    assert normalizer.normalize("我要交话费和电费") == "我要交话费和电费"


def test_a_word_with_cues_replaces_a_common_word_only_when_a_cue_is_said():
    normalizer = Normalizer(TITLES, {"网点": ["附近", "在哪"]})
    assert normalizer.normalize("附近的网店在哪") == "附近的网点在哪"
    assert normalizer.normalize("我想开个网店") == "我想开个网店"
