"""Every hand-off the dialog makes becomes a queue entry in the right skill group, with its context,
and the caller hears their place and the predicted wait.

Real conversations through tests/conversation.py (the real dialog service, sandbox bank and call store); the
skill groups come from `skill:` in intents/*.yml, priorities and reason overrides from config.yml
`queue:`.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conversation import CALLER, CUSTOMER, Call, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)
from test_catalog import VALID, load_error, write_catalog
from test_dialog import Down, LosingAnswers, verified_call

from assistant.catalog.catalog import Catalog
from assistant.queue.erlang import expected_wait
from assistant.queue.routing import CallQueue, Entry

pytestmark = pytest.mark.both_databases  # the queue on SQLite and on PostgreSQL (tests/databases.py)


def queue(world: World) -> CallQueue:
    return world.dialogs().queue


def waiting_entry(world: World, ticket: int | None) -> Entry:
    (entry,) = queue(world).waiting()
    assert ticket is not None and entry.ticket == ticket
    return entry


def person_during_an_order(world: World) -> Call:
    call = world.call()
    call.say("买点茅台", "stock_buy", stock="600519")
    call.verify()
    call.say("转人工", "human_agent")
    return call


def person_during_card_loss(world: World) -> Call:
    call = world.call()
    call.say("我的信用卡丢了", "card_loss")
    call.say("还是转人工吧", "human_agent")  # before the PIN
    return call


def person_by_key_zero(world: World) -> Call:
    call = world.call()
    call.keys("0")
    return call


def three_misses(world: World) -> Call:
    call = world.call()
    for text in ("嗯嗯啊", "那个那个", "呃"):
        call.say(text, "nlu_fallback", 0.2)
    return call


def three_wrong_pins(world: World) -> Call:
    world.secrets |= {"111111", "222222", "333333"}
    call = world.call()
    call.say("买两百股中国平安", "stock_buy", stock="601318", quantity=200)
    for pin in ("111111", "222222", "333333"):
        call.keys(pin)
    return call


def transfer_outcome_unknown(world: World) -> Call:
    call = verified_call(world, backend=LosingAnswers(world.bank, "banking.transfer", lost=2))
    call.say("给李四转五百", "transfer", payee="李四", amount=500)
    call.keys("1")
    return call


def complaint_system_down(world: World) -> Call:
    call = world.call(backend=Down(world.bank, "crm.complaint"))
    call.say("我要投诉", "complaint")
    call.say("取款机吞了我的卡6222021001121234", "nlu_fallback", 0.3)
    return call


def person_during_a_complaint(world: World) -> Call:
    call = world.call()
    call.say("我要投诉", "complaint")
    call.say("算了直接转人工", "human_agent")
    return call


def person_after_a_quote(world: World) -> Call:
    call = world.call()
    call.say("茅台现在多少钱一股", "stock_quote", stock="600519")  # answered: the function is over
    call.say("转人工", "human_agent")  # to the people who know what the caller just did
    return call


# reason, skill, priority, (verification, customer), function, slots, intent
@pytest.mark.parametrize("converse, expected", [
    (person_during_an_order, ("caller_request", "securities", 0, ("verified", CUSTOMER), "stock_buy",
                              {"stock": "600519"}, "human_agent")),
    (person_during_card_loss, ("caller_request", "cards", 0, ("unverified", CUSTOMER), "card_loss",
                               {"card": "credit"}, "human_agent")),
    (person_after_a_quote, ("caller_request", "securities", 0, ("unverified", None), None, {}, "human_agent")),
    (person_by_key_zero, ("caller_request", "general", 0, ("unverified", None), None, {}, None)),
    (three_misses, ("no_match", "general", 0, ("unverified", None), None, {}, "nlu_fallback")),
    (three_wrong_pins, ("locked", "cards", 2, ("locked", CUSTOMER), "stock_buy",
                        {"stock": "601318", "quantity": 200}, "stock_buy")),
    (transfer_outcome_unknown, ("outcome_unknown", "general", 2, ("verified", CUSTOMER), "transfer",
                                {"payee": "李四", "amount": 500}, "transfer")),
    (complaint_system_down, ("backend_failed", "complaints", 1, ("unverified", CUSTOMER), "complaint",
                             {"content": "取款机吞了我的卡************1234"}, "nlu_fallback")),
    (person_during_a_complaint, ("caller_request", "complaints", 0, ("unverified", CUSTOMER), "complaint", {},
                                 "human_agent")),
], ids=lambda value: value.__name__ if callable(value) else "")
def test_each_hand_off_waits_in_its_skill_group_with_its_context(
        world: World, converse: Callable[[World], Call], expected: tuple) -> None:
    call = converse(world)
    turn = call.turns[-1]
    entry = waiting_entry(world, turn.escalation)
    reason, skill, priority, (verification, customer), function, slots, intent = expected
    assert (entry.reason, entry.skill, entry.priority) == (reason, skill, priority)
    assert (entry.verification, entry.customer_id, entry.caller) == (verification, customer, CALLER)
    assert (entry.function, entry.slots, entry.intent) == (function, slots, intent)
    assert (entry.status, entry.agent, entry.callback) == ("waiting", None, None)
    said = [line for line in entry.transcript if line.startswith("caller: ")]
    assert said == [f"caller: {t.heard}" for t in call.turns]  # the whole call, as redacted
    assert "正在为您转接人工服务，请稍候。" in turn.say and "回电给我" in turn.say


def test_pins_and_card_numbers_never_reach_the_queue(world: World) -> None:
    three_wrong_pins(world)
    complaint_system_down(world)
    text = str([entry.to_json() for entry in queue(world).waiting()])
    assert "按键****" in text and "************1234" in text
    for secret in world.secrets:
        assert secret not in text


def test_the_caller_hears_the_place_and_the_erlang_c_wait(world: World) -> None:
    desk = queue(world)
    desk.set_agent("王芳", ["general"])
    desk.set_agent("李明", ["general", "cards"])
    for _ in range(16):  # callers who hung up before an agent answered: arrivals all the same
        world.store.tickets.add(world.store.open_call(None), reason="no_match", caller=None, customer_id=None, verification="unverified",
                                function=None, intent=None, slots={}, transcript=[], status="abandoned")
        world.clock.advance(minutes=3)
    answered = three_misses(world).turns[-1]
    desk.take_next("王芳")  # one agent on a call, one free
    three_misses(world)  # one caller waiting
    world.clock.advance(minutes=1)
    turn = person_by_key_zero(world).turns[-1]
    seconds = expected_wait(19 / 3600, 300, 2)  # 19 arrivals in the last hour; no finished call: 300 s
    assert 7 * 60 < seconds < 9 * 60  # well above the 1-minute floor
    assert turn.say == ("正在为您转接人工服务，请稍候。"
                        f"您前面还有1位客户，预计等待{round(seconds / 60)}分钟。不想等待可以说“回电给我”或按2，我们稍后给您回电。")
    assert queue(world).entry(answered.escalation).status == "taken"


def test_higher_priority_goes_ahead_and_the_wait_is_unknown_without_agents(world: World) -> None:
    three_misses(world)
    world.clock.advance(minutes=1)
    turn = transfer_outcome_unknown(world).turns[-1]  # priority 2, though later
    assert [e.reason for e in queue(world).waiting()] == ["outcome_unknown", "no_match"]
    assert "请稍候。现在没有空闲的坐席，等待时间可能较长。" in turn.say  # nobody ahead, nobody staffed
    world.clock.advance(minutes=1)
    last = three_misses(world).turns[-1]
    assert "您前面还有2位客户，现在没有空闲的坐席" in last.say


def test_arrivals_older_than_an_hour_do_not_count_and_finished_calls_set_the_handle_time(world: World) -> None:
    desk = queue(world)
    desk.set_agent("王芳", ["general"])
    three_misses(world)
    desk.take_next("王芳")
    world.clock.advance(minutes=10)
    desk.finish("王芳")  # a 600 s call
    desk.set_agent("王芳", state="available")
    world.clock.advance(minutes=51)  # the first arrival is now more than an hour ago
    turn = person_by_key_zero(world).turns[-1]
    assert expected_wait(1 / 3600, 600, 1) == pytest.approx(120)  # with the old arrival: 300 s
    assert "预计等待2分钟" in turn.say


def test_hanging_up_while_waiting_is_an_abandon(world: World) -> None:
    call = person_during_an_order(world)
    ticket = call.turns[-1].escalation
    world.clock.advance(seconds=40)
    call.dialog.close()
    entry = queue(world).entry(ticket)
    assert entry.status == "abandoned" and queue(world).waiting() == []
    (row,) = world.store_rows("SELECT ended_at FROM handoffs WHERE id = ?", ticket)
    assert row["ended_at"] == world.clock().isoformat(timespec="seconds")


def test_a_waiting_caller_asking_for_something_else_keeps_waiting(world: World) -> None:
    call = three_misses(world)
    turn = call.say("查余额", "balance_inquiry")
    assert turn.say == "正在为您转接人工服务，请稍候。" and turn.transaction is None
    assert call.keys("5").say == "正在为您转接人工服务，请稍候。"
    assert len(queue(world).waiting()) == 1


def test_a_skill_must_be_a_word_with_file_and_line(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, VALID.replace("    title: 买入股票\n", "    title: 买入股票\n    skill: Securities Desk\n"))
    assert load_error(tmp_path).startswith(f"{path}:5: function 'stock_buy': skill: 'Securities Desk' must be a lower-case word")
    write_catalog(tmp_path, VALID)
    assert Catalog.load(tmp_path).functions["stock_buy"].skill == "general"  # the default
