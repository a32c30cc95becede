"""The other channels a customer every call missed is told by: e-mail through a real SMTP server
(aiosmtpd on 127.0.0.1), and letters queued, then printed by `assistant campaign letters` as one CSV batch.

The runner is driven as in tests/test_campaign_runner.py, by its scripted trunk on a pinned clock, every
call not answered; the sandbox bank (a file of the test's own) gives the customers' addresses.
"""
from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from assistant.campaigns.report import report
from assistant.campaigns.rules import CallingRules
from assistant.campaigns.store import Target
from assistant.campaigns.targets import read_csv
from assistant.catalog.catalog import Catalog
from assistant.catalog.template import render
from assistant.cli.main import app
from assistant.core.errors import AssistantError
from assistant.runtime.campaigns import CampaignService
from assistant.runtime.desk import Desk
from domain.config import Config, load_config
from test_campaign_runner import campaign

pytestmark = pytest.mark.both_databases
SMTP_PORT, SMTP_DOWN_PORT = 18025, 18026  # nothing listens on the second
REFUSED = "nobody@refused.example"  # the test server refuses this recipient
MISSED = ["no_answer"] * 4  # service and complaint follow-up: 4 attempts in all, 2 a day
PROMPTS = Catalog.load(load_config().intents_dir).prompts


class Inbox:
    """aiosmtpd's handler: keeps every e-mail it accepts, refuses mail to REFUSED."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    server = Controller(handler, hostname="127.0.0.1", port=SMTP_PORT)
    server.start()
    try:
        yield handler
    finally:
        server.stop()


def settings(tmp_path: Path, smtp_port: int, **purposes: dict[str, Any]) -> Config:
    """config.yml with the bank in `tmp_path`, e-mail to `smtp_port`, and purposes changed as given."""
    base = load_config()
    section = base.section("campaigns")
    adapters = {**base.section("adapters"), "sandbox": {"db": str(tmp_path / "bank.sqlite"), "clock": None}}
    campaigns = {**section, "email": {**section["email"], "port": smtp_port, "timeout_s": 5},
                 "purposes": {**section["purposes"], **{name: {**section["purposes"][name], **change}
                                                        for name, change in purposes.items()}}}
    return Config({**base.raw, "adapters": adapters, "campaigns": campaigns}, base.root)


def run_unreached(call_database: str, config: Config, purpose: str, targets: list[Target],  # type: ignore[no-untyped-def]
                  off_list: tuple[str, ...] = ()):
    """A campaign of `targets` whose every call goes unanswered, run through two calling days; the
    numbers `off_list` are on the purpose's do-not-call list for three days."""
    runner, _, trunk, clock, calls = campaign(call_database, purpose, {})
    for phone in off_list:
        runner.store.add_do_not_call(phone, purpose, "court", calls.stamp(), calls.stamp(clock() + timedelta(days=3)))
    service = CampaignService(config, clock, call_database)
    runner.rules = service.rules
    runner.notices = service.notices(Desk(config, call_database, clock))
    made = runner.store.create("unreached", purpose, "agentless", "list.csv", targets, calls.stamp())
    trunk.scripts.update({target.phone: list(MISSED) for target in targets})
    run_days(runner, made, clock)
    return runner, made, clock


def run_days(runner, made, clock) -> None:  # type: ignore[no-untyped-def]
    for _ in range(10):  # 40 hours: two calling days of two attempts each, retried after an hour
        runner.run(made, until_idle=True)
        clock.advance(hours=4)


def told(runner, made) -> dict[str, list[tuple[str, str, str]]]:  # type: ignore[no-untyped-def]
    """phone → (method, outcome, detail) of each attempt that is no dial."""
    return {contact.phone: [(a["method"], a["outcome"], a["detail"]) for a in runner.store.attempts(contact.id)
                            if a["method"] != "phone"] for contact in runner.store.contacts(made.id)}


def test_a_customer_every_call_missed_is_e_mailed_at_the_address_of_the_list_or_the_bank(
        call_database: str, tmp_path: Path, inbox: Inbox) -> None:
    config = settings(tmp_path, SMTP_PORT)
    runner, made, _ = run_unreached(call_database, config, "complaint_followup", [  # unreached: [sms, email]
        Target("C0001", "13800138000", {}),  # 张三: the bank has his address
        Target(None, "13900000021", {"email": "prospect@example.com"}),  # the list's column
        Target("C0003", "13700137000", {}),  # 王芳: no e-mail address on file
        Target(None, "13900000022", {"email": REFUSED})])
    assert sorted(to for to, _ in inbox.messages) == [["prospect@example.com"], ["zhangsan@example.com"]]
    letters = {message["To"]: message for _, message in inbox.messages}
    assert letters["zhangsan@example.com"]["Subject"] == PROMPTS["email_unreached_subject"]
    assert letters["zhangsan@example.com"]["From"] == "service@bank.example"
    assert letters["zhangsan@example.com"].get_content().strip() == render(PROMPTS["email_unreached"], {"name": "张三"})
    assert letters["prospect@example.com"].get_content().strip() == render(PROMPTS["email_unreached"], {})
    assert "张三" in letters["zhangsan@example.com"].get_content()

    methods = told(runner, made)
    assert methods["13800138000"] == [("sms", "sent", ""), ("email", "sent", "")]
    assert methods["13900000021"] == [("sms", "sent", ""), ("email", "sent", "")]
    assert methods["13700137000"][1][:2] == ("email", "not_sent") and "no e-mail address" in methods["13700137000"][1][2]
    assert methods["13900000022"][1][:2] == ("email", "not_sent") and "550" in methods["13900000022"][1][2]
    assert all(contact.result == "no_answer" and contact.final for contact in runner.store.contacts(made.id))
    figures = report(runner.store, runner.rules, made)
    assert figures["messages"] == {"sms_sent": 4, "sms_not_sent": 0, "email_sent": 2, "email_not_sent": 2}
    assert figures["outcomes"]["no_answer"] == 16


def test_an_smtp_server_that_is_down_loses_the_e_mail_not_the_run(call_database: str, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    config = settings(tmp_path, SMTP_DOWN_PORT, service_followup={"unreached": ["email", "sms"]})
    with caplog.at_level(logging.WARNING, logger="assistant.campaigns.runner"):
        runner, made, _ = run_unreached(call_database, config, "service_followup", [
            Target("C0001", "13800138000", {}), Target("C0002", "13900139000", {})])
    for attempts in told(runner, made).values():  # the second contact was dialed and told as the first
        assert [(method, outcome) for method, outcome, _ in attempts] == [("email", "not_sent"), ("sms", "sent")]
        assert f"127.0.0.1:{SMTP_DOWN_PORT} not reachable" in attempts[0][2]
    assert [len(runner.store.attempts(contact.id)) for contact in runner.store.contacts(made.id)] == [6, 6]
    assert sum("email not sent" in record.getMessage() for record in caplog.records) == 2


def test_letters_are_queued_then_printed_once_as_a_csv_batch(call_database: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    config = settings(tmp_path, SMTP_DOWN_PORT, service_followup={"unreached": "letter"})
    later = "13900000033"  # kept off the list for three days: its letter comes after the first batch
    targets = [Target("C0001", "13800138000", {}),
               Target(None, "13900000031", {"name": "赵敏", "address": "杭州市西湖区文三路90号 310012"}),
               Target(None, "13900000032", {}),  # a prospect with no address
               Target("C0002", later, {})]
    runner, made, clock = run_unreached(call_database, config, "service_followup", targets, off_list=(later,))
    methods = told(runner, made)
    assert methods["13800138000"] == [("letter", "queued", "")]
    assert methods["13900000032"][0][:2] == ("letter", "not_sent") and "no postal address" in methods["13900000032"][0][2]
    assert methods[later] == []

    monkeypatch.setenv("ASSISTANT_DATABASE", call_database)
    cli = CliRunner()

    def letters(out: Path, day: str) -> Any:
        return cli.invoke(app, ["campaign", "letters", "unreached", "--out", str(out), "--now", f"{day}T09:00:00"])

    first = letters(tmp_path / "first.csv", "2026-03-05")
    assert first.exit_code == 0, first.output
    assert "2 letters written" in first.output
    with (tmp_path / "first.csv").open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows == [
        {"customer_id": "C0001", "name": "张三", "address": "北京市朝阳区建国路88号3号楼1202室 100022",
         "phone": "13800138000", "campaign": "unreached", "purpose": "service_followup",
         "text": render(PROMPTS["letter_unreached"], {"name": "张三"}), "date": "2026-03-05"},
        {"customer_id": "", "name": "赵敏", "address": "杭州市西湖区文三路90号 310012", "phone": "13900000031",
         "campaign": "unreached", "purpose": "service_followup",
         "text": render(PROMPTS["letter_unreached"], {"name": "赵敏"}), "date": "2026-03-05"}]
    assert told(runner, made)["13800138000"] == [("letter", "printed", "printed 2026-03-05 in first.csv")]

    again = letters(tmp_path / "again.csv", "2026-03-05")
    assert again.exit_code == 0 and "no new letters" in again.output
    assert not (tmp_path / "again.csv").exists()
    refused = letters(tmp_path / "first.csv", "2026-03-05")
    assert isinstance(refused.exception, AssistantError) and "exists already" in str(refused.exception)

    clock.advance(days=3)  # the listing has ended: the last contact's calls, then its letter
    run_days(runner, made, clock)
    assert letters(tmp_path / "third.csv", "2026-03-09").exit_code == 0
    with (tmp_path / "third.csv").open(encoding="utf-8-sig", newline="") as file:
        assert [(row["phone"], row["name"], row["address"]) for row in csv.DictReader(file)] == [
            (later, "李四", "上海市浦东新区世纪大道100号15楼 200120")]
    figures = report(runner.store, runner.rules, made)
    assert figures["messages"] == {"sms_sent": 0, "sms_not_sent": 0, "letter_queued": 0, "letter_printed": 3,
                                   "letter_not_sent": 1}


def test_a_list_may_give_e_mail_addresses_and_still_needs_only_customer_id_and_phone(tmp_path: Path) -> None:
    plain = read_csv(Path("tests/data/campaigns/list.csv"))
    assert [(t.customer_id, t.phone, t.context) for t in plain] == [("C0001", "13800138000", {"note": "vip"}),
                                                                   (None, "13900000009", {})]
    listing = tmp_path / "mail.csv"
    listing.write_text("customer_id,phone,email\nC0001,13800138000, a.b@example.com \n,13900000009,\n", encoding="utf-8")
    assert [t.context for t in read_csv(listing)] == [{"email": "a.b@example.com"}, {}]
    listing.write_text("customer_id,phone,email\nC0001,13800138000,not-an-address\n", encoding="utf-8")
    with pytest.raises(AssistantError, match=r"mail.csv:2: email 'not-an-address' is not an e-mail address"):
        read_csv(listing)


@pytest.mark.parametrize("unreached, email, says", [
    (["sms", "email"], True, None),
    ("letter", False, None),
    (["sms", "sms"], True, "unreached must be sms, email, letter, or a list of them without repeats"),
    ("email", False, "unreached: email needs campaigns: email:"),
])
def test_a_purpose_tells_by_one_method_or_a_list(unreached: Any, email: bool, says: str | None) -> None:
    section = load_config().section("campaigns")
    purposes = section["purposes"]
    changed = {**section, "purposes": {**purposes, "complaint_followup": {**purposes["complaint_followup"], "unreached": "sms"},
                                       "marketing": {**purposes["marketing"], "unreached": unreached}}}
    if not email:
        del changed["email"]
    if says is not None:
        with pytest.raises(AssistantError, match=says):
            CallingRules.from_config(changed)
        return
    rules = CallingRules.from_config(changed)
    assert rules.purpose("marketing").unreached == tuple(unreached if isinstance(unreached, list) else [unreached])
    assert (rules.mail is not None) == email
