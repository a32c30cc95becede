"""Who a campaign calls: a CSV file, or named criteria over the assistant's and the bank's data.

    --csv FILE               columns customer_id,phone (customer_id may be empty: a prospect) and any
                             others, which the call starts knowing; optional name, email and address
                             columns reach a customer every call missed (channels.py) before the bank's data
    --where complaints_closed:7     callers whose complaint ticket was closed in the last 7 days
    --where card_overdue:1-30       customers whose credit-card minimum is 1 to 30 days overdue

Criteria are named and take a number or a range: nothing typed on the command line reaches SQL but
those numbers, as parameters.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from assistant.campaigns.store import Target
from assistant.core.errors import AssistantError
from assistant.storage.database import Database

PHONE = re.compile(r"^\+?\d{5,15}$")
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]+$")  # one plain address: no display name, no list
_CRITERION = re.compile(r"^([a-z_]+)(?::(\d+)(?:-(\d+))?)?$")


def phone_number(text: str) -> str | None:
    """A phone number as lists keep it (spaces and dashes dropped), or None if `text` is not one."""
    phone = text.strip().replace(" ", "").replace("-", "")
    return phone if PHONE.match(phone) else None


def email_address(text: str) -> str | None:
    """An e-mail address (spaces around it dropped), or None if `text` is not one."""
    address = text.strip()
    return address if EMAIL.match(address) else None


def read_csv(path: Path) -> list[Target]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.DictReader(file)
            rows = list(reader)
            header = reader.fieldnames or []
    except OSError as error:
        raise AssistantError(f"{path}: cannot read it ({error.strerror})") from error
    except (UnicodeDecodeError, csv.Error) as error:
        raise AssistantError(f"{path}: not a UTF-8 CSV file ({error})") from error
    missing = {"customer_id", "phone"} - set(header)
    if missing:
        raise AssistantError(f"{path}: no {sorted(missing)[0]} column (the CSV needs customer_id,phone)")
    targets = []
    for line, row in enumerate(rows, start=2):
        phone = phone_number(row.get("phone") or "")
        if phone is None:
            raise AssistantError(f"{path}:{line}: phone {row.get('phone')!r} is not a phone number")
        email = (row.get("email") or "").strip()
        if email and email_address(email) is None:
            raise AssistantError(f"{path}:{line}: email {email!r} is not an e-mail address")
        context = {key: (value or "").strip() for key, value in row.items()
                   if key not in ("customer_id", "phone") and key is not None and (value or "").strip()}
        targets.append(Target((row.get("customer_id") or "").strip() or None, phone, context))
    if not targets:
        raise AssistantError(f"{path}: no numbers to call")
    return targets


@dataclass(frozen=True)
class Sources:
    """Where criteria read from: the assistant's own database, and the bank's data (opened when needed)."""

    calls: Database
    bank: Callable[[], Database]


@dataclass(frozen=True)
class Criterion:
    help: str
    low: int  # the smallest number it takes
    ranged: bool  # takes a range N-M rather than one number
    select: Callable[[Sources, datetime, int, int], list[Target]]


def _complaints_closed(sources: Sources, now: datetime, days: int, _: int) -> list[Target]:
    since = (now - timedelta(days=days)).isoformat(timespec="seconds")
    rows = sources.calls.rows(
        "SELECT id, caller, customer_id FROM handoffs WHERE status = 'done' AND ended_at >= ? AND caller IS NOT NULL "
        "AND (function = 'complaint' OR disposition = 'complaint_filed') ORDER BY ended_at, id", (since,))
    return [Target(row["customer_id"], row["caller"], {"ticket": str(row["id"])}) for row in rows]


def _card_overdue(sources: Sources, now: datetime, least: int, most: int) -> list[Target]:
    today = now.date()
    rows = sources.bank().rows(
        "SELECT c.id, c.phone, s.due_date FROM statements s JOIN customers c ON c.id = s.customer_id "
        "WHERE s.paid < s.min_due AND s.due_date >= ? AND s.due_date <= ? ORDER BY s.due_date, c.id",
        ((today - timedelta(days=most)).isoformat(), (today - timedelta(days=least)).isoformat()))
    return [Target(row["id"], row["phone"],
                   {"days_overdue": str((today - datetime.fromisoformat(row["due_date"]).date()).days)})
            for row in rows]


CRITERIA = {
    "complaints_closed": Criterion("complaints_closed:DAYS  complaint tickets closed in the last DAYS days", 1,
                                   False, _complaints_closed),
    "card_overdue": Criterion("card_overdue:N-M  credit-card minimums N to M days overdue", 1, True, _card_overdue),
}


def select(text: str, sources: Sources, now: datetime) -> list[Target]:
    """The targets `text` (NAME:N or NAME:N-M) names."""
    found = _CRITERION.match(text.strip())
    criterion = CRITERIA.get(found.group(1)) if found else None
    if found is None or criterion is None:
        raise AssistantError(f"unknown criteria {text!r}; known: " + "; ".join(c.help for c in CRITERIA.values()))
    low, high = found.group(2), found.group(3)
    if low is None or (high is None) == criterion.ranged:
        raise AssistantError(f"criteria {text!r}: write {criterion.help.split()[0]}")
    least, most = int(low), int(high if high is not None else low)
    if least < criterion.low or most < least:
        raise AssistantError(f"criteria {text!r}: numbers must be at least {criterion.low}, the range low to high")
    targets = criterion.select(sources, now, least, most)
    if not targets:
        raise AssistantError(f"criteria {text!r}: nobody matches")
    return targets
