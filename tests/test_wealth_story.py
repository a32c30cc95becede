"""The hot wealth product, end to end: asked about, no wealth agent free, a callback booked by key 2
for "一个小时后", told and confirmed by SMS, handed to the agent who comes free, and the purchase made
on the call back, checked in the bank's database.

Real pieces throughout (tests/conversation.py): the dialog, the call store and its queue, the
callbacks' planning from the wealth desk's staffing, the sandbox bank and its outbox. The clock is
pinned to Monday 2025-01-06 10:00 Beijing time and moved forward. The wealth desk has two agents, both
on calls, and two callbacks are already booked for 11:00: at 11:00 both agents are taken by those,
so the earliest the bank can really call back is one handle time (300 s by default) later, 11:05.

The caller asks for a person once the purchase has begun (before the PIN): that ticket waits for the
wealth desk. The callback is put through the assistant as an outbound call opening with the ticket's
function, the purchase, which the caller can do alone with the PIN on the keypad.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from conversation import CALLER, CATALOG, CUSTOMER, Call, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)

from assistant.core.frames import OUTBOUND, CallStarted, DialogTurn
from assistant.core.turn import Turn
from assistant.dialog.responder import Responder
from assistant.queue.callbacks import CONFIRMED
from assistant.queue.routing import CallQueue

pytestmark = pytest.mark.both_databases  # the queue on SQLite and on PostgreSQL (tests/databases.py)

DEBIT = "6222021001121234"
AGENTS = ("赵敏", "孙丽")
ONE_HOUR_LATER = "2025-01-06T11:00:00"  # "一个小时后" at 10:00, as the NLU's time slot holds it
Speak = Callable[[Call, str], Turn]  # the caller says a line, as the NLU understands it
# The caller's lines in the story, as the trained NLU understands them (test_the_story_through_the_real_nlu).
UNDERSTOOD: dict[str, tuple[str, dict[str, Any]]] = {
    "鑫享稳盈收益多少": ("wealth_product_info", {"product": "LC2501"}),
    "我想买鑫享稳盈": ("wealth_purchase", {"product": "LC2501"}),
    "转人工": ("human_agent", {}),
    "一个小时后": ("inform", {"when": ONE_HOUR_LATER}),
    "买五万": ("inform", {"amount": 50000}),
}


def a_person_about_the_product(world: World) -> Call:
    """A caller on the seeded customer's line starts the purchase and asks for a person before the PIN."""
    call = world.call()
    call.say("我想买鑫享稳盈", "wealth_purchase", product="LC2501")
    turn = call.say("还是找理财经理吧", "human_agent")
    assert world.ticket(turn.escalation)["skill"] == "wealth"
    return call


def busy_wealth_desk(world: World) -> CallQueue:
    """Both wealth agents on a call, and two callbacks booked for 11:00 on other numbers."""
    desk = world.dialogs().queue
    for agent in AGENTS:
        desk.set_agent(agent, ["wealth"])
        a_person_about_the_product(world)
        desk.take_next(agent)
    for phone in ("13500000003", "13500000004"):
        call = a_person_about_the_product(world)
        call.keys("2")
        call.say("打这个号码", "inform", phone_number=phone)
        assert "我们将在1月6日11点致电您" in call.say("一个小时后", "inform", when=ONE_HOUR_LATER).say
        call.keys("1")
    return desk


def free_up(desk: CallQueue, agent: str) -> None:
    desk.finish(agent)
    desk.wrap_up(agent, "resolved")


def test_the_hot_wealth_product_bought_on_the_callback_an_hour_later(world: World) -> None:
    story(world, lambda call, line: call.say(line, UNDERSTOOD[line][0], **UNDERSTOOD[line][1]))


@pytest.mark.slow
def test_the_story_through_the_real_nlu(world: World, assistant: Any) -> None:
    """The caller's own words through the trained NLU (the resident process), times counted from the pinned clock."""
    story(world, lambda call, line: call.hear(assistant.understanding.understand(line, now=world.clock())))


def story(world: World, speak: Speak) -> None:
    desk = busy_wealth_desk(world)
    callbacks = world.dialogs().callbacks
    call = world.call()
    turn = speak(call, "鑫享稳盈收益多少")
    assert "鑫享稳盈180天：期限180天，业绩比较基准年化2.85%，风险等级R2，10000元起购" in turn.say
    assert speak(call, "我想买鑫享稳盈").awaiting == "pin"
    turn = speak(call, "转人工")
    ticket = turn.escalation
    assert world.ticket(ticket)["skill"] == "wealth"
    assert "不想等待可以说“回电给我”或按2" in turn.say

    turn = call.keys("2")  # a callback, on the caller's own line
    assert turn.slots["phone_number"] == "*******8000"
    turn = speak(call, "一个小时后")
    assert turn.slots["when"] == "2025-01-06T11:05:00"  # not 11:00: both agents call others back then
    assert "我们将在1月6日11点5分致电您尾号8000的电话" in turn.say
    assert "我们会在1月6日11点5分按时致电您" in call.keys("1").say
    (sms,) = world.rows("SELECT text FROM outbox WHERE phone = ?", CALLER)
    assert sms["text"] == ("【示范银行】您预约的回电时间是1月6日11点5分，我们将致电您尾号8000的电话。"
                           "确认请回复1，修改时间请回复2。")
    call.dialog.close()  # the caller hangs up; the booking stays

    assert callbacks.reply(CALLER, "1") == CONFIRMED  # what `assistant queue sms-reply` does
    (*_, confirmed) = world.rows("SELECT text FROM outbox WHERE phone = ? ORDER BY id", CALLER)
    assert confirmed["text"] == "【示范银行】您已确认1月6日11点5分的回电，届时请保持电话畅通。"
    (booked,) = world.store_rows("SELECT c.due_at, c.confirmation, h.status FROM callbacks c "
                                 "JOIN handoffs h ON h.id = c.ticket WHERE c.ticket = ?", ticket)
    assert dict(booked) == {"due_at": "2025-01-06T11:05:00+08:00", "confirmation": "confirmed", "status": "callback"}

    world.clock.set(datetime(2025, 1, 6, 11, 0))
    for agent in AGENTS:
        free_up(desk, agent)
    assert ticket not in [entry.ticket for entry in callbacks.dispatch()]  # the 11:00 ones first
    assert [agent.state for agent in desk.agents()] == ["on_call", "on_call"]
    world.clock.set(datetime(2025, 1, 6, 11, 5))
    assert callbacks.dispatch() == []  # both still on their 11:00 callbacks
    free_up(desk, "赵敏")
    (handed,) = callbacks.dispatch()
    assert (handed.ticket, handed.agent, handed.status) == (ticket, "赵敏", "taken")
    assert handed.callback == {"phone": CALLER, "due_at": "2025-01-06T11:05:00+08:00", "confirmation": "confirmed"}

    # The purchase is one the caller can do alone: 赵敏 puts the callback through the assistant,
    # an outbound call that opens with the purchase.
    back = Call(world.dialogs().open(handed.callback["phone"]))
    frames = list(Responder(back.dialog, CATALOG).process(
        CallStarted("callback", caller=CALLER, direction=OUTBOUND, start_function=handed.function)))
    (opening,) = [frame.turn for frame in frames if isinstance(frame, DialogTurn)]
    back.turns.append(opening)
    assert (opening.function, opening.awaiting) == ("wealth_purchase", "pin")
    assert back.verify().awaiting == "product"
    assert speak(back, "我想买鑫享稳盈").awaiting == "amount"
    turn = speak(back, "买五万")
    assert "您要从借记卡购买鑫享稳盈180天50000元" in turn.say
    turn = back.keys("1")
    assert turn.transaction.status == "ok" and "1月16日起息，到期日7月15日" in turn.say
    back.dialog.close()
    assert desk.finish("赵敏").status == "done"

    (holding,) = world.rows("SELECT customer_id, product, amount, status FROM wealth_holdings")
    assert tuple(holding) == (CUSTOMER, "LC2501", 5000000, "held")
    assert world.balance(DEBIT) == "0.00"  # 50,000.00 before
    assert world.bank.check_ledger() == []
    (audit,) = world.rows("SELECT customer_id, status, outcome_id FROM audit WHERE action = 'wealth.purchase'")
    assert (audit["customer_id"], audit["status"], audit["outcome_id"]) == (CUSTOMER, "ok", turn.transaction.id)
