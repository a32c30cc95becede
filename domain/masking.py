"""What may be written down about a number: PINs never, long numbers only by their last 4 digits.

The one place that finds numbers in text, however they are written: ASCII or full-width digits,
Chinese numerals read digit by digit (六二二二, 〇 and 洞 for 0, 幺 for 1, 两 for 2), in groups joined
by spaces, dashes or dots ("6222 0210 0112 1234", "6222-0210-0112-1234"), mixed. Groups joined by
commas, slashes or 、 count as one number only when together they make a card number (13 to 19
digits passing the Luhn check): a list or an amount with thousands separators stays readable.
A number of 4 to 8 digits next to a word for PIN (密码, 口令, PIN) is hidden whole.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

SECRET_PARAMS = frozenset({"pin", "old_pin", "new_pin", "password"})
HIDDEN = "****"
_PLAIN_PARAMS = frozenset({"amount", "price", "quantity", "stock", "order_id"})  # not about a person

_NUMERAL_VALUES = {"零": 0, "〇": 0, "洞": 0, "一": 1, "幺": 1, "壹": 1, "二": 2, "两": 2, "兩": 2, "贰": 2,
                   "三": 3, "叁": 3, "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7,
                   "八": 8, "捌": 8, "九": 9, "玖": 9}
_NUMERALS = "".join(_NUMERAL_VALUES)
_DIGIT = f"[\\d{_NUMERALS}]"
_SEPARATOR = "(?:[ \\t\u00a0\u3000]{1,3}|[ \u3000]?[-‐‑‒–—―－.．·・][ \u3000]?)"
_NUMBER = re.compile(f"{_DIGIT}+(?:{_SEPARATOR}{_DIGIT}+)*")
_CONTIGUOUS = re.compile(f"{_DIGIT}+")
_CARD_SEPARATOR = re.compile("[ \u3000]?[,，、/／_][ \u3000]?")
_CARD_DIGITS = (13, 19)
_PIN_DIGITS = (4, 8)
PIN_WORD = re.compile("密[码碼]|口令|(?<![a-z])(?:pin|password|passcode)(?![a-z])", re.IGNORECASE)
_GAP = f"[^\\d{_NUMERALS}\n。！？!?；;]"
_PIN_WORD_BEFORE = re.compile(f"(?:{PIN_WORD.pattern}){_GAP}{{0,6}}\\Z", re.IGNORECASE)
_PIN_WORD_AFTER = re.compile(f"{_GAP}{{0,3}}(?:{PIN_WORD.pattern})", re.IGNORECASE)
_LETTER = re.compile("[A-Za-z]")


@dataclass(frozen=True)
class _Rules:
    contiguous: int  # fewest digits of a number written without separators that is masked
    grouped: int  # the same for one written in groups
    ids: bool  # a number of up to `_ID_DIGITS` digits glued to letters is an id (TS202501060003), kept


_ID_DIGITS = 12
_PHONES_TOO = _Rules(contiguous=8, grouped=11, ids=False)
_CARDS_ONLY = _Rules(contiguous=12, grouped=12, ids=True)


def digits(text: str) -> str:
    """The ASCII digits of `text`, Chinese numerals and full-width digits read as digits."""
    return "".join(str(_NUMERAL_VALUES[c]) if c in _NUMERAL_VALUES else str(unicodedata.decimal(c))
                   for c in text if c in _NUMERAL_VALUES or c.isdecimal())


def mask_number(number: str) -> str:
    """All but the last 4 digits hidden: 6222021001121234 -> ************1234."""
    plain = digits(number) or number
    return "*" * (len(plain) - 4) + plain[-4:]


def tail(number: str) -> str:
    """How an account is named to a caller: 尾号1234."""
    return f"尾号{(digits(number) or number)[-4:]}"


def mask_numbers(text: str) -> str:
    """Card, account and phone numbers in `text` cut to their last 4 digits; a PIN said with a
    word for PIN hidden."""
    return _masked(text, _PHONES_TOO)


def mask_cards(text: str) -> str:
    """Free text (a complaint, an SMS, a note) with card and account numbers masked and PINs said
    with a word for PIN hidden; phone numbers and ticket numbers stay readable."""
    return _masked(text, _CARDS_ONLY)


def hide_numbers(text: str) -> str:
    """Every number hidden, as when `text` answers a request for a PIN; a lone Chinese numeral
    (一下, 一样) is a word, not a digit, and stays."""
    def hidden(number: str) -> str:
        plain = digits(number)
        return HIDDEN if len(plain) > 1 or re.search(r"\d", number) else number
    return _NUMBER.sub(lambda match: hidden(match.group()), text)


def names_pin(text: str) -> bool:
    """A PIN-like number (4 to 8 digits, in any form) right after or before a word for PIN."""
    return any(_pin_like(text, chain[0].start(), chain[-1].end(), _joined(chain))
               or any(_pin_like(text, m.start(), m.end(), digits(m.group())) for m in chain)
               for chain in _chained_numbers(text))


def mask_params(params: dict[str, Any]) -> dict[str, Any]:
    masked: dict[str, Any] = {}
    for name, value in params.items():
        if name in SECRET_PARAMS:
            masked[name] = "******"
        elif name in _PLAIN_PARAMS or not isinstance(value, (str, int)) or isinstance(value, bool):
            masked[name] = value
        else:
            masked[name] = mask_numbers(str(value))
    return masked


def _masked(text: str, rules: _Rules) -> str:
    pieces, last = [], 0
    for start, end, replacement in _replacements(text, rules):
        pieces += [text[last:start], replacement]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _replacements(text: str, rules: _Rules) -> Iterator[tuple[int, int, str]]:
    """(start, end, what to write instead) for each number to mask, in order."""
    for chain in _chained_numbers(text):
        yield from _chain_replacements(text, chain, rules)


def _chain_replacements(text: str, chain: list[re.Match[str]], rules: _Rules) -> Iterator[tuple[int, int, str]]:
    if _pin_like(text, chain[0].start(), chain[-1].end(), _joined(chain)):
        yield chain[0].start(), chain[-1].end(), HIDDEN
        return
    i = 0
    while i < len(chain):
        j = _card_end(chain, i)
        if j > i + 1:  # groups joined by commas or slashes that make a card number
            yield chain[i].start(), chain[j - 1].end(), mask_number(_joined(chain[i:j]))
            i = j
            continue
        replacement = _number_replacement(text, chain[i], rules)
        if replacement is not None:
            yield chain[i].start(), chain[i].end(), replacement
        i += 1


def _number_replacement(text: str, number: re.Match[str], rules: _Rules) -> str | None:
    plain = digits(number.group())
    if _pin_like(text, number.start(), number.end(), plain):
        return HIDDEN
    grouped = not _CONTIGUOUS.fullmatch(number.group())
    if len(plain) < (rules.grouped if grouped else rules.contiguous):
        return None
    if rules.ids and not grouped and len(plain) <= _ID_DIGITS and _glued_to_letters(text, number):
        return None
    return mask_number(plain)


def _card_end(chain: list[re.Match[str]], i: int) -> int:
    """The end of the longest run of numbers from `i` that together make a card number, else i."""
    found, joined = i, ""
    for j in range(i, len(chain)):
        joined += _joined([chain[j]])
        if len(joined) > _CARD_DIGITS[1]:
            break
        if len(joined) >= _CARD_DIGITS[0] and _luhn(joined):
            found = j + 1
    return found


def _chained_numbers(text: str) -> Iterator[list[re.Match[str]]]:
    """Numbers found in `text`, those joined by commas or slashes together."""
    chain: list[re.Match[str]] = []
    for match in _NUMBER.finditer(text):
        if chain and not _CARD_SEPARATOR.fullmatch(text, chain[-1].end(), match.start()):
            yield chain
            chain = []
        chain.append(match)
    if chain:
        yield chain


def _joined(numbers: list[re.Match[str]]) -> str:
    return "".join(digits(m.group()) for m in numbers)


def _pin_like(text: str, start: int, end: int, plain: str) -> bool:
    """`plain`, the digits of text[start:end], are as many as a PIN's, next to a word for PIN."""
    return _PIN_DIGITS[0] <= len(plain) <= _PIN_DIGITS[1] and bool(
        _PIN_WORD_BEFORE.search(text, max(0, start - 40), start) or _PIN_WORD_AFTER.match(text, end))


def _glued_to_letters(text: str, number: re.Match[str]) -> bool:
    before = text[number.start() - 1] if number.start() else ""
    after = text[number.end()] if number.end() < len(text) else ""
    return bool(_LETTER.fullmatch(before) or _LETTER.fullmatch(after))


def _luhn(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0
