"""Insurance conversations through the real dialog and the sandbox bank, the database checked after."""
from __future__ import annotations

from datetime import date

from conversation import CATALOG, World, world  # noqa: F401 (fixtures)
from sandbox_bank import knowledge, seeded_bank_file, vocabulary  # noqa: F401 (fixtures)

DEBIT = "6222021001121234"
LIFE, CAR = "8807654321", "8801234567"


def _claim_report(world: World):
    call = world.call()
    call.say("昨天在建国路追尾了 要报车险", "claim_report", policy="car", date="2025-01-05", place="建国路")
    turn = call.verify()
    assert turn.awaiting == "description" and "请简单说一下发生了什么" in turn.say
    turn = call.say("等红灯的时候被后车追尾了 后保险杠坏了", "inform")
    assert turn.awaiting == "injured"
    return call, call.say("没有人受伤", "deny")


def test_policy_inquiry(world: World) -> None:
    call = world.call()
    call.say("查一下我的寿险保单", "policy_inquiry", policy="life")
    turn = call.verify()
    assert "您名下有1张保单：终身寿险，保单号8807654321，保障中，保额500000元，每年保费12000元，下次缴费日2月5日" in turn.say


def test_claim_report(world: World) -> None:
    call, turn = _claim_report(world)
    assert turn.awaiting == "confirmation"
    assert "出险时间1月5日，地点建国路，经过：等红灯的时候被后车追尾了 后保险杠坏了，没有人受伤" in turn.say
    turn = call.say("是", "affirm")
    claim = turn.transaction.id
    assert turn.transaction.status == "ok" and claim.startswith("LP20250106"), (turn.transaction, turn.say)
    assert f"报案成功，报案号{claim}" in turn.say and "尾号8000的手机" in turn.say
    (row,) = world.rows("SELECT * FROM claims WHERE id = ?", claim)
    assert (row["policy"], row["happened_on"], row["place"], row["injured"], row["status"]) == (
        CAR, "2025-01-05", "建国路", 0, "reported")
    (sms,) = world.rows("SELECT phone, text FROM outbox WHERE text LIKE ?", f"%{claim}%")
    assert sms["phone"] == "13800138000" and "报案已受理" in sms["text"]


def test_claim_report_corrections_and_cancel(world: World) -> None:
    call, turn = _claim_report(world)
    turn = call.say("不对 是前天", "inform", date="2025-01-04")  # a correction at the confirmation
    assert turn.awaiting == "confirmation" and "出险时间1月4日" in turn.say
    turn = call.say("地点改成三环路", "inform", place="三环路")
    assert "地点三环路" in turn.say
    turn = call.say("算了 不报了", "deny")
    assert CATALOG.prompts["cancelled"] in turn.say and turn.awaiting is None
    assert world.rows("SELECT * FROM claims") == []


def test_claim_report_refuses_a_date_to_come(world: World) -> None:
    call = world.call()
    call.say("报案", "claim_report", policy="car", date="2025-01-09", place="小区")
    call.verify()
    call.say("车被刮了", "inform")
    call.say("没受伤", "inform")
    turn = call.say("是", "affirm")
    assert "出险日期不能晚于今天" in turn.say and turn.awaiting == "date"
    assert world.rows("SELECT * FROM claims") == []


def test_claim_status(world: World) -> None:
    call, _ = _claim_report(world)
    claim = call.say("是", "affirm").transaction.id
    turn = call.say("我的理赔到哪一步了", "claim_status")
    assert f"您共有1件理赔：报案号{claim}，机动车商业保险，已受理，等待查勘" in turn.say


def test_premium_payment_from_the_debit_card_once(world: World) -> None:
    call = world.call()
    call.say("交一下保费", "premium_payment")
    turn = call.verify()
    assert turn.awaiting == "confirmation"
    turn = call.keys("1")
    assert turn.transaction.status == "ok"
    assert "终身寿险保费12000元已从借记卡扣款，保障已续到2月5日" in turn.say
    assert world.balance(DEBIT) == "38000.00"
    (policy,) = world.rows("SELECT paid_through FROM policies WHERE number = ?", LIFE)
    assert policy["paid_through"] == date(2026, 2, 5).isoformat()
    (audit,) = world.rows("SELECT status, outcome_id FROM audit WHERE action = 'insurance.pay_premium'")
    assert (audit["status"], audit["outcome_id"]) == ("ok", turn.transaction.id)
    again = world.bank.run("insurance.pay_premium", {}, customer_id="C0001", key="pay-twice")
    assert again.reason == "nothing_due"  # paid up: nothing due in the next 60 days
    assert world.balance(DEBIT) == "38000.00" and world.bank.check_ledger() == []


def test_policy_loan(world: World) -> None:
    call = world.call()
    call.say("保单能贷多少", "policy_loan")
    turn = call.verify()
    assert "终身寿险现金价值60000元，最多可以贷款48000元，年利率5%，最长6个月" in turn.say


def test_policy_contact_change(world: World) -> None:
    call = world.call()
    call.say("保单联系电话改一下", "policy_contact_change")
    assert call.verify().awaiting == "phone_number"
    turn = call.keys("13912345678")
    assert "改为尾号5678的号码" in turn.say
    turn = call.keys("1")
    assert "您2张保单的联系电话已改为尾号5678的号码" in turn.say
    assert {row["contact_phone"] for row in world.rows("SELECT contact_phone FROM policies WHERE customer_id = 'C0001'")} \
        == {"13912345678"}
    assert world.rows("SELECT * FROM outbox WHERE phone = '13912345678'")
