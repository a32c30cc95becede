"""Insurance sold by the bank as an agent: policies, first notices of loss, renewal premiums from the
debit account, policy loans and the policies' contact phone."""
from __future__ import annotations

import re
import sqlite3
from datetime import date, timedelta

from adapters import params
from adapters.base import Outcome, ok
from adapters.params import Refused, yuan
from adapters.sandbox import ledger
from adapters.sandbox.banking import pay_from_debit
from adapters.sandbox.notify import send_sms
from adapters.sandbox.store import Store
from domain.clock import in_beijing
from domain.masking import tail

INSURER = "insurer:premiums"  # the insurer's account premiums are paid to
KINDS = ("car", "life", "health")
INJURED = ("yes", "no")
DUE_WITHIN_DAYS = 60  # a renewal premium can be paid this long before it is due
GRACE_DAYS = 60  # a policy stays in force this long after an unpaid due date
LOAN_SHARE = 0.8  # of the cash value
LOAN_RATE, LOAN_MONTHS = "5.00", 6
_POLICY_NUMBER = re.compile(r"88\d{8}")


class SandboxInsurance:
    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def today(self) -> date:
        return in_beijing(self.store.now).date()

    def _policies(self, customer_id: str, policy: str | None) -> list[sqlite3.Row]:
        """The customer's policies that `policy` (a type or a number; None: all) names."""
        rows = self.store.con.execute(
            "SELECT * FROM policies WHERE customer_id = ? ORDER BY paid_through, number", (customer_id,)
        ).fetchall()
        if policy is None:
            return rows
        if policy not in KINDS and not (isinstance(policy, str) and _POLICY_NUMBER.fullmatch(policy)):
            raise params.bad_request(f"policy must be one of {', '.join(KINDS)} or a 10-digit number, not {policy!r}")
        found = [row for row in rows if policy in (row["kind"], row["number"])]
        if not found:
            raise Refused("unknown_policy", policy=policy)
        return found

    def _status(self, row: sqlite3.Row) -> str:
        return "in_force" if date.fromisoformat(row["paid_through"]) >= self.today else "grace_period"

    def policies(self, customer_id: str, policy: str | None = None) -> Outcome:
        items = [
            {"policy": row["kind"], "number": row["number"], "name": row["name"], "status": self._status(row),
             "coverage": yuan(row["coverage"]), "premium": yuan(row["premium"]), "next_due": row["paid_through"]}
            for row in self._policies(customer_id, policy)
        ]
        return ok(items=items, count=len(items))

    def report_claim(
        self, customer_id: str, policy: str, date: str, place: str, description: str, injured: str
    ) -> Outcome:
        row = self._policies(customer_id, policy)[0]
        happened = params.iso_date(date, "date")
        where = params.text(place, "place", limit=200)
        what = params.text(description, "description", limit=1000)
        hurt = params.choice(injured, "injured", INJURED)
        if happened > self.today:
            raise Refused("future_date")
        end = _grace_end(row["paid_through"])
        if not row["start"] <= happened.isoformat() <= end:
            raise Refused("not_covered", date=happened.isoformat())
        claim_id = self.store.next_id("LP")  # 理赔
        self.store.con.execute(
            "INSERT INTO claims (id, policy, at, happened_on, place, description, injured) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (claim_id, row["number"], self.store.stamp, happened.isoformat(), where, what, int(hurt == "yes")),
        )
        phone = row["contact_phone"]
        send_sms(self.store, phone, f"您的{row['name']}报案已受理，报案号{claim_id}，出险日期{happened.isoformat()}，"
                                    "理赔专员将在24小时内联系您。", customer_id)
        return ok(claim_id, claim_id=claim_id, policy=row["kind"], name=row["name"], date=happened.isoformat(),
                  phone=tail(phone))

    def claims(self, customer_id: str) -> Outcome:
        rows = self.store.con.execute(
            "SELECT claims.*, policies.name, policies.kind FROM claims JOIN policies ON policies.number = claims.policy"
            " WHERE policies.customer_id = ? ORDER BY claims.at DESC, claims.id DESC", (customer_id,)
        ).fetchall()
        if not rows:
            raise Refused("no_claims")
        items = [{"claim_id": row["id"], "policy": row["kind"], "name": row["name"], "date": row["happened_on"],
                  "status": row["status"]} for row in rows]
        return ok(items=items, count=len(items))

    def pay_premium(self, customer_id: str, policy: str | None = None) -> Outcome:
        horizon = (self.today + timedelta(days=DUE_WITHIN_DAYS)).isoformat()
        due = [row for row in self._policies(customer_id, policy) if row["paid_through"] <= horizon]
        if not due:
            raise Refused("nothing_due")
        row = due[0]
        debit = pay_from_debit(self.store, customer_id, row["premium"])
        insurer = ledger.bank_account(self.store, INSURER)
        transaction_id = ledger.record(self.store, "premium", f"{row['name']}续期保费",
                                       [(debit, -row["premium"]), (insurer, row["premium"])], customer_id=customer_id)
        paid_through = _a_year_on(row["paid_through"])
        self.store.con.execute("UPDATE policies SET paid_through = ? WHERE number = ?", (paid_through, row["number"]))
        return ok(transaction_id, policy=row["kind"], name=row["name"], amount=yuan(row["premium"]),
                  paid_through=paid_through, balance_after=yuan(ledger.balance(self.store, debit)))

    def policy_loan(self, customer_id: str, policy: str | None = None) -> Outcome:
        rows = self._policies(customer_id, policy)
        row = next((r for r in rows if r["cash_value"] > 0), rows[0])
        if row["cash_value"] <= 0:
            raise Refused("no_loan", name=row["name"])
        return ok(policy=row["kind"], name=row["name"], cash_value=yuan(row["cash_value"]),
                  available=yuan(int(row["cash_value"] * LOAN_SHARE)), rate=LOAN_RATE, months=LOAN_MONTHS)

    def change_phone(self, customer_id: str, phone: str) -> Outcome:
        number = params.mobile(phone)
        count = self.store.con.execute(
            "UPDATE policies SET contact_phone = ? WHERE customer_id = ?", (number, customer_id)
        ).rowcount
        send_sms(self.store, number, f"您名下{count}张保单的联系电话已改为本号码。如非本人操作，请致电客服。", customer_id)
        return ok(count=count, phone=tail(number))


def _a_year_on(day: str) -> str:
    then = date.fromisoformat(day)
    return then.replace(year=then.year + 1, day=min(then.day, 28) if then.month == 2 else then.day).isoformat()


def _grace_end(paid_through: str) -> str:
    return (date.fromisoformat(paid_through) + timedelta(days=GRACE_DAYS)).isoformat()
