"""Canonical slot values from NLU entities, plus a rule-based backstop for slots the model missed.

Values are canonical or absent: amounts are numbers, stocks 6-digit codes, currencies ISO codes,
times ISO 8601 local datetimes. A value that cannot be made canonical is dropped, never guessed, so
the dialog asks for it again.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import cn2an

from assistant.nlu.normalize import normalize_numbers
from domain.clock import in_beijing
from domain.vocabulary import Vocabulary

_LOOKUP_SLOTS = ("stock", "currency", "bill_type", "fund", "policy", "product")  # slot name = lookup table name

_NUMBER = r"\d+(?:\.\d+)?"
_AMOUNT_VALUE = re.compile(f"({_NUMBER})(?:[元块]钱?)?")
_QUANTITY_VALUE = re.compile(r"(\d+)(股|手)?")
_SHARES_PER_LOT = 100
_STOCK_CODE = re.compile(r"\d{6}")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{9,11}|\d{7,8}")  # with area code, or a local number
_POLICY_NUMBER = re.compile(r"88\d{8}")
# Dates (an insurance claim's): 今天 / 昨天 / 前天 / 3月5日 / 5号
_DAYS_AGO = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "大前天": 3}
_MONTH_DAY = re.compile(r"(?:(\d{1,2})月)?(\d{1,2})[日号]")

# Backstop patterns over the normalised text.
_AMOUNT_IN_TEXT = re.compile(f"(?<![\\d.])({_NUMBER})(?:元|块)")
_PRICE_IN_TEXT = re.compile(
    f"价格?(?:是|为|在)?({_NUMBER})|(?<![\\d.])({_NUMBER})(?:元|块)钱?的价|每股({_NUMBER})"
    f"|[涨跌](?:到|至|破)({_NUMBER})|以({_NUMBER})(?:元|块)"
)
_PRICE_CONTEXT = re.compile(r"价|每股|[涨跌](?:到|至|破)|以\d")
_PERIOD_UNITS = frozenset("周天月年")  # a number before these counts time, never a price or shares
_QUANTITY_IN_TEXT = re.compile(r"(?<![\d.钱])(\d+)股")  # not 多少钱1股: that is a price per share
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_CODE_IN_TEXT = re.compile(r"(?<!\d)(?:代码)?\d{6}(?!\d)")

# Times: 1个小时后 / 半小时以后 / 明天上午10点 / 下午3点半 / 今晚8点 / 10:30
_RELATIVE_TIME = re.compile(f"(?:({_NUMBER})个?(半)?|(半))个?(小时|钟头|分钟|分|天)(?:以后|之后|后)")
_DAYS = {"今天": 0, "明天": 1, "后天": 2, "大后天": 3}
_DAY_AND_PERIOD = {"今晚": ("今天", "晚上"), "明早": ("明天", "早上"), "明晚": ("明天", "晚上")}
_AFTERNOON = ("下午", "傍晚", "晚上", "夜里")
_NIGHT = ("晚上", "夜里")
# A day and part of the day without a clock time (明天下午) means the start of that part of the day;
# a bare day (明天) is too vague and is asked again.
_DAY_PART = re.compile("(大后天|今天|明天|后天|今晚|明早|明晚)(凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里)?")
_PART_STARTS = {"凌晨": 5, "早上": 8, "早晨": 8, "上午": 9, "中午": 12, "下午": 14, "傍晚": 17,
                "晚上": 19, "夜里": 21}
_CLOCK_TIME = re.compile(
    "(大后天|今天|明天|后天|今晚|明早|明晚)?(凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里)?"
    r"(?<![\d.])(\d{1,2})(?:点|时|:)(?:(半)|([13一三])刻|(\d{1,2})分?)?"
)


def canonical_slots(
    entities: list[dict[str, Any]], text: str, vocab: Vocabulary, now: datetime
) -> dict[str, Any]:
    """Slot values from Rasa entity dicts, completed from the normalised `text`.

    Each entity's value is canonicalised by its name (the slot name); the first canonical value of a
    slot wins and the others are dropped. Slots the entities did not fill are then looked for in the
    text, and filled only when the text names exactly one value for them.
    """
    slots: dict[str, Any] = {}
    for entity in entities:
        name, value = entity.get("entity"), entity.get("value")
        if not isinstance(name, str) or name in slots or not isinstance(value, (str, int, float)):
            continue
        if name == "quantity" and _char_before(entity, text) == "钱":  # 多少钱一股: a price per share
            continue
        if name in ("price", "quantity") and _char_after(entity, text) in _PERIOD_UNITS:  # 过去1周: a period
            continue
        canonical = _canonical(name, str(value), vocab, now)
        if canonical is not None:
            slots[name] = canonical
    for name, value in _backstop(text, vocab, now).items():
        slots.setdefault(name, value)
    if "price" in slots and slots.get("amount") == slots["price"]:
        del slots["amount"]  # one number said once (涨到15块) is a price, not also an amount
    return slots


def _char_before(entity: dict[str, Any], text: str) -> str:
    """The character of `text` just before the entity ("" at the start or without a position)."""
    start = entity.get("start")
    return text[start - 1] if isinstance(start, int) and 0 < start <= len(text) else ""


def _char_after(entity: dict[str, Any], text: str) -> str:
    """The character of `text` just after the entity ("" at the end or without a position)."""
    end = entity.get("end")
    return text[end] if isinstance(end, int) and 0 < end < len(text) else ""


def _canonical(slot: str, value: str, vocab: Vocabulary, now: datetime) -> Any:
    value = value.strip()
    canonicalise = _CANONICAL.get(slot)
    return canonicalise(value, vocab, now) if canonicalise else value or None


def _stock(value: str, vocab: Vocabulary) -> str | None:
    code = vocab.canonical("stock", value)
    digits = normalize_numbers(value)
    return code or (digits if _STOCK_CODE.fullmatch(digits) else None)


def _fund(value: str, vocab: Vocabulary) -> str | None:
    code = vocab.canonical("fund", value)
    digits = normalize_numbers(value)
    return code or (digits if _STOCK_CODE.fullmatch(digits) else None)


def _policy(value: str, vocab: Vocabulary) -> str | None:
    digits = re.sub(r"\D", "", normalize_numbers(value))
    return vocab.canonical("policy", value) or (digits if _POLICY_NUMBER.fullmatch(digits) else None)


def _date(value: str, now: datetime) -> str | None:
    """A day on or before today as YYYY-MM-DD: 昨天, 3月5日 (this year, or last if still to come), 5号."""
    try:
        return datetime.fromisoformat(value).date().isoformat()
    except ValueError:
        pass
    text = normalize_numbers(value)
    for word, back in sorted(_DAYS_AGO.items(), key=lambda item: -len(item[0])):
        if word in text:
            return (in_beijing(now) - timedelta(days=back)).date().isoformat()
    match = _MONTH_DAY.search(text)
    if not match:
        return None
    today = in_beijing(now).date()
    month, day = int(match.group(1) or today.month), int(match.group(2))
    try:
        moment = today.replace(month=month, day=day)
        if moment > today:  # said without a year: the latest such day that has come
            moment = moment.replace(year=today.year - 1) if match.group(1) else _month_before(moment)
    except ValueError:
        return None
    return moment.isoformat()


def _month_before(day: Any) -> Any:
    return day.replace(year=day.year - 1, month=12) if day.month == 1 else day.replace(month=day.month - 1)


def _plain(number: float) -> int | float:
    return int(number) if number == int(number) else number


def _number(text: str) -> float | None:
    """A number written in Arabic or Chinese digits (3500, 1.2万, 三千五, 五)."""
    try:
        return float(cn2an.cn2an(text, "smart"))
    except ValueError:
        return None


def _amount(value: str) -> int | float | None:
    match = _AMOUNT_VALUE.fullmatch(normalize_numbers(value))
    number = float(match.group(1)) if match else _number(value)
    return _plain(number) if number is not None and number > 0 else None


def _quantity(value: str) -> int | None:
    match = _QUANTITY_VALUE.fullmatch(normalize_numbers(value))
    if match:
        shares = int(match.group(1)) * (_SHARES_PER_LOT if match.group(2) == "手" else 1)
    else:
        number = _number(value)
        shares = int(number) if number is not None and number == int(number) else 0
    return shares if shares > 0 else None


def _phone(value: str) -> str | None:
    digits = re.sub(r"\D", "", normalize_numbers(value))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]  # +86 country code
    if _MOBILE.fullmatch(digits) or (not digits.startswith("1") and _LANDLINE.fullmatch(digits)):
        return digits
    return None


def _when(value: str, now: datetime, day_parts: bool = True) -> str | None:
    """`value` as an ISO datetime; `day_parts`: a day without a clock time (明天下午) counts too."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = _time_in(normalize_numbers(value), now, day_parts)
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = in_beijing(moment).replace(tzinfo=None)  # Beijing time, as `now`
    return moment.replace(microsecond=0).isoformat(timespec="seconds")


def _time_in(text: str, now: datetime, day_parts: bool) -> datetime | None:
    """The first time expression in `text`, as a datetime relative to `now`."""
    relative = _RELATIVE_TIME.search(text)
    if relative:
        count, half, only_half, unit = relative.groups()
        amount = float(count or 0) + (0.5 if half or only_half else 0)
        minutes = {"小时": 60, "钟头": 60, "分钟": 1, "分": 1, "天": 24 * 60}[unit]
        return now + timedelta(minutes=amount * minutes)
    clock = _CLOCK_TIME.search(text)
    if not clock:
        return _day_part(text, now) if day_parts else None
    day, period, hour, half, quarter, minute = clock.groups()
    day, period = _DAY_AND_PERIOD.get(day, (day, period))
    hour = int(hour)
    if half:
        minute = 30
    elif quarter:
        minute = 15 if quarter in ("1", "一") else 45
    else:
        minute = int(minute or 0)
    if hour > 24 or minute > 59:
        return None
    if period in _AFTERNOON and hour < 12 or period == "中午" and hour < 11:
        hour += 12
    elif period in _NIGHT and hour == 12:
        hour = 24  # 晚上12点 is the midnight ending that day
    elif period == "凌晨" and hour == 12:
        hour = 0
    if day is not None:
        return _at(now + timedelta(days=_DAYS[day]), hour, minute)
    if period is not None:
        hours = [hour]
    else:  # a bare 10点 is the next time the clock shows 10, morning or evening
        hours = [hour, hour + 12] if hour < 12 else [hour]
    candidates = [_at(now + timedelta(days=d), h, minute) for d in (0, 1) for h in hours]
    return min(moment for moment in candidates if moment > now)


def _day_part(text: str, now: datetime) -> datetime | None:
    match = _DAY_PART.search(text)
    if not match:
        return None
    day, part = _DAY_AND_PERIOD.get(match.group(1), match.groups())
    if part is None:
        return None
    moment = _at(now + timedelta(days=_DAYS[day]), _PART_STARTS[part], 0)
    return moment if moment > now else None


def _at(day: datetime, hour: int, minute: int) -> datetime:
    midnight = day.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(hours=hour, minutes=minute)


_CANONICAL: dict[str, Callable[[str, Vocabulary, datetime], Any]] = {
    "amount": lambda value, vocab, now: _amount(value),
    "price": lambda value, vocab, now: _amount(value),
    "quantity": lambda value, vocab, now: _quantity(value),
    "stock": lambda value, vocab, now: _stock(value, vocab),
    "currency": lambda value, vocab, now: vocab.canonical("currency", value),
    "bill_type": lambda value, vocab, now: vocab.canonical("bill_type", value),
    "phone_number": lambda value, vocab, now: _phone(value),
    "when": lambda value, vocab, now: _when(value, now),
    "fund": lambda value, vocab, now: _fund(value, vocab),
    "policy": lambda value, vocab, now: _policy(value, vocab),
    "product": lambda value, vocab, now: vocab.canonical("product", value),
    "date": lambda value, vocab, now: _date(value, now),
}
# Entities with a canonical form; any other entity (payee, free-text slots) is kept as said.
CANONICAL_ENTITIES = frozenset(_CANONICAL)


def _backstop(text: str, vocab: Vocabulary, now: datetime) -> dict[str, Any]:
    """Slots stated unambiguously in the text: a kind of value mentioned with exactly one value."""
    found: dict[str, set[Any]] = {}
    for table in _LOOKUP_SLOTS:
        mentions = _mentions(text, vocab.lookups.get(table, []))
        found[table] = {vocab.canonical(table, phrase) for _, phrase in mentions}
    for code in _CODE_IN_TEXT.findall(text):
        known = vocab.canonical("stock", code[-6:])
        found["stock"].add(known or (code[-6:] if code.startswith("代码") else None))
    found["phone_number"] = set(_MOBILE_IN_TEXT.findall(text))
    found["quantity"] = {int(n) for n in _QUANTITY_IN_TEXT.findall(text)}
    found["price"] = {float(next(g for g in groups if g)) for groups in _PRICE_IN_TEXT.findall(text)}
    if not _PRICE_CONTEXT.search(text):
        found["amount"] = {float(n) for n in _AMOUNT_IN_TEXT.findall(text)} | _foreign_amounts(text, vocab)
    found["when"] = {_when(text, now, day_parts=False)}  # 今天晚上吃什么 is no callback time
    slots = {}
    for name, values in found.items():
        values.discard(None)
        if len(values) == 1:
            value = values.pop()
            slots[name] = _plain(value) if isinstance(value, float) else value
    return slots


def _mentions(text: str, phrases: list[str]) -> list[tuple[int, str]]:
    """(offset, phrase) of each phrase in `text`, longest first and without overlaps (平安银行, not 平安)."""
    taken: list[tuple[int, int]] = []
    found = []
    for phrase in sorted(phrases, key=len, reverse=True):
        start = text.find(phrase)
        while start >= 0:
            end = start + len(phrase)
            if all(end <= s or e <= start for s, e in taken):
                taken.append((start, end))
                found.append((start, phrase))
            start = text.find(phrase, start + 1)
    return found


def _foreign_amounts(text: str, vocab: Vocabulary) -> set[float]:
    """Amounts said with a currency name right after them: 1000美元."""
    amounts = set()
    for start, _ in _mentions(text, vocab.lookups.get("currency", [])):
        number = re.search(f"(?<![\\d.])({_NUMBER})$", text[:start])
        if number:
            amounts.add(float(number.group(1)))
    return amounts
