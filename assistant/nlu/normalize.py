"""Text normalisation between ASR and NLU.

ASR engines disagree on script, spacing, punctuation and number style ("我想買入股票。", "我 想 买入",
"三千五百元" / "3,500元"), and they mishear domain words as homophones (外会买卖). `Normalizer.normalize`
turns all of them into one form: simplified Chinese without punctuation, Arabic numbers, and the
catalog's and vocabulary's own spelling of domain terms.
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import NamedTuple

import cn2an
import jieba
import zhconv
from pypinyin import Style, lazy_pinyin, pinyin
from pypinyin.contrib.tone_convert import to_finals, to_initials
from rapidfuzz.distance import Levenshtein
from rapidfuzz.fuzz import ratio

jieba.setLogLevel(logging.WARNING)  # not "Building prefix dict..." on every command

# Words whose numerals are not numbers. Most are already safe because a lone numeral is only
# converted before a unit; these are the ones where a unit follows, plus names and common words
# kept as a second guard.
COMMON_WORDS = (
    "张三", "李四", "王五", "赵六", "一下", "一些", "一直", "万一", "一起", "统一", "一般", "第一",
    "一样", "一定", "唯一", "一切", "一旦", "一致", "一会儿", "十分", "二手", "一点儿", "一点点",
)

_DIGITS = "零〇一二两三四五六七八九幺洞"
_MAGNITUDES = "十百千万亿"
_NUMERALS = _DIGITS + _MAGNITUDES
_DIGIT_VALUE = {c: str(v) for v, chars in enumerate(
    ["零〇洞", "一幺", "二两", "三", "四", "五", "六", "七", "八", "九"]) for c in chars}
_SPOKEN_DIGITS = set(_DIGITS) - {"两"}  # 两 never appears in codes read digit by digit

_RUN = f"(?:\\d+(?:\\.\\d+)?|[{_NUMERALS}]+)"  # one number, Arabic or Chinese
_ONE_DIGIT = f"[0-9{_DIGITS}]"
_NOT_AFTER_NUMBER = f"(?<![{_NUMERALS}\\d.])"

# 十块五 / 三块二毛五 / 二十块零五分 -> yuan with decimals; in 三十块一股 the 一 counts shares, not jiao.
_MEASURE_WORDS = "股手份张笔只个"
_MONEY = re.compile(
    f"{_NOT_AFTER_NUMBER}({_RUN})[块元](?:零({_ONE_DIGIT})分|({_ONE_DIGIT})"
    f"(?:[毛角](?:({_ONE_DIGIT})(?:分|(?![{_MEASURE_WORDS}])))?|(?![{_MEASURE_WORDS}])))"
    f"(?:(?=[一两][{_MEASURE_WORDS}])|(?![{_NUMERALS}\\d分]))"
)
_PERCENT = re.compile(f"百分之({_RUN}(?:点{_ONE_DIGIT}+)?)")
# 点 is a decimal point only before a magnitude, 倍, money or %; otherwise it is o'clock.
_DECIMAL = re.compile(f"{_NOT_AFTER_NUMBER}([{_NUMERALS}]+点[{_DIGITS}]+)(?=[万亿千百倍元块%]|美元)")
_CHINESE_RUN = re.compile(f"[{_NUMERALS}]+")
_ARABIC_WITH_MAGNITUDE = re.compile(f"(?<![\\d.])\\d+(?:\\.\\d+)?[{_MAGNITUDES}][\\d{_NUMERALS}]*")
_LOTS = re.compile(r"(?<![\d.])(\d+)手")
_ROUND_SUM = re.compile(r"(?<=\d)([元块])整")

# What may follow a lone numeral for it to be a number.
_UNIT = re.compile(
    "个半?小时|个月|个星期|个礼拜|个工作日|个交易日|小时|分钟|秒|点|号|日|月|年|天|周|岁|倍"
    "|元|块|毛|角|分|股|手|%|美元|港元|港币|欧元|英镑|日元"
)
_TIME_OF_DAY_BEFORE = re.compile("(?:凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|今天|明天|后天)$")
_TRADING = re.compile("买|卖|股|仓|委托|下单|挂单|交易|成交")
_NOT_LOTS_AFTER = set("机续表术头上下里中套指势艺工动脚腕掌心段法写册车房货资")
_SHARES_PER_LOT = 100

_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# Punctuation goes; `.` and `:` stay only between digits (3.5, 10:30); % stays.
_PUNCTUATION = re.compile(r"[.:](?!\d)|(?<!\d)[.:]|[^\w\s%.:+]|_")
_SPACE_NEXT_TO_CJK = re.compile(f"\\s+(?=[{_CJK}])|(?<=[{_CJK}])\\s+")
_ALL_CJK = re.compile(f"[{_CJK}]+")

_FUZZY_MIN_RATIO = 90
_FUZZY_MIN_RATIO_LONG = 85  # terms of four or more syllables are distinctive enough to allow more
_FUZZY_MIN_LENGTH = 3  # two-character terms are repaired only on identical pinyin
# A character more or less is compared only for long terms: in short ones it is mostly a paraphrase
# (卖股票 is not 买入股票) rather than a mishearing.
_SLACK_MIN_LENGTH = 5
# A window that sounds exactly like a term, tones included, is repaired even when it is a rare word
# (万颗 → 万科, 化费 → 话费) or cuts one (交电化费 → 交电话费); common words (花费) are left alone.
_RARE_WORD_FREQ = 100
_COMMON_WORD_FREQ = 1000
_FUZZY_CUT_MIN_LENGTH = 4  # a long term heard with one syllable wrong may cut a word (股票商银行)
# Grammatical characters are heard right far more often than they stand in for a term's syllable:
# 回个电话给我 is not 电话费, 有线电视的钱 is not 有线电视费.
_FUNCTION_CHARS = frozenset("的了给出下一点还是在有和就不也都要说吗呢吧啊把被让到过着个这那我你他她它们")

# Sounds telephone ASR confuses: flat and retroflex initials, front and back nasals, n/l, f/h. A
# syllable differing from the term's only within these groups is a near one (严重转账 for 银证转账,
# 缺单 for 撤单); one with an initial or final outside them is a wrong one.
_NEAR_INITIALS = ({"zh", "z"}, {"ch", "c", "q"}, {"sh", "s", "x"}, {"n", "l"}, {"f", "h"})
_NEAR_FINALS = ({"an", "ang"}, {"en", "eng", "ong"}, {"in", "ing", "ian"}, {"ve", "ue", "e"},
                {"uan", "uang"}, {"ian", "iang"})
_NEAR_PART = 0.25  # cost of a near initial or final; a syllable with a different one costs 1
# Near syllables a term may be heard with in all: two near sounds, e.g. one syllable with a near
# initial and a near final, or two syllables with one near sound each.
_NEAR_BUDGET = 0.5


def protection_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """A regex matching the words whose numerals must stay as they are, longest first.

    A word starting with a numeral does not match right after a number or 点, so 一万一 still
    reads 11000 although 万一 is protected, and 三点十分 still reads 3点10分.
    """
    alternatives = []
    for word in sorted(set(words), key=len, reverse=True):
        guard = f"(?<![{_NUMERALS}\\d.点])" if word[0] in _NUMERALS else ""
        alternatives.append(guard + re.escape(word))
    return re.compile("|".join(alternatives) or "(?!)")


_COMMON_PROTECTION = protection_pattern(COMMON_WORDS)


def clean_text(text: str) -> str:
    """Simplified script, half-width letters and digits, no punctuation, no spaces around CJK."""
    text = zhconv.convert(text.translate(_FULL_WIDTH), "zh-cn")
    text = _PUNCTUATION.sub(" ", _THOUSANDS_COMMA.sub("", text))
    return _SPACE_NEXT_TO_CJK.sub("", " ".join(text.split()))


def normalize_numbers(text: str, protected: re.Pattern[str] = _COMMON_PROTECTION) -> str:
    """Chinese numerals to Arabic where they are numbers; spans matching `protected` stay as they are."""
    trading = bool(_TRADING.search(text))
    pieces, start = [], 0
    for match in protected.finditer(text):
        pieces += [_numbers_in(text[start:match.start()], trading), match.group()]
        start = match.end()
    pieces.append(_numbers_in(text[start:], trading))
    return "".join(pieces)


def _numbers_in(text: str, trading: bool) -> str:
    text = _MONEY.sub(_money, text)
    text = _PERCENT.sub(_percent, text)
    text = _DECIMAL.sub(lambda m: _convert(m.group()), text)
    text = _CHINESE_RUN.sub(lambda m: _chinese_run(m, trading), text)
    text = _ARABIC_WITH_MAGNITUDE.sub(lambda m: _convert(m.group()), text)
    text = _LOTS.sub(lambda m: _lots(m, trading), text)
    return _ROUND_SUM.sub(r"\1", text)


def _value(number: str) -> float | None:
    try:
        return float(cn2an.cn2an(number, "smart"))
    except ValueError:
        return None


def _format(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.6f}".rstrip("0")


def _convert(number: str) -> str:
    value = _value(number)
    return number if value is None else _format(value)


def _percent(match: re.Match[str]) -> str:
    value = _value(match.group(1))
    return match.group() if value is None else _format(value) + "%"


def _money(match: re.Match[str]) -> str:
    yuan = _value(match.group(1))
    if yuan is None:
        return match.group()
    jiao = match.group(3) or "0"
    fen = match.group(2) or match.group(4) or "0"
    cents = round(yuan * 100) + 10 * int(_DIGIT_VALUE.get(jiao, jiao)) + int(_DIGIT_VALUE.get(fen, fen))
    return _format(cents / 100) + "元"


def _chinese_run(match: re.Match[str], trading: bool) -> str:
    run, text = match.group(), match.string
    before, after = text[:match.start()], text[match.end():]
    if run[0] in _MAGNITUDES and run[0] != "十":
        return run  # 万科, 千万, 百分
    if len(run) > 1 and any(c in _MAGNITUDES for c in run):
        return _convert(run)
    if all(c in _SPOKEN_DIGITS for c in run) and (len(run) >= 3 or (len(run) == 2 and run[0] in "零〇洞")):
        return "".join(_DIGIT_VALUE[c] for c in run)  # codes, phone numbers, 零五分
    if len(run) == 1 and _unit_follows(run, before, after, trading):
        return _convert(run)
    return run


def _unit_follows(numeral: str, before: str, after: str, trading: bool) -> bool:
    unit = _UNIT.match(after)
    if not unit:
        return False
    if unit.group() == "点" and numeral == "一":  # 下午一点, 一点半, but not 快一点
        next_char = after[1:2]
        return bool(_TIME_OF_DAY_BEFORE.search(before)) or bool(next_char) and next_char in "半钟整" + _NUMERALS
    if unit.group() == "手":
        return _is_lots(after[1:], trading)
    return True


def _is_lots(after_hand: str, trading: bool) -> bool:
    """手 after a number means lots of 100 shares only when trading, and not in 手机, 手续费, ..."""
    return trading and after_hand[:1] not in _NOT_LOTS_AFTER


def _lots(match: re.Match[str], trading: bool) -> str:
    if not _is_lots(match.string[match.end():], trading):
        return match.group()
    return f"{int(match.group(1)) * _SHARES_PER_LOT}股"


@lru_cache(maxsize=None)
def _readings(char: str) -> tuple[str, ...]:
    """Every toneless pinyin reading of one character, most common first."""
    return tuple(pinyin(char, style=Style.NORMAL, heteronym=True)[0])


@lru_cache(maxsize=None)
def _toned_readings(char: str) -> tuple[str, ...]:
    return tuple(pinyin(char, style=Style.TONE3, heteronym=True)[0])


def _words(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word of jieba's dictionary segmentation of `text`."""
    spans, start = [], 0
    for word in jieba.lcut(text, HMM=False):
        spans.append((start, start + len(word)))
        start += len(word)
    return spans


def _is_dictionary_word(text: str) -> bool:
    jieba.dt.check_initialized()
    return jieba.dt.FREQ.get(text, 0) > 0


def _is_rare_word(text: str) -> bool:
    return jieba.dt.FREQ.get(text, 0) < _RARE_WORD_FREQ


def _is_common_word(text: str) -> bool:
    return len(text) > 1 and jieba.dt.FREQ.get(text, 0) >= _COMMON_WORD_FREQ


class _Candidate(NamedTuple):
    term: str
    start: int
    end: int
    score: float  # pinyin similarity, 100 = same pinyin
    may_cut: bool  # the window may begin or end inside a word
    may_be_word: bool  # the window may be a (rare) dictionary word
    wrong: tuple[int, ...] = ()  # offsets in the text of the characters that do not sound like the term
    cued: bool = False  # a cue word of the term is in the text around the window


class Normalizer:
    """Normalises ASR text for NLU, knowing the domain terms (catalog titles and vocabulary phrases).

    `cues` maps a term to words without which it is never taken for what sounds like it, and with
    which it is taken even for a common word (查一下预约 -> 查一下余额, but 预约明天 stays).
    """

    def __init__(self, terms: Iterable[str], cues: Mapping[str, Iterable[str]] | None = None) -> None:
        cues = cues or {}
        terms = {t for t in terms if len(t) >= 2} | {t for t in cues if len(t) >= 2}
        self._cues = {t: tuple(words) for t, words in cues.items() if words}
        self._protected = protection_pattern([*COMMON_WORDS, *(t for t in terms if set(t) & set(_NUMERALS))])
        self._pinyin = {t: lazy_pinyin(t) for t in terms if _ALL_CJK.fullmatch(t)}
        self._toned = {t: lazy_pinyin(t, style=Style.TONE3) for t in self._pinyin}
        self._lengths = sorted({len(t) for t in self._pinyin})
        # A mishearing keeps the first or the last syllable of the term, so index terms by both.
        self._by_first: dict[str, list[str]] = defaultdict(list)
        self._by_last: dict[str, list[str]] = defaultdict(list)
        for term, syllables in self._pinyin.items():
            self._by_first[syllables[0]].append(term)
            self._by_last[syllables[-1]].append(term)

    def normalize(self, text: str) -> str:
        return self.repair_terms(normalize_numbers(clean_text(text), self._protected))

    def repair_terms(self, text: str) -> str:
        """Replace near-homophones of domain terms (外会买卖 -> 外汇买卖) by the terms themselves."""
        readings = [_readings(c) for c in text]
        exact: list[tuple[int, int]] = []
        candidates: list[_Candidate] = []
        for run in _ALL_CJK.finditer(text):
            first, last = run.span()
            for start in range(first, last):
                exact += [(start, start + n) for n in self._lengths
                          if start + n <= last and text[start:start + n] in self._pinyin]
            for start, end, term in self._windows(readings, first, last):
                candidate = self._candidate(text, readings, start, end, term)
                if candidate is not None:
                    candidates.append(candidate)
        return _replace(text, candidates, exact)

    def _windows(self, readings: list[tuple[str, ...]], first: int, last: int) -> set[tuple[int, int, str]]:
        """(start, end, term) for every stretch of text[first:last] that begins or ends like a term."""
        windows = set()
        for i in range(first, last):
            for reading in readings[i]:
                for term in self._by_first.get(reading, ()):
                    windows.update((i, i + n, term) for n in _window_lengths(term) if i + n <= last)
                for term in self._by_last.get(reading, ()):
                    windows.update((i + 1 - n, i + 1, term)
                                   for n in _window_lengths(term) if i + 1 - n >= first)
        return windows

    def _candidate(self, text: str, readings: list[tuple[str, ...]], start: int, end: int,
                   term: str) -> _Candidate | None:
        """`text[start:end]` as a mishearing of `term`, or None when it is unlikely to be one."""
        window, heard = text[start:end], readings[start:end]
        if window in self._pinyin:
            return None  # a term as it is (卖出股票 is not a mishearing of 买入股票)
        syllables = self._pinyin[term]
        same_length = len(window) == len(term)
        most = len(term) // 2
        cues = self._cues.get(term, ())
        cued = any(cue in text[:start] or cue in text[end:] for cue in cues)
        if cues and not cued:
            return None  # a word with cues is heard in its place only when one of them is said
        # With at most one near sound, by each character's common reading, the characters may all
        # differ (预约 for 余额, 吃藏 for 持仓; 行内 is not 恒瑞 by 内's rare reading rui).
        sounds_alike = same_length and _near_cost(syllables, [r[:1] for r in heard]) <= _NEAR_PART
        if same_length:
            near = _near_cost(syllables, heard)
            wrong = [(start + i, c) for i, (c, s, r) in enumerate(zip(window, syllables, heard)) if s not in r]
            if _FUNCTION_CHARS.intersection(c for _, c in wrong):
                return None
            if wrong and near <= _NEAR_BUDGET and (sounds_alike or Levenshtein.distance(window, term) <= most):
                # every syllable heard near the term's: a mishearing even where a common word was
                # heard (严重转账), as no syllable is heard wrong
                return _Candidate(term, start, end, 100 * (1 - near / len(term)), may_cut=False,
                                  may_be_word=False, cued=cued)
            if len(wrong) > (0 if len(term) < _FUZZY_MIN_LENGTH else len(term) // 3):
                return None
            misses = len(wrong)
        distance = Levenshtein.distance(window, term, score_cutoff=most)
        if distance > most and not sounds_alike:
            return None  # too few characters in common to be a mishearing of this term
        if same_length and misses == 0:
            toned = all(t in _toned_readings(c) for t, c in zip(self._toned[term], window))
            return _Candidate(term, start, end, 100.0, may_cut=toned and len(term) >= _FUZZY_MIN_LENGTH,
                              may_be_word=toned, cued=cued)
        if same_length:
            said = [s if s in r else r[0] for s, r in zip(syllables, heard)]
        elif distance == 1:
            return None  # only one character more or less: a paraphrase (买股票), not a mishearing
        elif _FUNCTION_CHARS.intersection(set(window) - set(term)):
            return None
        else:
            said = [r[0] for r in heard]
        score = ratio("".join(said), "".join(syllables))
        least = _FUZZY_MIN_RATIO if len(term) < _FUZZY_CUT_MIN_LENGTH else _FUZZY_MIN_RATIO_LONG
        if len(term) < _FUZZY_MIN_LENGTH or score < least:
            return None
        may_cut = same_length and len(term) >= _FUZZY_CUT_MIN_LENGTH and misses <= 1
        return _Candidate(term, start, end, score, may_cut=may_cut, may_be_word=False,
                          wrong=tuple(i for i, _ in wrong) if same_length else (), cued=cued)


def _replace(text: str, candidates: list[_Candidate], exact: list[tuple[int, int]]) -> str:
    """Apply the best non-overlapping repairs (longest term, then best score), keeping exact terms intact."""
    chosen: list[_Candidate] = []
    words = _words(text) if candidates else []
    bounds = {0} | {end for _, end in words}
    for c in sorted(candidates, key=lambda c: (-len(c.term), -c.score, c.start, c.term)):
        if (c.start not in bounds or c.end not in bounds) and not c.may_cut:
            continue  # the window cuts a word (晚上吃 is not 上汽)
        if any(c.start <= s and e <= c.end and _is_common_word(text[s:e]) and any(s <= i < e for i in c.wrong)
               for s, e in words):
            continue  # a common word heard whole is no mishearing (银行转账 is not 银证转账)
        if (_is_dictionary_word(text[c.start:c.end]) and not (c.may_be_word and _is_rare_word(text[c.start:c.end]))
                and not c.cued):
            continue  # the window is a real word (花费 is not 话费) and nothing said around it points to the term
        # an exact term inside the window stays unless the repair keeps it (定投 is no part of a fund name)
        taken = [(o.start, o.end) for o in chosen] + [(s, e) for s, e in exact
                                                     if not (c.start <= s < e <= c.end and text[s:e] in c.term)]
        if all(c.end <= s or e <= c.start for s, e in taken):
            chosen.append(c)
    for c in sorted(chosen, key=lambda c: c.start, reverse=True):
        text = text[:c.start] + c.term + text[c.end:]
    return text


def _window_lengths(term: str) -> tuple[int, ...]:
    """Text lengths compared with `term`: its own, and for long terms one more or less."""
    n = len(term)
    return (n - 1, n, n + 1) if n >= _SLACK_MIN_LENGTH else (n,)


@lru_cache(maxsize=None)
def _syllable_cost(said: str, heard: str) -> float:
    """0 for the same syllable, _NEAR_PART per near initial or final, 1 when a part is unrelated."""
    cost = 0.0
    for split, groups in ((to_initials, _NEAR_INITIALS), (to_finals, _NEAR_FINALS)):
        a, b = split(said), split(heard)
        if a == b:
            continue
        if not any(a in group and b in group for group in groups):
            return 1.0
        cost += _NEAR_PART
    return cost


def _near_cost(syllables: list[str], heard: list[tuple[str, ...]]) -> float:
    """How far the heard characters (each with its readings) sound from the term's syllables."""
    return sum(min(_syllable_cost(s, r) for r in readings) for s, readings in zip(syllables, heard))
