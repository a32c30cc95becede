"""A campaign's figures: attempts per outcome, contacts per result, and the rates supervisors read.

Rates are over the contacts attempted at least once (0.0 when none was):
    contact_rate        someone answered (completed, answered, refused, wrong person)
    right_party_rate    the customer answered (wrong person excluded)
    completion_rate     the survey was completed
    no_answer_rate      final "no answer": every attempt used up unreached
    dissatisfaction_rate  of the completed surveys, the unhappy ones (for complaint follow-up: the
                        complaint-handling dissatisfaction rate)
`messages` counts what customers every call missed were sent, per method and outcome: sms_sent and
sms_not_sent always; email_sent, email_not_sent, letter_queued, letter_printed and letter_not_sent when the
purpose tells by that method or the campaign has such attempts.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from assistant.campaigns.rules import UNREACHED_METHODS, CallingRules
from assistant.campaigns.runner import (ANSWERED, ANSWERED_OUTCOMES, COMPLETED, NO_ANSWER, REFUSED, SATISFACTION,
                                        WRONG_PERSON)
from assistant.campaigns.store import LETTER, NOT_SENT, PRINTED, QUEUED, SENT, SMS, Campaign, CampaignStore
from assistant.core.dialing import OUTCOMES

OUTCOME_KEYS = (*OUTCOMES, COMPLETED, REFUSED, WRONG_PERSON)  # answered, busy, no_answer, failed, ...
_MESSAGE_OUTCOMES = {LETTER: (QUEUED, PRINTED, NOT_SENT)}  # others: SENT, NOT_SENT


@dataclass(frozen=True)
class Reports:
    """Every campaign's figures (the supervisors' desk shows them)."""

    store: CampaignStore
    rules: CallingRules

    def all(self) -> list[dict[str, Any]]:
        return [report(self.store, self.rules, campaign) for campaign in self.store.campaigns()]


def report(store: CampaignStore, rules: CallingRules, campaign: Campaign) -> dict[str, Any]:
    counts = store.outcome_counts(campaign.id)
    results: Counter[str] = Counter()
    pending = tickets = 0
    for row in store.result_counts(campaign.id):
        tickets += int(row["tickets"])
        if row["result"] is None:
            pending += int(row["n"])
        else:
            results[row["result"] if row["final"] else f"{row['result']}_provisional"] += int(row["n"])
    contacts = pending + sum(results.values())
    attempted = store.reached(campaign.id, OUTCOME_KEYS)
    scores = [str(answers[SATISFACTION]) for answers in store.answers(campaign.id, COMPLETED) if SATISFACTION in answers]
    unhappy = sum(1 for score in scores if score.isdigit() and int(score) <= rules.unhappy_at_most)

    def rate(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else 0.0

    reached = store.reached(campaign.id, ANSWERED_OUTCOMES)
    right_party = store.reached(campaign.id, (ANSWERED, COMPLETED, REFUSED))
    return {
        "campaign": campaign.name, "purpose": campaign.purpose, "mode": campaign.mode, "source": campaign.source,
        "contacts": contacts, "attempted": attempted, "pending": pending,
        "outcomes": {key: counts.get(key, 0) for key in OUTCOME_KEYS},
        "results": dict(sorted(results.items())),
        "contact_rate": rate(reached, attempted),
        "right_party_rate": rate(right_party, attempted),
        "completion_rate": rate(results[COMPLETED], attempted),
        "no_answer_rate": rate(results[NO_ANSWER], attempted),
        "opt_outs": results[REFUSED],
        "satisfaction": dict(sorted(Counter(scores).items())),
        "dissatisfaction_rate": rate(unhappy, len(scores)),
        "complaint_tickets": tickets,
        "messages": _messages(store, rules, campaign),
    }


def _messages(store: CampaignStore, rules: CallingRules, campaign: Campaign) -> dict[str, int]:
    purpose = rules.purposes.get(campaign.purpose)
    told = purpose.unreached if purpose else ()
    figures: dict[str, int] = {}
    for method in UNREACHED_METHODS:
        counts = store.outcome_counts(campaign.id, method)
        if method == SMS or method in told or counts:
            figures.update({f"{method}_{outcome}": counts.get(outcome, 0)
                            for outcome in _MESSAGE_OUTCOMES.get(method, (SENT, NOT_SENT))})
    return figures
