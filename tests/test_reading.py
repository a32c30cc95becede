"""The voice's reading of digits, dates and codes (assistant/speech/tts/reading.py): as a bank says them."""
from __future__ import annotations

import pytest

from assistant.speech.tts.reading import ReadAloud, read_aloud
from assistant.speech.tts.espeak import EspeakSynthesizer


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("转账49500元。", "转账四万九千五百元。"),  # amounts as numbers
        ("余额3,800.00元", "余额三千八百元"),  # separators and a zero decimal part dropped
        ("价格12.50元", "价格十二点五元"),
        ("您有20000元", "您有两万元"),  # 两 before 万, as people say it
        ("退款-500元", "退款负五百元"),
        ("买入1000股", "买入一千股"),
        ("您有120000元", "您有十二万元"),  # a long run before a unit is a quantity, not a code
        ("最近30天共有2笔交易", "最近三十天共有两笔交易"),
        ("您尾号1234的卡", "您尾号一二三四的卡"),  # card tails digit by digit
        ("贵州茅台600036", "贵州茅台六零零零三六"),  # stock codes
        ("请拨打95588", "请拨打九五五八八"),
        ("区号0755", "区号零七五五"),  # a leading zero: a code
        ("手机13812345678", "手机幺三八幺二三四五六七八"),  # phone numbers, 1 as 幺
        ("10:30开始", "十点三十分开始"),
        ("10:05", "十点零五分"),
        ("9:00开门", "九点开门"),
        ("2025-01-06到账", "二零二五年一月六日到账"),
        ("2025年1月6日", "二零二五年一月六日"),
        ("1月6日15点30分", "一月六日十五点三十分"),
        ("2025-01-06 10:30", "二零二五年一月六日十点三十分"),
        ("年利率3.5%", "年利率百分之三点五"),
        ("涨幅12%", "涨幅百分之十二"),
        ("流水号TS202501060003", "流水号提艾斯二零二五零一零六零零零三"),  # ids: letters by name, digits one by one
        ("ATM机", "诶提艾姆机"),
        ("您好，请问有什么可以帮您？", "您好，请问有什么可以帮您？"),  # nothing to read: unchanged
    ],
)
def test_read_aloud(text, said):
    assert read_aloud(text) == said


def test_read_aloud_leaves_no_digit_or_capital():
    text = "您尾号1234的卡于2025-01-06 10:30转出3,800.00元，手续费0.5%，流水号TS202501060003。"
    assert not any(char.isascii() and char.isalnum() for char in read_aloud(text))


def test_read_aloud_wrapper_reads_before_the_engine_speaks():
    espeak = EspeakSynthesizer()
    reading = ReadAloud(espeak)
    assert reading.synthesize("尾号1234") == reading.synthesize("尾号一二三四") != b""
    assert (reading.name, reading.sample_rate) == (espeak.name, espeak.sample_rate)
    assert reading.voice_id != espeak.voice_id  # prompt audio made without the reading is not reused
