from datetime import datetime

import pytest

from assistant.nlu.slots import canonical_slots
from domain.vocabulary import Vocabulary

VOCABULARY = Vocabulary(
    synonyms={"贵州茅台": "600519", "茅台": "600519", "招商银行": "600036", "招行": "600036", "万科": "000002",
              "平安银行": "000001", "中国平安": "601318", "平安": "601318",
              "美元": "USD", "美金": "USD", "欧元": "EUR",
              "电费": "electricity", "电话费": "mobile", "话费": "mobile"},
    lookups={"stock": ["贵州茅台", "茅台", "招商银行", "招行", "万科", "平安银行", "中国平安", "平安"],
             "currency": ["美元", "美金", "欧元"],
             "bill_type": ["电费", "电话费", "话费"]},
    names={"600519": "贵州茅台", "USD": "美元"},
)
NOW = datetime(2024, 5, 6, 14, 20, 30, 123456)  # a Monday afternoon


def entity(name: str, value, start: int = 0, end: int = 0) -> dict:
    return {"entity": name, "value": value, "start": start, "end": end, "extractor": "DIETClassifier"}


def slots_of(name: str, value, text: str = "") -> dict:
    return canonical_slots([entity(name, value)], text, VOCABULARY, NOW)


@pytest.mark.parametrize("value, expected", [
    ("3500", 3500), ("10.5", 10.5), ("1.2万", 12000), ("3500元", 3500), ("三千五百元", 3500), ("两万块", 20000),
    (3500, 3500),
])
def test_amount_is_a_number_and_an_int_when_whole(value, expected):
    amount = slots_of("amount", value)["amount"]
    assert amount == expected and type(amount) is type(expected)


def test_price_is_canonicalised_like_an_amount():
    assert slots_of("price", "15.80") == {"price": 15.8}


@pytest.mark.parametrize("value, expected", [
    ("200", 200), ("200股", 200), ("两百股", 200), ("1手", 100), ("3手", 300),
])
def test_quantity_is_a_number_of_shares(value, expected):
    assert slots_of("quantity", value) == {"quantity": expected}


@pytest.mark.parametrize("value, expected", [
    ("茅台", "600519"), ("贵州茅台", "600519"), ("600519", "600519"), ("六零零五一九", "600519"),
    ("688999", "688999"),  # a code the vocabulary does not know is still a code
])
def test_stock_is_a_six_digit_code(value, expected):
    assert slots_of("stock", value) == {"stock": expected}


@pytest.mark.parametrize("name, value, expected", [
    ("currency", "美金", "USD"), ("currency", "USD", "USD"), ("bill_type", "电费", "electricity"),
    ("bill_type", "电话费", "mobile"), ("payee", " 李四 ", "李四"), ("content", "柜台服务态度差", "柜台服务态度差"),
])
def test_lookup_and_text_slots(name, value, expected):
    assert slots_of(name, value) == {name: expected}


@pytest.mark.parametrize("value", ["13800138000", "138-0013-8000", "+86 138 0013 8000", "一三八零零一三八零零零"])
def test_phone_number_is_digits_only(value):
    assert slots_of("phone_number", value) == {"phone_number": "13800138000"}


def test_landline_with_area_code_is_kept():
    assert slots_of("phone_number", "010-12345678") == {"phone_number": "01012345678"}


@pytest.mark.parametrize("value, expected", [
    ("1个小时后", "2024-05-06T15:20:30"),
    ("一个小时后", "2024-05-06T15:20:30"),
    ("半小时以后", "2024-05-06T14:50:30"),
    ("1个半小时后", "2024-05-06T15:50:30"),
    ("30分钟后", "2024-05-06T14:50:30"),
    ("明天上午10点", "2024-05-07T10:00:00"),
    ("明天上午十点", "2024-05-07T10:00:00"),
    ("下午3点", "2024-05-06T15:00:00"),
    ("下午3点半", "2024-05-06T15:30:00"),
    ("今天晚上8点", "2024-05-06T20:00:00"),
    ("今晚8点", "2024-05-06T20:00:00"),
    ("后天上午9点", "2024-05-08T09:00:00"),
    ("上午10点", "2024-05-07T10:00:00"),  # already past today: tomorrow
    ("10点", "2024-05-06T22:00:00"),  # the next time the clock shows 10
    ("3点", "2024-05-06T15:00:00"),
    ("晚上12点", "2024-05-07T00:00:00"),
    ("明天下午", "2024-05-07T14:00:00"),  # a part of a day: its start
    ("今晚", "2024-05-06T19:00:00"),
    ("明早", "2024-05-07T08:00:00"),
    ("明天下午3点1刻", "2024-05-07T15:15:00"),
    ("2024-05-07T09:00:00", "2024-05-07T09:00:00"),
])
def test_when_is_an_iso_local_datetime_from_now(value, expected):
    assert slots_of("when", value) == {"when": expected}


@pytest.mark.parametrize("name, value", [
    ("amount", "很多"), ("amount", "0"), ("quantity", "一些"), ("quantity", "半"),
    ("stock", "茅茅"), ("stock", "12345"),
    ("currency", "火星币"), ("bill_type", "水费"), ("payee", "  "), ("phone_number", "1380013"),
    ("phone_number", "138001380001"), ("when", "明天"), ("when", "下午"), ("when", "以后再说"), ("amount", None),
])
def test_values_that_cannot_be_canonicalised_are_dropped(name, value):
    assert slots_of(name, value) == {}


def test_the_first_canonical_value_of_a_slot_wins():
    entities = [entity("amount", "很多"), entity("amount", "500"), entity("amount", "800")]
    assert canonical_slots(entities, "", VOCABULARY, NOW) == {"amount": 500}


@pytest.mark.parametrize("text, expected", [
    ("买入200股招商银行", {"stock": "600036", "quantity": 200}),
    ("把万科卖掉300股", {"stock": "000002", "quantity": 300}),
    ("查一下贵州茅台的股价", {"stock": "600519"}),
    ("平安银行涨到15块提醒我", {"stock": "000001", "price": 15}),  # 平安银行, not 平安; a price, not an amount
    ("买入600519", {"stock": "600519"}),
    ("股票代码688999", {"stock": "688999"}),
    ("缴纳电费200元", {"bill_type": "electricity", "amount": 200}),
    ("我要交电话费", {"bill_type": "mobile"}),
    ("我想买美元", {"currency": "USD"}),
    ("买1000美元", {"currency": "USD", "amount": 1000}),
    ("转3500元给李四", {"amount": 3500}),
    ("还款10.5元", {"amount": 10.5}),
    ("每股15元买入100股", {"price": 15, "quantity": 100}),
    ("价格15买入茅台", {"price": 15, "stock": "600519"}),
    ("以15.5元的价格买入", {"price": 15.5}),
    ("请回电13800138000", {"phone_number": "13800138000"}),
    ("明天上午10点给我回电话", {"when": "2024-05-07T10:00:00"}),
])
def test_backstop_finds_unambiguous_slots_in_the_text(text, expected):
    assert canonical_slots([], text, VOCABULARY, NOW) == expected


@pytest.mark.parametrize("text", [
    "卖掉万科买入茅台",  # two stocks
    "把美元换成欧元",  # two currencies
    "转3500元手续费5元",  # two amounts
    "转账100000",  # a bare number is not a stock code
    "我要转账", "查询余额", "今天晚上吃什么",
    "多少钱1股",  # a price per share, not a quantity
])
def test_backstop_leaves_ambiguous_or_absent_slots_empty(text):
    assert canonical_slots([], text, VOCABULARY, NOW) == {}


def test_a_quantity_entity_right_after_qian_is_a_price_per_share():
    text = "中国平安多少钱1股"
    per_share = entity("quantity", "1股", text.index("1股"), len(text))
    assert canonical_slots([per_share], text, VOCABULARY, NOW) == {"stock": "601318"}
    text = "买中国平安的1股"
    bought = entity("quantity", "1股", text.index("1股"), len(text))
    assert canonical_slots([bought], text, VOCABULARY, NOW)["quantity"] == 1


def test_a_number_counting_weeks_or_days_is_no_price_or_quantity():
    text = "我过去1周都成交了哪些股票"
    week = entity("price", "1", text.index("1"), text.index("1") + 1)
    assert canonical_slots([week], text, VOCABULARY, NOW) == {}
    text = "以15块的价格买入"
    price = entity("price", "15", text.index("15"), text.index("15") + 2)
    assert canonical_slots([price], text, VOCABULARY, NOW)["price"] == 15


def test_backstop_does_not_take_an_amount_for_a_stock_code():
    assert canonical_slots([], "转100000元到证券账户", VOCABULARY, NOW) == {"amount": 100000}


def test_nlu_entities_win_over_the_backstop():
    text = "卖掉贵州茅台300股"
    entities = [entity("stock", "600036"), entity("quantity", "200")]
    assert canonical_slots(entities, text, VOCABULARY, NOW) == {"stock": "600036", "quantity": 200}


def test_backstop_fills_a_slot_whose_entity_was_dropped():
    entities = [entity("stock", "茅茅", 2, 4)]
    assert canonical_slots(entities, "卖掉贵州茅台", VOCABULARY, NOW) == {"stock": "600519"}
