"""Callbacks: booked by voice or keys while waiting for a person, at the earliest time the queue can
keep, told by SMS through the bank's outbox; SMS replies confirm or move them; due callbacks go to
agents exactly once, also after the database is opened anew.

Real conversations (tests/conversation.py): 张三 calls from 13800138000 on Monday 2025-01-06 at 10:00.
The general desk has one agent, 王芳, on a call, and two callers wait ahead, so an agent is expected to
be free for one more call after three handle times (3 × the 300 s default): at 10:15.
"""
from __future__ import annotations

from datetime import datetime

import pytest
from conversation import CALLER, Call, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)
from test_queue_escalation import queue, three_misses

from assistant.core.errors import AssistantError
from assistant.queue.callbacks import CHANGE_REQUESTED, CONFIRMED, NO_CALLBACK, REBOOKED, UNCLEAR, Callbacks
from assistant.queue.forecast import Forecast
from assistant.queue.routing import CallQueue
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from domain.clock import PinnedClock

pytestmark = pytest.mark.both_databases  # the queue on SQLite and on PostgreSQL (tests/databases.py)

OTHER_PHONE = "13912345678"
BOOKED = "已为您预约回电，预约单号{ticket}，我们会在{when}按时致电您。预约短信已发到您{tail}的手机，回复1确认，回复2修改时间。"


@pytest.fixture()
def busy(world: World) -> World:
    """王芳 on a call and two callers waiting at the general desk."""
    desk = queue(world)
    desk.set_agent("王芳", ["general"])
    three_misses(world)
    desk.take_next("王芳")
    three_misses(world)
    three_misses(world)
    return world


def waiting_call(world: World, caller: str | None = CALLER) -> Call:
    call = world.call(caller=caller)
    turn = call.keys("0")  # a person, from the key menu
    assert "您前面还有2位客户" in turn.say
    return call


def outbox(world: World) -> list[tuple[str, str]]:
    return [(row["phone"], row["text"]) for row in world.rows("SELECT phone, text FROM outbox ORDER BY id")]


def booking(world: World, ticket: int) -> dict:
    (row,) = world.store_rows("SELECT c.*, h.status FROM callbacks c JOIN handoffs h ON h.id = c.ticket "
                              "WHERE c.ticket = ?", ticket)
    return dict(row)


def crm_ticket(world: World, number: str) -> dict:
    (row,) = world.rows("SELECT kind, phone, due FROM tickets WHERE id = ?", number)
    return dict(row)


def test_by_keys_at_the_time_agents_free_up_on_the_callers_own_line(busy: World) -> None:
    call = waiting_call(busy)
    ticket = call.turns[-1].escalation
    turn = call.keys("2")
    assert turn.say == ("好的，为您预约回电。我们将在1月6日10点15分致电您尾号8000的电话，"
                        "确认请说“是”或按1，取消请说“不”或按2。")
    assert turn.awaiting == "confirmation" and turn.slots == {"phone_number": "*******8000",
                                                              "when": "2025-01-06T10:15:00"}
    turn = call.keys("1")
    crm = turn.transaction.id
    assert turn.say == BOOKED.format(ticket=crm, when="1月6日10点15分", tail="尾号8000") + "请问还有什么可以帮您？"
    assert outbox(busy) == [(CALLER, "【示范银行】您预约的回电时间是1月6日10点15分，我们将致电您尾号8000的电话。"
                                     "确认请回复1，修改时间请回复2。")]
    assert booking(busy, ticket) | {"booked_at": None} == {
        "ticket": ticket, "phone": CALLER, "preferred_at": None, "due_at": "2025-01-06T10:15:00+08:00",
        "booked_at": None, "crm_ticket": crm, "confirmation": "unconfirmed", "status": "callback"}
    assert crm_ticket(busy, crm) == {"kind": "callback", "phone": CALLER, "due": "2025-01-06 10:15:00"}
    assert [e.ticket for e in queue(busy).waiting()] != [] and ticket not in [e.ticket for e in queue(busy).waiting()]
    call.dialog.close()
    assert queue(busy).entry(ticket).status == "callback"  # hanging up now abandons nothing


def test_by_voice_at_the_preferred_time_when_that_is_later(busy: World) -> None:
    call = waiting_call(busy)
    turn = call.say("一个小时后给我回电", "callback_request", when="2025-01-06T11:00:00")
    assert "我们将在1月6日11点致电您尾号8000的电话" in turn.say
    turn = call.say("是的", "affirm")
    assert "我们会在1月6日11点按时致电您" in turn.say
    assert outbox(busy)[0][1].startswith("【示范银行】您预约的回电时间是1月6日11点")
    assert booking(busy, call.turns[0].escalation)["preferred_at"] == "2025-01-06T11:00:00"


def test_a_spoken_number_and_time_change_the_booking_before_it_is_made(busy: World) -> None:
    call = waiting_call(busy)
    call.say("回电给我", "callback_request")
    turn = call.say("打这个号码13912345678", "inform", phone_number=OTHER_PHONE)
    assert "我们将在1月6日10点15分致电您尾号5678的电话" in turn.say
    turn = call.say("明天上午十点吧", "inform", when="2025-01-07T10:00:00")
    assert "我们将在1月7日10点致电您尾号5678的电话" in turn.say
    call.keys("1")
    assert outbox(busy) == [(OTHER_PHONE, "【示范银行】您预约的回电时间是1月7日10点，我们将致电您尾号5678的电话。"
                                          "确认请回复1，修改时间请回复2。")]


def test_without_a_caller_id_the_number_is_asked_for_and_keyed(busy: World) -> None:
    call = waiting_call(busy, caller=None)
    turn = call.keys("2")
    assert turn.awaiting == "phone_number" and "请问回电号码是多少" in turn.say
    assert "致电您尾号5678的电话" in call.keys(OTHER_PHONE).say
    call.keys("1")
    assert [phone for phone, _ in outbox(busy)] == [OTHER_PHONE]


def test_cancelling_the_booking_keeps_the_place_in_the_queue(busy: World) -> None:
    call = waiting_call(busy)
    call.keys("2")
    turn = call.keys("2")  # no
    assert turn.say == "好的，已为您取消。正在为您转接人工服务，请稍候。"
    assert queue(busy).entry(call.turns[0].escalation).status == "waiting" and outbox(busy) == []
    assert call.keys("2").awaiting == "confirmation"  # and may book after all


def test_callbacks_at_the_same_time_are_spread_over_the_staffed_agents(busy: World) -> None:
    first = waiting_call(busy)
    first.say("一个小时后给我回电", "callback_request", when="2025-01-06T11:00:00")
    first.keys("1")
    second = waiting_call(busy, caller="13500000000")
    turn = second.say("一个小时后给我回电", "callback_request", when="2025-01-06T11:00:00")
    assert "我们将在1月6日11点5分致电您尾号0000的电话" in turn.say  # one agent: one handle time later


def test_a_callback_booked_from_the_menu_is_queued_too(world: World) -> None:
    call = world.call()
    call.say("明天上午十点给我回电话", "callback_request", when="2025-01-07T10:00:00")
    call.keys(OTHER_PHONE)
    turn = call.keys("1")
    assert turn.escalation is None and "预约短信已发到您尾号5678的手机" in turn.say
    (entry,) = world.dialogs().queue.booked()
    assert (entry.reason, entry.skill, entry.function, entry.status) == ("callback", "general", "callback_request", "callback")
    assert entry.callback == {"phone": OTHER_PHONE, "due_at": "2025-01-07T10:00:00+08:00", "confirmation": "unconfirmed"}


def test_sms_replies_confirm_ask_to_change_and_move_the_callback(busy: World) -> None:
    call = waiting_call(busy)
    call.keys("2")
    call.keys("1")
    ticket = call.turns[0].escalation
    desk = busy.dialogs().callbacks
    assert desk.reply(CALLER, "１") == CONFIRMED  # a full-width digit from a phone keyboard
    assert booking(busy, ticket)["confirmation"] == "confirmed"
    assert outbox(busy)[-1] == (CALLER, "【示范银行】您已确认1月6日10点15分的回电，届时请保持电话畅通。")
    assert desk.reply(CALLER, "2") == CHANGE_REQUESTED
    assert outbox(busy)[-1][1] == "【示范银行】请回复您方便接听回电的时间，例如“明天上午十点”或“一个小时后”。"
    assert desk.reply(CALLER, "好的谢谢") == UNCLEAR
    assert outbox(busy)[-1][1].startswith("【示范银行】抱歉，没有看懂您的回复。")
    assert desk.reply(CALLER, "明天上午十点") == REBOOKED
    assert (booking(busy, ticket)["due_at"], booking(busy, ticket)["confirmation"]) == (
        "2025-01-07T10:00:00+08:00", "unconfirmed")
    assert outbox(busy)[-1][1] == ("【示范银行】您预约的回电时间是1月7日10点，我们将致电您尾号8000的电话。"
                                   "确认请回复1，修改时间请回复2。")
    assert desk.reply(CALLER, "一个小时后") == REBOOKED  # later than 10:15, when agents free up
    assert booking(busy, ticket)["due_at"] == "2025-01-06T11:00:00+08:00"
    assert desk.reply(OTHER_PHONE, "1") == NO_CALLBACK
    assert len(outbox(busy)) == 6


def test_a_due_callback_goes_to_an_agent_before_waiting_calls(busy: World) -> None:
    call = waiting_call(busy)
    call.keys("2")
    call.keys("1")
    desk = queue(busy)
    desk.finish("王芳")
    desk.set_agent("王芳", state="available")
    first = desk.take_next("王芳")
    assert first.callback is None  # at 10:00 the callback is not due: a waiting caller first
    desk.finish("王芳")
    desk.set_agent("王芳", state="available")
    busy.clock.set(datetime(2025, 1, 6, 10, 15))
    entry = desk.take_next("王芳")
    assert (entry.ticket, entry.status, entry.agent) == (call.turns[0].escalation, "taken", "王芳")
    assert entry.callback["phone"] == CALLER and entry.transcript[0] == "caller: 按键0"


def test_a_due_callback_survives_a_restart_and_is_handed_out_once(busy: World) -> None:
    call = waiting_call(busy)
    call.keys("2")
    call.keys("1")
    ticket = call.turns[0].escalation
    queue(busy).set_agent("李明", ["general"])
    assert busy.dialogs().callbacks.dispatch() == []  # not due yet

    def reopened(at: datetime) -> Callbacks:
        """The queue as a new process sees it: a new connection, nothing carried over but the file."""
        store = CallStore(busy.store_location, PinnedClock(at))
        return Callbacks(Forecast(CallQueue(store, busy.dialogs().queue.settings)), busy.bank,
                         busy.dialogs().catalog.prompts, str,
                         busy.dialogs().catalog.actions.sms)

    handed = reopened(datetime(2025, 1, 6, 10, 16)).dispatch()
    assert [(e.ticket, e.agent, e.status) for e in handed] == [(ticket, "李明", "taken")]
    again = reopened(datetime(2025, 1, 6, 10, 17))
    assert again.dispatch() == [] and again.queue.booked() == []
    assert again.queue.agent("李明").state == "on_call"


def test_with_nobody_of_the_skill_on_duty_the_callback_is_promised_at_its_next_shift(world: World) -> None:
    # No agent at all at 10:00, inside the general desk's 08:00-20:00 shift (config.yml queue.shifts):
    # nobody can call at once, so the earliest promise is the next shift's start, not "now".
    call = world.call()
    assert call.keys("0").escalation is not None
    turn = call.keys("2")
    assert turn.slots["when"] == "2025-01-07T08:00:00", turn.say
    assert "1月7日8点" in turn.say


@pytest.mark.parametrize("now, expected", [
    ("2025-01-06T07:00:00", "2025-01-06T08:30:00"),  # before the shift: when it starts
    ("2025-01-06T08:30:00", "2025-01-07T08:30:00"),  # at its start, nobody there: the next start
    ("2025-01-06T21:00:00", "2025-01-07T08:30:00"),  # after it
])
def test_next_shift_start_per_skill(now: str, expected: str) -> None:
    settings = QueueSettings.from_config({"shifts": {"default": "08:00-20:00", "insurance": "08:30-17:30"}})
    assert settings.next_shift("insurance", datetime.fromisoformat(now)).isoformat() == expected
    assert settings.next_shift("general", datetime.fromisoformat("2025-01-06T07:00:00")).hour == 8


@pytest.mark.parametrize("hours", ["8-20", "20:00-08:00", "25:00-26:00"])
def test_shift_hours_that_cannot_be_read_are_refused(hours: str) -> None:
    with pytest.raises(AssistantError, match="shifts: general"):
        QueueSettings.from_config({"shifts": {"general": hours}})
