"""The sandbox bank: every non-securities action, with the database checked after it. The ledger is
checked after every run by the `bank` fixture (tests/sandbox_bank.py)."""
from __future__ import annotations

import inspect
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from sandbox_bank import (  # noqa: F401 - fixtures
    LI_SI,
    LOOKUPS,
    MONDAY_10AM,
    WANG_FANG,
    ZHANG_SAN,
    bank,
    knowledge,
    seeded_bank_file,
    vocabulary,
)

from adapters import open_backend
from adapters.base import ACTIONS, Outcome
from adapters.http_client import HttpBackend
from adapters.sandbox import SandboxBackend
from adapters.sandbox.store import Store
from domain.config import Config
from domain.errors import UserError

# --- the demo customer as seeded -------------------------------------------------------------------


def test_the_demo_customer_is_seeded_as_described(bank):
    assert bank.run("banking.identify", customer=None, phone="13800138000").data == {
        "customer_id": ZHANG_SAN, "name": "张三"}
    assert bank.balance(ZHANG_SAN) == Decimal("50000.00")
    assert bank.balance(ZHANG_SAN, "securities") == Decimal("100000.00")
    assert bank.balance(ZHANG_SAN, "credit") == Decimal("-3800.00")
    assert bank.value("SELECT quantity FROM positions WHERE customer_id = ? AND stock = '600036'", ZHANG_SAN) == 200
    assert bank.value("SELECT account_number FROM payees WHERE customer_id = ? AND name = '李四'", ZHANG_SAN)
    assert bank.run("cards.statement").data["amount_due"] == "3800.00"


def test_pins_are_stored_only_as_salted_hashes(bank):
    bank.run("banking.verify_pin", pin="147258")
    bank.run("banking.change_pin", old_pin="147258", new_pin="582931")
    content = bank.path.read_bytes()
    assert b"147258" not in content and b"582931" not in content
    salts = {row[0] for row in bank.rows("SELECT pin_salt FROM customers")}
    assert len(salts) == 3


def test_an_unknown_caller_is_not_identified(bank):
    assert bank.run("banking.identify", customer=None, phone="13600000000").reason == "unknown_caller"
    assert bank.run("banking.identify", customer=None, phone="+86 139 0013 9000").data["name"] == "李四"


# --- PIN ---------------------------------------------------------------------------------------------


def test_the_right_pin_is_accepted(bank):
    outcome = bank.run("banking.verify_pin", pin="147258")
    assert (outcome.status, outcome.data) == ("ok", {"attempts_left": 3})


def test_three_wrong_pins_lock_the_customer_out(bank):
    assert bank.run("banking.verify_pin", pin="000000").data == {"attempts_left": 2}
    assert bank.run("banking.verify_pin", pin="111111").data == {"attempts_left": 1}
    third = bank.run("banking.verify_pin", pin="222222")
    assert (third.status, third.reason, third.data) == ("rejected", "locked", {"attempts_left": 0})
    assert bank.run("banking.verify_pin", pin="147258").reason == "locked"  # even the right one now
    assert bank.run("banking.balance").reason == "locked"
    assert bank.run("banking.transfer", payee="李四", amount=100).reason == "locked"
    assert bank.run("banking.report_card_loss").status == "ok"  # a lost card can always be reported


def test_the_right_pin_resets_the_count_of_wrong_ones(bank):
    bank.run("banking.verify_pin", pin="000000")
    bank.run("banking.verify_pin", pin="000001")
    bank.run("banking.verify_pin", pin="147258")
    assert bank.run("banking.verify_pin", pin="000002").data == {"attempts_left": 2}


def test_a_pin_that_is_not_6_digits_is_a_bad_request_and_does_not_count(bank):
    outcome = bank.run("banking.verify_pin", pin="1472")
    assert (outcome.reason, outcome.data["problem"]) == ("bad_request", "a PIN is 6 digits")
    assert bank.value("SELECT pin_failures FROM customers WHERE id = ?", ZHANG_SAN) == 0


def test_changing_the_pin(bank):
    assert bank.run("banking.change_pin", old_pin="147258", new_pin="582931").status == "ok"
    assert bank.run("banking.verify_pin", pin="147258").reason == "wrong_pin"
    assert bank.run("banking.verify_pin", pin="582931").status == "ok"


@pytest.mark.parametrize("new_pin", ["111111", "123456", "654321", "147258", "12345"])
def test_weak_new_pins_are_refused(bank, new_pin):
    outcome = bank.run("banking.change_pin", old_pin="147258", new_pin=new_pin)
    assert (outcome.status, outcome.reason) == ("rejected", "weak_pin")
    assert bank.run("banking.verify_pin", pin="147258").status == "ok"


def test_changing_the_pin_with_a_wrong_old_one_counts_as_a_wrong_pin(bank):
    outcome = bank.run("banking.change_pin", old_pin="000000", new_pin="582931")
    assert (outcome.reason, outcome.data) == ("wrong_pin", {"attempts_left": 2})
    assert bank.run("banking.verify_pin", pin="582931").reason == "wrong_pin"


# --- accounts and transfers --------------------------------------------------------------------------


def test_balance_names_the_account_by_its_last_4_digits(bank):
    assert bank.run("banking.balance").data == {"balance": "50000.00", "currency": "CNY", "account": "尾号1234"}


def test_history_lists_the_last_30_days_newest_first(bank):
    data = bank.run("banking.history").data
    assert data["count"] == 7 and data["items"][0] == {"date": "2025-01-04", "amount": "-1299.00",
                                                        "description": "网上购物"}
    assert bank.run("banking.transfer", payee="李四", amount=500).status == "ok"
    assert bank.run("banking.history").data["items"][0] == {
        "date": "2025-01-06", "amount": "-500.00", "description": "张三转账给李四"}
    december = bank.run("banking.history", since="2024-12-01", until="2024-12-20").data
    assert [item["description"] for item in december["items"]] == ["超市购物", "房租", "工资"]
    assert bank.run("banking.history", since="2025-02-01", until="2025-01-01").reason == "bad_request"


def test_a_transfer_to_a_payee_at_this_bank_moves_money_between_the_two_accounts(bank):
    outcome = bank.run("banking.transfer", payee="李四", amount="500")
    assert outcome.status == "ok" and outcome.id.startswith("T20250106")
    assert outcome.data == {"payee": "李四", "bank": "本行", "account": "尾号5678", "amount": "500.00",
                            "balance_after": "49500.00"}
    assert bank.balance(ZHANG_SAN) == Decimal("49500.00")
    assert bank.balance(LI_SI) == Decimal("12500.00")


def test_a_transfer_to_another_bank_goes_through_clearing(bank):
    clearing = bank.bank_balance("bank:clearing")
    outcome = bank.run("banking.transfer", payee="王五", amount=1234.56)
    assert outcome.data["bank"] == "中国建设银行" and outcome.data["balance_after"] == "48765.44"
    assert bank.bank_balance("bank:clearing") == clearing + Decimal("1234.56")


def test_a_transfer_by_account_number_reaches_the_account_owner(bank):
    outcome = bank.run("banking.transfer", customer=WANG_FANG, payee="6222021001125678", amount=50)
    assert outcome.data["payee"] == "李四"
    assert bank.balance(LI_SI) == Decimal("12050.00")


def test_transfers_that_break_a_rule_move_nothing(bank):
    before = bank.transactions()
    assert bank.run("banking.transfer", payee="赵钱孙", amount=100).reason == "unknown_payee"
    assert bank.run("banking.transfer", payee="6222000000000000", amount=100).reason == "unknown_payee"
    assert bank.run("banking.transfer", customer=WANG_FANG, payee="张三", amount=5000).reason == "insufficient_funds"
    assert bank.run("banking.transfer", payee="李四", amount=-5).reason == "bad_request"
    assert bank.run("banking.transfer", payee="李四", amount="12.345").reason == "bad_request"
    assert bank.run("banking.transfer", payee="李四", amount="五百").reason == "bad_request"
    assert bank.transactions() == before
    assert bank.balance(ZHANG_SAN) == Decimal("50000.00")


def test_phone_transfers_are_limited_to_50000_a_day(bank):
    assert bank.run("banking.transfer", payee="李四", amount=30000).status == "ok"
    refused = bank.run("banking.transfer", payee="王五", amount=25000)
    assert (refused.reason, refused.data) == ("limit_exceeded", {"limit": "50000.00", "left": "20000.00"})
    bank.clock.advance(days=1)
    assert bank.run("banking.transfer", payee="王五", amount=20000).status == "ok"


def test_reporting_a_lost_card(bank):
    outcome = bank.run("banking.report_card_loss")
    assert outcome.id.startswith("GS20250106") and outcome.data == {"card": "debit", "account": "尾号1234"}
    assert bank.rows("SELECT status, loss_report FROM cards WHERE kind = 'debit' AND customer_id = ?",
                     ZHANG_SAN)[0][:] == ("lost", outcome.id)
    again = bank.run("banking.report_card_loss", card="debit")
    assert (again.reason, again.data["report"]) == ("already_reported", outcome.id)
    assert bank.run("banking.report_card_loss", card="credit").data["account"] == "尾号5678"


# --- forex, bills, credit cards ------------------------------------------------------------------------


def test_forex_quotes_carry_the_spread(bank):
    usd = bank.run("forex.quote", customer=None, currency="USD").data
    assert usd == {"currency": "USD", "name": "美元", "buy": "7.1501", "sell": "7.2219", "unit": 1}
    assert bank.run("forex.quote", customer=None, currency="JPY").data["unit"] == 100
    assert bank.run("forex.quote", customer=None, currency="XYZ").reason == "unknown_currency"


def test_buying_and_selling_dollars(bank):
    bought = bank.run("forex.trade", side="buy", currency="USD", amount=100)
    assert bought.data["cny_amount"] == "722.19" and bought.data["balance_after"] == "49277.81"
    assert bank.balance(ZHANG_SAN, "foreign", "USD") == Decimal("1100.00")
    sold = bank.run("forex.trade", side="sell", currency="USD", amount=500)
    assert (sold.data["rate"], sold.data["cny_amount"]) == ("7.1501", "3575.05")
    assert bank.balance(ZHANG_SAN) == Decimal("52852.86")
    assert bank.run("forex.trade", side="sell", currency="USD", amount=5000).reason == "insufficient_funds"
    assert bank.run("forex.trade", customer=LI_SI, side="sell", currency="EUR", amount=1).reason == "insufficient_funds"


def test_buying_yen_is_priced_per_100(bank):
    outcome = bank.run("forex.trade", side="buy", currency="JPY", amount=10000)
    assert outcome.data["cny_amount"] == "484.39"  # 10000 / 100 * 4.8439
    assert bank.balance(ZHANG_SAN, "foreign", "JPY") == Decimal("10000.00")


def test_the_billers_cover_every_bill_type_the_caller_can_name(bank, vocabulary):
    bill_types = vocabulary.values_in("bill_type")
    assert sorted(row[0] for row in bank.rows("SELECT bill_type FROM billers")) == sorted(bill_types)


def test_paying_a_bill_to_the_registered_account(bank):
    outcome = bank.run("bills.pay", bill_type="electricity", amount=200)
    assert outcome.data == {"bill_type": "electricity", "biller": "国网电力公司", "account": "0102345678",
                            "amount": "200.00", "balance_after": "49800.00"}
    assert bank.bank_balance("biller:electricity") == Decimal("200.00")


def test_paying_a_bill_needs_an_account_at_the_biller(bank):
    assert bank.run("bills.pay", bill_type="cable_tv", amount=50).reason == "no_bill_account"
    assert bank.run("bills.pay", bill_type="cable_tv", amount=50, account="8800123456").status == "ok"
    assert bank.run("bills.pay", bill_type="parking", amount=50).reason == "bad_request"
    assert bank.run("bills.pay", customer=WANG_FANG, bill_type="gas", amount=4000).reason == "insufficient_funds"
    assert bank.bank_balance("biller:cable_tv") == Decimal("50.00")


def test_repaying_the_credit_card_in_part_then_in_full(bank):
    part = bank.run("cards.repay", amount=1000)
    assert part.data == {"amount": "1000.00", "remaining": "2800.00", "balance_after": "49000.00"}
    assert bank.run("cards.statement").data["amount_due"] == "2800.00"
    assert bank.run("cards.repay", amount=3000).reason == "exceeds_due"
    rest = bank.run("cards.repay")
    assert rest.data["amount"] == "2800.00" and rest.data["remaining"] == "0.00"
    assert bank.balance(ZHANG_SAN, "credit") == Decimal("0.00")
    assert bank.balance(ZHANG_SAN) == Decimal("46200.00")
    assert bank.run("cards.repay").reason == "nothing_due"
    assert bank.run("cards.statement").data["min_due"] == "0.00"


# --- CRM, SMS ------------------------------------------------------------------------------------------


def test_a_complaint_gets_a_ticket_and_keeps_card_numbers_masked(bank):
    outcome = bank.run("crm.complaint", content="我的卡6222021001121234被重复扣款两次")
    assert outcome.id == outcome.data["ticket"] == "TS202501060001"
    assert bank.rows("SELECT kind, customer_id, content FROM tickets")[0][:] == (
        "complaint", ZHANG_SAN, "我的卡************1234被重复扣款两次")
    assert bank.run("crm.complaint", customer=None, content="等太久了").id == "TS202501060002"


def test_suggestions_and_callbacks_get_their_own_tickets(bank):
    assert bank.run("crm.suggestion", content="希望增加英文服务").id == "JY202501060001"
    callback = bank.run("crm.callback", phone="13800138000", when="2025-01-06T15:00:00")
    assert callback.id == "HD202501060001" and callback.data["when"] == "2025-01-06 15:00:00"
    assert bank.value("SELECT due FROM tickets WHERE id = ?", callback.id) == "2025-01-06 15:00:00"
    assert bank.run("crm.callback", phone="12", when=None).reason == "bad_request"


def test_an_sms_lands_in_the_outbox(bank):
    outcome = bank.run("notify.sms", customer=None, phone="13900139000", text="您的验证码是246810")
    assert outcome.id.startswith("SMS20250106") and outcome.data == {"phone": "*******9000"}
    assert bank.outbox() == ["【示范银行】您的验证码是246810"]
    assert bank.run("notify.sms", customer=None, phone="110", text="hi").reason == "bad_request"


# --- idempotency, audit, faults ------------------------------------------------------------------------


def test_the_same_key_twice_runs_the_transfer_once(bank):
    first = bank.run("banking.transfer", key="transfer-1", payee="李四", amount=800)
    second = bank.run("banking.transfer", key="transfer-1", payee="李四", amount=800)
    assert second == first
    assert bank.balance(ZHANG_SAN) == Decimal("49200.00")
    assert bank.value("SELECT COUNT(*) FROM transactions WHERE kind = 'transfer'") == 1
    assert [row[0] for row in bank.rows("SELECT replayed FROM audit WHERE key = 'transfer-1'")] == [0, 1]


def test_the_same_key_from_four_threads_at_once_runs_once(bank):
    def send(_: int) -> Outcome:
        return bank.backend.run("banking.transfer", {"payee": "李四", "amount": 800}, customer_id=ZHANG_SAN, key="t")

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(send, range(4)))
    assert all(outcome == outcomes[0] for outcome in outcomes) and outcomes[0].status == "ok"
    assert bank.balance(ZHANG_SAN) == Decimal("49200.00") and bank.backend.check_ledger() == []


def test_a_key_reused_for_a_different_request_is_refused(bank):
    bank.run("banking.transfer", key="transfer-2", payee="李四", amount=800)
    assert bank.run("banking.transfer", key="transfer-2", payee="李四", amount=900).reason == "key_reused"
    assert bank.balance(ZHANG_SAN) == Decimal("49200.00")


def test_a_rejection_is_kept_under_its_key_too(bank):
    bank.run("banking.verify_pin", key="pin-1", pin="000000")
    assert bank.run("banking.verify_pin", key="pin-1", pin="000000").data == {"attempts_left": 2}
    assert bank.run("banking.verify_pin", key="pin-2", pin="000000").data == {"attempts_left": 1}


def test_the_audit_has_one_row_per_run_with_secrets_masked(bank):
    bank.run("banking.verify_pin", pin="147258")
    bank.run("banking.transfer", customer=WANG_FANG, payee="6222021001125678", amount=50)
    bank.run("banking.identify", customer=None, phone="13800138000")
    rows = bank.rows("SELECT customer_id, action, params, status, outcome_id FROM audit ORDER BY id")
    assert [json.loads(row["params"]) for row in rows] == [
        {"pin": "******"}, {"payee": "************5678", "amount": 50}, {"phone": "*******8000"}]
    assert rows[1]["customer_id"] == WANG_FANG and rows[1]["outcome_id"].startswith("T")


def test_requests_the_bank_cannot_read(bank):
    with pytest.raises(UserError, match="unknown back-end action 'banking.steal'"):
        bank.run("banking.steal")
    missing = bank.run("banking.transfer", payee="李四")
    assert missing.reason == "bad_request" and "missing ['amount']" in missing.data["problem"]
    assert bank.run("banking.balance", currency="USD").reason == "bad_request"
    assert bank.run("banking.balance", customer=None).reason == "unidentified"
    assert bank.run("banking.balance", customer="C9999").reason == "unidentified"


def test_a_broken_back_end_fails_and_commits_nothing(bank):
    con = sqlite3.connect(bank.path)
    con.execute("DROP TABLE tickets")
    con.commit()
    con.close()
    outcome = bank.run("crm.complaint", key="complaint-1", content="服务态度差")
    assert (outcome.status, outcome.reason) == ("failed", "backend_error")
    assert bank.value("SELECT COUNT(*) FROM idempotency WHERE key = 'complaint-1'") == 0
    assert bank.value("SELECT COUNT(*) FROM counters WHERE prefix = 'TS'") == 0
    assert bank.value("SELECT status FROM audit WHERE key = 'complaint-1'") == "failed"


def test_every_action_in_the_seam_is_implemented(bank):
    kinds = bank.backend.kinds(Store(None, MONDAY_10AM))
    for action, spec in ACTIONS.items():
        parameters = inspect.signature(kinds.method(action)).parameters
        takes = {*spec.required, *spec.optional, *(["customer_id"] if spec.customer != "none" else [])}
        assert set(parameters) == takes, action


# --- opening a back end from config.yml ----------------------------------------------------------------


def config_with(tmp_path: Path, adapters: dict) -> Config:
    (tmp_path / "nlu_data").symlink_to(LOOKUPS.parent)
    return Config({"adapters": adapters}, tmp_path)


def test_open_backend_makes_the_configured_kind(tmp_path):
    sandbox = open_backend(config_with(tmp_path, {
        "sandbox": {"db": "var/bank.sqlite", "clock": "2025-01-06T10:00:00"},
        "knowledge": str(Path(__file__).parents[1] / "adapters" / "knowledge")}))
    assert isinstance(sandbox, SandboxBackend) and (tmp_path / "var" / "bank.sqlite").exists()
    assert sandbox.clock().isoformat() == "2025-01-06T10:00:00+08:00"
    http = open_backend(Config({"adapters": {"kind": "http", "http": {"url": "http://127.0.0.1:1/", "retries": 0}}},
                               tmp_path))
    assert isinstance(http, HttpBackend) and http.url == "http://127.0.0.1:1" and http.retries == 0


@pytest.mark.parametrize("adapters, message", [
    ({"kind": "mainframe"}, "adapters.kind must be sandbox or http"),
    ({"kind": "http", "http": {}}, "adapters.http.url is required"),
    ({"sandbox": {"clock": "monday"}}, "adapters.sandbox.clock must be a time"),
])
def test_open_backend_explains_a_bad_adapters_section(tmp_path, adapters, message):
    with pytest.raises(UserError, match=message):
        open_backend(config_with(tmp_path, adapters))


def test_a_sandbox_file_of_other_tables_or_seed_data_is_made_again(bank, vocabulary, knowledge, caplog):
    bank.run("banking.identify", customer=None, phone="13800138000")
    con = sqlite3.connect(bank.path)
    con.execute("UPDATE meta SET value = 'older' WHERE name = 'schema'")
    con.execute("DROP TABLE fund_orders")  # what a file of an earlier version lacks
    con.commit()
    con.close()
    reopened = SandboxBackend(bank.path, vocabulary=vocabulary, clock=bank.clock, knowledge=knowledge)
    assert "making it again" in caplog.text
    assert reopened.run("banking.identify", {"phone": "13800138000"}, customer_id=None, key="again").data["name"] == "张三"
    rows = sqlite3.connect(bank.path).execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'fund_orders'")
    assert rows.fetchone()[0] == 1
    caplog.clear()
    SandboxBackend(bank.path, vocabulary=vocabulary, clock=bank.clock, knowledge=knowledge)
    assert "making it again" not in caplog.text  # the same version is kept as it is
