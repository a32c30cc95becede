"""Campaigns in the assistant's database: every statement on their tables.

    campaigns           a name, a purpose (config.yml campaigns: purposes:), a mode and where its list came from
    campaign_contacts   one row per number to call: its state (due → dialing → due again or done), when it
                        is next due, its attempts (in all, and on its latest calling day) and its result
                        (`final` = 0 while a "no answer" may still be overwritten by a later attempt)
    campaign_attempts   every attempt: method, outcome, answers, the call's id and SIP status
    do_not_call         numbers not to call for one purpose, or for any ('*': bank-wide), until a time or for good

The next contact to dial comes from an index on (campaign, state, next_due_at), so a dial decision reads
one row whatever the list's length; it is claimed in a write transaction (rows locked and skipped on
PostgreSQL), so several runners on one database never dial the same contact twice.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from assistant.core.errors import AssistantError
from assistant.storage.database import Database, Row

DUE, DIALING, DONE = "due", "dialing", "done"
BANK_WIDE = "*"
PHONE, SMS, EMAIL, LETTER = "phone", "sms", "email", "letter"  # attempts' methods
SENT, NOT_SENT = "sent", "not_sent"  # a message attempt's outcomes
QUEUED, PRINTED = "queued", "printed"  # a letter's: waiting for `campaign letters`, then in a printed batch
MODES = ("agentless", "preview", "progressive")

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
    purpose TEXT NOT NULL, mode TEXT NOT NULL, source TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaign_contacts (id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign INTEGER NOT NULL REFERENCES campaigns, customer_id TEXT, phone TEXT NOT NULL,
    context TEXT NOT NULL, state TEXT NOT NULL, next_due_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, day TEXT, day_attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT, final INTEGER NOT NULL DEFAULT 0, ticket INTEGER, UNIQUE (campaign, phone));
CREATE INDEX IF NOT EXISTS campaign_contacts_due ON campaign_contacts (campaign, state, next_due_at, id);
CREATE TABLE IF NOT EXISTS campaign_attempts (id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign INTEGER NOT NULL REFERENCES campaigns, contact INTEGER NOT NULL REFERENCES campaign_contacts,
    at TEXT NOT NULL, method TEXT NOT NULL, outcome TEXT NOT NULL, answers TEXT NOT NULL, call_id TEXT,
    sip_status INTEGER, talked_s REAL NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '', recording TEXT);
CREATE INDEX IF NOT EXISTS campaign_attempts_contact ON campaign_attempts (contact, id);
CREATE INDEX IF NOT EXISTS campaign_attempts_campaign ON campaign_attempts (campaign, outcome);
CREATE TABLE IF NOT EXISTS do_not_call (phone TEXT NOT NULL, purpose TEXT NOT NULL, added_at TEXT NOT NULL,
    until TEXT, reason TEXT NOT NULL, PRIMARY KEY (phone, purpose));
"""


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    purpose: str
    mode: str
    source: str  # the CSV file or the criteria it was selected by
    created_at: str


@dataclass(frozen=True)
class Target:
    """A number to call, before it is on a campaign's list."""

    customer_id: str | None  # None: a prospect, not a customer yet
    phone: str
    context: dict[str, str]  # what the call starts knowing (the complaint's ticket, days overdue, ...)


@dataclass(frozen=True)
class Contact:
    id: int
    campaign: int
    customer_id: str | None
    phone: str
    context: dict[str, str]
    attempts: int
    day: str | None  # the calling day `day_attempts` counts (YYYY-MM-DD)
    day_attempts: int
    result: str | None
    final: bool
    ticket: int | None  # the complaint ticket its result opened

    @classmethod
    def from_row(cls, row: Row) -> Contact:
        return cls(row["id"], row["campaign"], row["customer_id"], row["phone"], json.loads(row["context"]),
                   row["attempts"], row["day"], row["day_attempts"], row["result"], bool(row["final"]), row["ticket"])


@dataclass(frozen=True)
class Attempt:
    """One attempt as archived."""

    method: str  # phone, or a message: sms, email, letter
    outcome: str  # a dial's: answered, completed, busy, no_answer, failed, refused, wrong_person; a message's: sent,
    # not_sent; a letter's: queued, printed, not_sent
    answers: dict[str, Any]
    call_id: str | None = None
    sip_status: int | None = None
    talked_s: float = 0.0
    detail: str = ""
    recording: str | None = None


@dataclass(frozen=True)
class Listing:
    """A number on the do-not-call list."""

    until: str | None  # None: for good


@dataclass(frozen=True)
class Progress:
    """A contact after an attempt: done with a result, or due again at `next_due_at`."""

    state: str
    result: str
    final: bool
    next_due_at: str | None = None
    ticket: int | None = None


class CampaignStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.script(SCHEMA)

    # Campaigns and their lists.

    def create(self, name: str, purpose: str, mode: str, source: str, targets: list[Target], now: str) -> Campaign:
        """A campaign with its list, every contact due from `now`; one number is called once."""
        if mode not in MODES:
            raise AssistantError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        with self.db.write():
            if self.db.value("SELECT id FROM campaigns WHERE name = ?", (name,)) is not None:
                raise AssistantError(f"a campaign named {name!r} exists already")
            campaign = self.db.insert("INSERT INTO campaigns (name, purpose, mode, source, created_at) "
                                      "VALUES (?, ?, ?, ?, ?)", (name, purpose, mode, source, now))
            seen: set[str] = set()
            for target in targets:
                if target.phone in seen:
                    continue
                seen.add(target.phone)
                self.db.execute("INSERT INTO campaign_contacts (campaign, customer_id, phone, context, state, "
                                "next_due_at) VALUES (?, ?, ?, ?, ?, ?)",
                                (campaign, target.customer_id, target.phone, _json(target.context), DUE, now))
        return self.campaign(name)

    def campaigns(self) -> list[Campaign]:
        """Every campaign, the newest first."""
        return [Campaign(**row) for row in self.db.rows("SELECT * FROM campaigns ORDER BY created_at DESC, id DESC")]

    def campaign(self, name: str) -> Campaign:
        row = self.db.row("SELECT * FROM campaigns WHERE name = ?", (name,))
        if row is None:
            raise AssistantError(f"no campaign named {name!r} (assistant campaign create {name} ... makes one)")
        return Campaign(**row)

    def contact(self, contact: int) -> Contact:
        row = self.db.row("SELECT * FROM campaign_contacts WHERE id = ?", (contact,))
        if row is None:
            raise AssistantError(f"no campaign contact {contact}")
        return Contact.from_row(row)

    def contacts(self, campaign: int) -> list[Contact]:
        rows = self.db.rows("SELECT * FROM campaign_contacts WHERE campaign = ? ORDER BY id", (campaign,))
        return [Contact.from_row(row) for row in rows]

    def attempts(self, contact: int) -> list[Row]:
        rows = self.db.rows("SELECT * FROM campaign_attempts WHERE contact = ? ORDER BY id", (contact,))
        return [{**row, "answers": json.loads(row["answers"])} for row in rows]

    # Dial decisions.

    def claim_next(self, campaign: int, now: str) -> Contact | None:
        """The contact due soonest (by `now`), now being dialed; None if none is due."""
        with self.db.write():
            row = self.db.row("SELECT c.* FROM campaign_contacts c WHERE c.campaign = ? AND c.state = 'due' "
                              "AND c.next_due_at <= ? ORDER BY c.next_due_at, c.id LIMIT 1"
                              f"{self.db.claim_clause('c')}", (campaign, now))
            if row is None:
                return None
            self.db.execute("UPDATE campaign_contacts SET state = 'dialing' WHERE id = ?", (row["id"],))
        return Contact.from_row(row)

    def defer(self, contact: int, due: str) -> None:
        """A claimed contact not dialed now: due again at `due`."""
        self.db.execute("UPDATE campaign_contacts SET state = 'due', next_due_at = ? WHERE id = ?", (due, contact))

    def close(self, contact: int, result: str) -> None:
        """A claimed contact not dialed at all any more (a do-not-call number, its attempts used up)."""
        self.db.execute("UPDATE campaign_contacts SET state = 'done', result = ?, final = 1 WHERE id = ?",
                        (result, contact))

    def next_due(self, campaign: int) -> str | None:
        """When the campaign's next contact is due; None when every contact is done or being dialed."""
        return self.db.value("SELECT next_due_at FROM campaign_contacts WHERE campaign = ? AND state = 'due' "
                             "ORDER BY next_due_at LIMIT 1", (campaign,))

    def archive(self, contact: Contact, attempt: Attempt, at: str) -> None:
        """An attempt kept with the contact's others (a message sent; `record` for a dial)."""
        self.db.execute(
            "INSERT INTO campaign_attempts (campaign, contact, at, method, outcome, answers, call_id, sip_status, "
            "talked_s, detail, recording) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (contact.campaign, contact.id, at, attempt.method, attempt.outcome, _json(attempt.answers),
             attempt.call_id, attempt.sip_status, attempt.talked_s, attempt.detail, attempt.recording))

    def record(self, contact: Contact, attempt: Attempt, progress: Progress, at: str, day: str) -> None:
        """A dial's attempt archived and the contact moved on, in one transaction."""
        day_attempts = contact.day_attempts + 1 if contact.day == day else 1
        with self.db.write():
            self.archive(contact, attempt, at)
            self.db.execute(
                "UPDATE campaign_contacts SET state = ?, next_due_at = COALESCE(?, next_due_at), attempts = attempts + 1, "
                "day = ?, day_attempts = ?, result = ?, final = ?, ticket = COALESCE(?, ticket) WHERE id = ?",
                (progress.state, progress.next_due_at, day, day_attempts, progress.result, int(progress.final),
                 progress.ticket, contact.id))

    # Letters (letters.py).

    def queued_letters(self, campaign: int) -> list[Row]:
        """The campaign's letters not printed yet, oldest first, with their contact's customer_id and phone;
        inside a write transaction, locked for the batch they go into."""
        rows = self.db.rows("SELECT a.id, a.answers, c.customer_id, c.phone FROM campaign_attempts a "
                            "JOIN campaign_contacts c ON c.id = a.contact WHERE a.campaign = ? AND a.method = ? "
                            f"AND a.outcome = ? ORDER BY a.id{self.db.claim_clause('a')}", (campaign, LETTER, QUEUED))
        return [{**row, "answers": json.loads(row["answers"])} for row in rows]

    def printed(self, attempts: list[int], detail: str) -> None:
        """Queued letters now in a printed batch (`detail`: when, and which)."""
        marks = ", ".join("?" * len(attempts))
        self.db.execute(f"UPDATE campaign_attempts SET outcome = ?, detail = ? WHERE id IN ({marks})",
                        (PRINTED, detail, *attempts))

    # Do not call.

    def listing(self, phone: str, purpose: str, now: str) -> Listing | None:
        """`phone`'s listing for `purpose` or bank-wide in force at `now` that ends last; None if not listed."""
        row = self.db.row("SELECT until FROM do_not_call WHERE phone = ? AND purpose IN (?, ?) "
                          "AND (until IS NULL OR until > ?) ORDER BY until IS NOT NULL, until DESC LIMIT 1",
                          (phone, purpose, BANK_WIDE, now))
        return None if row is None else Listing(row["until"])

    def add_do_not_call(self, phone: str, purpose: str, reason: str, now: str, until: str | None) -> None:
        """`purpose` '*' for every purpose; `until` None for good. A number already listed gets the later end."""
        self.db.execute(
            "INSERT INTO do_not_call (phone, purpose, added_at, until, reason) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (phone, purpose) DO UPDATE SET added_at = excluded.added_at, reason = excluded.reason, "
            "until = CASE WHEN excluded.until IS NULL OR do_not_call.until IS NULL THEN NULL "
            "WHEN excluded.until > do_not_call.until THEN excluded.until ELSE do_not_call.until END", (phone, purpose, now, until, reason))

    def do_not_call(self) -> list[Row]:
        return self.db.rows("SELECT * FROM do_not_call ORDER BY phone, purpose")

    # Figures (report.py).

    def outcome_counts(self, campaign: int, method: str = PHONE) -> dict[str, int]:
        rows = self.db.rows("SELECT outcome, COUNT(*) AS n FROM campaign_attempts WHERE campaign = ? AND method = ? "
                            "GROUP BY outcome", (campaign, method))
        return {row["outcome"]: int(row["n"]) for row in rows}

    def result_counts(self, campaign: int) -> list[Row]:
        """(state, result, final, n) over the campaign's contacts."""
        return self.db.rows("SELECT state, result, final, COUNT(*) AS n, COUNT(ticket) AS tickets "
                            "FROM campaign_contacts WHERE campaign = ? GROUP BY state, result, final", (campaign,))

    def reached(self, campaign: int, outcomes: tuple[str, ...]) -> int:
        """Contacts with at least one attempt of `outcomes`."""
        marks = ", ".join("?" * len(outcomes))
        return int(self.db.value(f"SELECT COUNT(DISTINCT contact) FROM campaign_attempts WHERE campaign = ? "
                                 f"AND outcome IN ({marks})", (campaign, *outcomes)))

    def answers(self, campaign: int, outcome: str) -> list[dict[str, Any]]:
        rows = self.db.rows("SELECT answers FROM campaign_attempts WHERE campaign = ? AND outcome = ?",
                            (campaign, outcome))
        return [json.loads(row["answers"]) for row in rows]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
