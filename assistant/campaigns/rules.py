"""config.yml's `campaigns:` section: the calling rules, read once and asked at every dial.

Per purpose: the function of intents/ its answered calls open with (an outbound one, its script), the
calling window (Beijing time) and whether public holidays are calling days, how many attempts one
contact may get per day and in all, where an unhappy or unfinished result goes (the skill
group of its complaint ticket), and what a refusal does (the number leaves the purpose's list for some
days, or for good), and how a contact every call missed is told (`unreached`: sms, email, letter, or a
list of them). For every purpose: the public holidays, the retry delay after each unreached outcome, the
satisfaction score at or below which a completed survey counts as unhappy, and the SMTP server e-mails
go through (`email:`, channels.py).
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from assistant.campaigns.channels import MailSettings
from assistant.campaigns.store import EMAIL, LETTER, SMS
from assistant.core.dialing import OUTCOMES
from assistant.core.errors import AssistantError
from domain.clock import in_beijing

RETRIED = tuple(outcome for outcome in OUTCOMES if outcome != "answered")  # busy, no_answer, failed
FOREVER = "forever"
_SEARCH_DAYS = 400  # the next calling day lies within a year (a purpose whose hours never come is refused on load)
_PURPOSE_KEYS = {"function", "hours", "on_holidays", "per_day", "total", "complaint_skill", "refusal_do_not_call_days",
                 "unreached"}
UNREACHED_METHODS = (SMS, EMAIL, LETTER)  # how a customer every call missed is told (channels.py)
_SECTION_KEYS = {"holidays", "retry_after_min", "unhappy_at_most", "purposes", "email"}
_REQUIRED_KEYS = {"function", "hours", "per_day", "total", "complaint_skill"}


@dataclass(frozen=True)
class Purpose:
    name: str
    function: str  # the catalog function an answered call opens with (OutboundCall.start_function)
    opens: time
    closes: time
    on_holidays: bool  # public holidays are calling days
    per_day: int  # attempts per contact per calendar day
    total: int  # attempts per contact in all; then an unreached contact's result is a final "no answer"
    complaint_skill: str  # the skill group an unhappy or unfinished result's ticket waits in
    refusal_days: int | None  # a refusal keeps the number off this purpose's lists this long
    refusal_forever: bool  # ... or for good
    unreached: tuple[str, ...] = ()  # a contact whose attempts are used up unreached is told by these, in order

    def calling_day(self, day: date, holidays: frozenset[date]) -> bool:
        return self.on_holidays or day not in holidays


@dataclass(frozen=True)
class CallingRules:
    purposes: dict[str, Purpose]
    holidays: frozenset[date]
    retry_after: dict[str, timedelta]  # after busy, no_answer, failed
    unhappy_at_most: int  # a `satisfaction` answer (1-5) at most this is unhappy
    mail: MailSettings | None = None  # the SMTP server e-mails go through (None: no purpose sends any)

    def purpose(self, name: str) -> Purpose:
        if name not in self.purposes:
            raise AssistantError(f"unknown purpose {name!r} (config.yml campaigns: purposes: has "
                                 f"{', '.join(sorted(self.purposes))})")
        return self.purposes[name]

    def may_dial(self, purpose: Purpose, moment: datetime) -> bool:
        """Whether `moment` lies in the purpose's calling window on a calling day."""
        local = in_beijing(moment)
        return (purpose.calling_day(local.date(), self.holidays)
                and purpose.opens <= local.time().replace(tzinfo=None) < purpose.closes)

    def next_window(self, purpose: Purpose, moment: datetime) -> datetime:
        """`moment` if dialing is allowed then, else when the purpose's next calling window opens."""
        local = in_beijing(moment)
        if self.may_dial(purpose, local):
            return local
        for offset in range(_SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            opens = datetime.combine(day, purpose.opens, local.tzinfo)
            if opens > local and purpose.calling_day(day, self.holidays):
                return opens
        raise AssistantError(f"purpose {purpose.name}: no calling day within {_SEARCH_DAYS} days")

    def next_day(self, purpose: Purpose, moment: datetime) -> datetime:
        """When the first calling window after `moment`'s day opens (a contact's daily attempts are used up)."""
        local = in_beijing(moment)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(), local.tzinfo)
        return self.next_window(purpose, midnight)

    @classmethod
    def from_config(cls, section: dict[str, Any], functions: Collection[str] | None = None) -> CallingRules:
        """`functions`: the catalog's outbound functions (Catalog.outbound), which each purpose's
        `function` must be one of (None: not checked)."""
        unknown = set(section) - _SECTION_KEYS
        if unknown:
            raise AssistantError(f"config.yml: campaigns: unknown setting {sorted(unknown)[0]!r}")
        purposes = section.get("purposes") or {}
        if not isinstance(purposes, dict) or not purposes:
            raise AssistantError("config.yml: campaigns: purposes: give at least one purpose")
        retry = section.get("retry_after_min") or {}
        if set(retry) != set(RETRIED):
            raise AssistantError(f"config.yml: campaigns: retry_after_min: give minutes for exactly "
                                 f"{', '.join(RETRIED)}")
        rules = cls({name: _purpose(str(name), rule, functions) for name, rule in purposes.items()},
                    frozenset(_day(value) for value in section.get("holidays") or ()),
                    {outcome: timedelta(minutes=_number(retry[outcome], f"retry_after_min: {outcome}"))
                     for outcome in RETRIED},
                    int(_number(section.get("unhappy_at_most", 2), "unhappy_at_most")),
                    MailSettings.from_config(section["email"]) if section.get("email") is not None else None)
        for purpose in rules.purposes.values():
            rules.next_day(purpose, datetime(2000, 1, 1))  # refuses a purpose that could never dial
            if EMAIL in purpose.unreached and rules.mail is None:
                raise AssistantError(f"config.yml: campaigns: purposes: {purpose.name}: unreached: email needs "
                                     "campaigns: email: (the SMTP server: host, port, sender)")
        return rules


def _purpose(name: str, rule: Any, functions: Collection[str] | None) -> Purpose:
    where = f"config.yml: campaigns: purposes: {name}"
    if not isinstance(rule, dict):
        raise AssistantError(f"{where}: give its function, hours, per_day, total and complaint_skill")
    unknown = set(rule) - _PURPOSE_KEYS
    missing = _REQUIRED_KEYS - set(rule)
    if unknown or missing:
        problem = f"unknown setting {sorted(unknown)[0]!r}" if unknown else f"{sorted(missing)[0]} is missing"
        raise AssistantError(f"{where}: {problem}")
    function = rule["function"]
    if not isinstance(function, str) or not function:
        raise AssistantError(f"{where}: function must name the function of intents/ its answered calls open with")
    if functions is not None and function not in functions:
        raise AssistantError(f"{where}: function {function!r} is no outbound function of intents/ "
                             f"(they are: {', '.join(sorted(functions)) or 'none'})")
    opens, closes = _hours(str(rule["hours"]), where)
    per_day, total = int(_number(rule["per_day"], f"{name}: per_day")), int(_number(rule["total"], f"{name}: total"))
    if not 1 <= per_day <= total:
        raise AssistantError(f"{where}: per_day must be at least 1 and at most total")
    refusal = rule.get("refusal_do_not_call_days")
    forever = refusal == FOREVER
    days = None if refusal is None or forever else int(_number(refusal, f"{name}: refusal_do_not_call_days"))
    unreached = _methods(rule.get("unreached"), where)
    return Purpose(name, function, opens, closes, bool(rule.get("on_holidays", False)), per_day, total,
                   str(rule["complaint_skill"]), days, forever, unreached)


def _methods(value: Any, where: str) -> tuple[str, ...]:
    """`unreached`: one method, a list of them, or nothing (left out)."""
    methods = () if value is None else tuple(value) if isinstance(value, list) else (value,)
    if any(method not in UNREACHED_METHODS for method in methods) or len(set(methods)) < len(methods):
        raise AssistantError(f"{where}: unreached must be {', '.join(UNREACHED_METHODS)}, or a list of them without "
                             f"repeats (or left out), not {value!r}")
    return methods


def _hours(text: str, where: str) -> tuple[time, time]:
    try:
        opens, closes = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise AssistantError(f"{where}: hours must look like 08:00-22:00, not {text!r}") from None
    if opens >= closes:
        raise AssistantError(f"{where}: hours must open before they close ({text})")
    return opens, closes


def _day(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise AssistantError(f"config.yml: campaigns: holidays: {value!r} is not a date like 2026-10-01") from None


def _number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AssistantError(f"config.yml: campaigns: {what}: {value!r} is not a number") from None
    if number < 0:
        raise AssistantError(f"config.yml: campaigns: {what}: must not be negative")
    return number
