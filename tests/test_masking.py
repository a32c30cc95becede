"""Card, account and PIN numbers in any written form never survive the masking (domain/masking.py),
and ordinary amounts, phone numbers where they are kept, dates and ticket numbers stay readable."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from conversation import CALLER, World, world  # noqa: F401 (fixtures)
from hypothesis import given, settings
from hypothesis import strategies as st
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)
from secret_scan import as_digits, secrets_in

from domain.masking import mask_cards, mask_numbers, mask_params, tail
from domain.redaction import redact, says_pin

CARD = "6222021001121234"  # 张三's debit card (tests/conversation.py)
MASKED = "************1234"
WRITERS: dict[str, Callable[[str], str]] = {
    "mask_numbers": mask_numbers, "mask_cards": mask_cards, "redact": redact,
    "redact_secret": lambda text: redact(text, secret=True),
}
writers = pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())


# What the findings were: grouped card numbers and PINs in words kept in full.

@writers
@pytest.mark.parametrize("said", [
    "6222 0210 0112 1234", "6222-0210-0112-1234", "6222.0210.0112.1234", "6222 - 0210 - 0112 - 1234",
    "６２２２　０２１０　０１１２　１２３４", "６２２２－０２１０－０１１２－１２３４", "6222 ０２１０-0112．1234",
    "六二二二 零二一零 零一一二 一二三四", "六二二二〇二一〇〇幺幺二幺二三四", "62220210 0112 1234",
])
def test_a_card_number_in_any_grouping_is_masked(write: Callable[[str], str], said: str) -> None:
    written = write(f"我的卡号是{said}，谢谢")
    assert not secrets_in({CARD}, written), written
    if write is not WRITERS["redact_secret"]:
        assert written == f"我的卡号是{MASKED}，谢谢"


@writers
def test_a_19_digit_account_number_with_spaces_is_masked(write: Callable[[str], str]) -> None:
    written = write("账号 6217 0000 1000 1234 567 请查一下")
    assert not secrets_in({"6217000010001234567"}, written), written


@pytest.mark.parametrize("note, expected", [
    ("客户说密码是147258，已提醒", "客户说密码是****，已提醒"),
    ("密码一四七二五八", "密码****"),
    ("取款密码：147 258", "取款密码：****"),
    ("PIN 1472", "PIN ****"),
    ("pin码幺四七两五八", "pin码****"),
    ("147258是他的密码", "****是他的密码"),
    ("卡号6222 0210 0112 1234，密码147258", f"卡号{MASKED}，密码****"),
])
def test_a_pin_next_to_a_word_for_pin_is_hidden_in_free_text(note: str, expected: str) -> None:
    assert mask_cards(note) == expected
    assert says_pin(note)


def test_a_card_number_split_by_commas_is_masked_only_when_it_is_one() -> None:
    card = "6225880123455678"  # passes the Luhn check
    assert mask_cards(f"卡号{card[:4]},{card[4:8]}/{card[8:12]}、{card[12:]}") == "卡号************5678"
    assert mask_cards("转账1,000,000元，分3/4/5次") == "转账1,000,000元，分3/4/5次"


def test_tails_are_the_last_4_digits_of_any_form() -> None:
    assert tail("6222 0210 0112 1234") == tail("六二二二零二一零零一一二一二三四") == tail(CARD) == "尾号1234"
    assert mask_params({"card": "6222-0210-0112-1234", "pin": "147258"}) == {"card": MASKED, "pin": "******"}


# What must stay readable.

@pytest.mark.parametrize("text", ["转五百块", "买入200股", "给李四转六万", "两千三百元", "2025-01-06T15:30:00",
                                  "1月6日15点30分", "密码错了三次", "等一下", "下单号TS202501060003"])
def test_amounts_dates_and_ticket_numbers_stay_readable_in_free_text(text: str) -> None:
    assert mask_cards(text) == text


def test_phone_numbers_are_masked_in_what_was_heard_but_kept_in_free_text() -> None:
    assert mask_numbers("回电13800138000") == redact("回电13800138000") == "回电*******8000"
    assert mask_cards("请回电13800138000") == "请回电13800138000"
    assert mask_numbers("时间2025-01-06 15:30") == "时间2025-01-06 15:30"


def test_a_grouped_card_number_said_in_a_call_is_stored_masked(world: World) -> None:  # noqa: F811
    call = world.call()
    call.say("我要投诉", "complaint")
    call.say("取款机吞了我的卡6222 0210 0112 1234", "nlu_fallback", 0.3)
    turn = call.say("转人工", "human_agent")
    written = str(world.store_rows("SELECT * FROM turns")) + str(world.store_rows("SELECT * FROM handoffs"))
    assert MASKED in written and not secrets_in({CARD}, written)
    assert turn.escalation is not None


# Property: generated numbers in every grouping, width and numeral form never survive.

_FORMS = {str(d): [str(d), chr(0xFF10 + d), "〇一二三四五六七八九"[d]] for d in range(10)}
_FORMS["0"] += ["零"]
_FORMS["1"] += ["幺"]
_FORMS["2"] += ["两"]
_SEPARATORS = ["", "", " ", "  ", "-", " - ", ".", "．", "－", "\u3000", "—", "·"]
_CARD_SEPARATORS = [",", "，", "/", "、"]
_NOT_NUMERALS = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF,
                              blacklist_characters="零〇洞一幺壹二两兩贰三叁四肆五伍六陆七柒八捌九玖")
_TEXT = st.text(st.one_of(_NOT_NUMERALS, st.sampled_from("，。？！：、（）“” ")), max_size=12)


def _luhn_completed(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char) * (1 if position % 2 else 2)
        total += value - 9 if value > 9 else value
    return body + str(-total % 10)


_NUMBERS = st.one_of(
    st.text("0123456789", min_size=12, max_size=18).map(_luhn_completed).map(lambda n: (n, True)),  # cards
    st.text("0123456789", min_size=12, max_size=19).map(lambda n: (n, False)),  # account numbers
)


@st.composite
def _written(draw: st.DrawFn) -> tuple[str, str]:
    """(the number, the number as a caller might write it inside some Chinese text)."""
    number, card = draw(_NUMBERS)
    separators = _SEPARATORS + (_CARD_SEPARATORS if card else [])
    out = []
    for i, digit in enumerate(number):
        if i:
            out.append(draw(st.sampled_from(separators)))
        out.append(draw(st.sampled_from(_FORMS[digit])))
    return number, draw(_TEXT) + "".join(out) + draw(_TEXT)


@settings(max_examples=300, deadline=None)
@given(_written(), st.sampled_from(list(WRITERS)))
def test_no_run_of_more_than_4_digits_of_a_number_survives(written: tuple[str, str], writer: str) -> None:
    number, text = written
    masked = WRITERS[writer](text)
    survived = as_digits(masked)
    runs = {number[i:i + 5] for i in range(len(number) - 4)}
    assert not [run for run in runs if run in survived], (text, masked)
    if writer in ("mask_numbers", "mask_cards"):
        assert "*" * (len(number) - 4) + number[-4:] in masked  # its last 4 digits still name it


def test_a_number_keyed_in_is_stored_masked_as_a_said_one(world: World) -> None:  # noqa: F811
    call = world.call(caller=None)
    call.keys("0")  # a person
    assert call.keys("2").awaiting == "phone_number"  # a callback instead, to this number
    call.keys("13912345678")
    heard = [row["heard"] for row in world.store_rows("SELECT heard FROM turns ORDER BY seq")]
    assert heard[-1] == "按键*******5678" and not secrets_in({"13912345678"}, str(heard))
