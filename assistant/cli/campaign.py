"""`assistant campaign ...`: outbound campaigns (assistant/campaigns/) in the assistant's database."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from domain.config import load_config

if TYPE_CHECKING:
    from assistant.runtime.campaigns import CampaignService

campaign_app = typer.Typer(no_args_is_help=True, help="Outbound campaigns: follow-ups, collections, marketing.")
do_not_call_app = typer.Typer(no_args_is_help=True, help="Numbers no campaign may dial: for one purpose or bank-wide.")
campaign_app.add_typer(do_not_call_app, name="do-not-call")


def _service(now: Optional[str] = None) -> CampaignService:
    from assistant.runtime.campaigns import CampaignService, clock_from

    config = load_config()
    return CampaignService(config, clock_from(now, config))


@campaign_app.command("create")
def create(
    name: str = typer.Argument(..., help="the campaign's name"),
    purpose: str = typer.Option(..., "--purpose", help="service_followup, complaint_followup, collections, marketing, "
                                                       "... (config.yml campaigns: purposes:)"),
    csv: Optional[Path] = typer.Option(None, "--csv", help="a CSV list with at least customer_id,phone columns"),
    where: Optional[str] = typer.Option(None, "--where", help="criteria: complaints_closed:DAYS or card_overdue:N-M"),
    mode: str = typer.Option("agentless", "--mode", help="agentless (the assistant's script), progressive (dialled "
                                                          "only for a free agent, who gets the answered call) or "
                                                          "preview (that agent sees the contact first: dial or skip)"),
    now: Optional[str] = typer.Option(None, "--now", help="the time the criteria count from (Beijing time, ISO 8601)"),
) -> None:
    """Make a campaign and its list; every number is due at once (within the purpose's calling hours)."""
    service = _service(now)
    campaign = service.create(name, purpose, mode, csv, where)
    print(f"campaign {campaign.name}: {campaign.purpose}, {campaign.mode}, "
          f"{len(service.store.contacts(campaign.id))} contacts from {campaign.source}")


@campaign_app.command("run")
def run(
    name: str = typer.Argument(..., help="the campaign's name"),
    until_idle: bool = typer.Option(False, "--until-idle", help="stop when nothing is due now (else wait for retries)"),
    now: Optional[str] = typer.Option(None, "--now", help="start the campaign's clock here (Beijing time, ISO 8601)"),
    lines: int = typer.Option(1, "--lines", min=1, help="calls dialled at the same time (within runtime.max_calls)"),
) -> None:
    """Dial the campaign through telephony.trunk (or $ASSISTANT_TRUNK) until nothing is due."""
    print(f"campaign {name}: {_service(now).run(name, until_idle, lines)} calls placed")


@campaign_app.command("report")
def report(
    name: str = typer.Argument(..., help="the campaign's name"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object"),
) -> None:
    """Attempts per outcome, contacts per result and the rates."""
    figures = _service().report(name)
    if as_json:
        print(json.dumps(figures, ensure_ascii=False))
        return
    for key, value in figures.items():
        print(f"{key}: {json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value}")


@campaign_app.command("letters")
def letters(
    name: str = typer.Argument(..., help="the campaign's name"),
    out: Path = typer.Option(..., "--out", help="the CSV file the batch is written to (a new file)"),
    now: Optional[str] = typer.Option(None, "--now", help="the batch's date (Beijing time, ISO 8601; default: today)"),
) -> None:
    """Write the letters queued for customers every call missed as one printable CSV batch; they are then
    printed, and the next batch holds only letters queued since."""
    count = _service(now).letters(name, out)
    print(f"campaign {name}: {count} letters written to {out}" if count else f"campaign {name}: no new letters")


@do_not_call_app.command("add")
def add_do_not_call(
    phone: str = typer.Argument(..., help="the number, as a list gives it"),
    purpose: str = typer.Option("*", "--purpose", help="one purpose (config.yml campaigns: purposes:), or * for all"),
    days: Optional[int] = typer.Option(None, "--days", min=1, help="for this many days (default: for good)"),
    reason: str = typer.Option("asked", "--reason", help="why, as the list keeps it (e.g. asked, complaint, court)"),
) -> None:
    """Keep a number off the lists; checked at every dial, so campaigns already made obey it too."""
    until = _service().add_do_not_call(phone, purpose, days, reason)
    print(f"{phone}: not called for {'any purpose' if purpose == '*' else purpose} "
          f"{'for good' if until is None else 'until ' + until.isoformat(timespec='minutes')}")


@do_not_call_app.command("list")
def list_do_not_call(as_json: bool = typer.Option(False, "--json", help="one JSON array")) -> None:
    """The do-not-call list: number, purpose (* for all), since, until (empty: for good), reason."""
    rows = _service().store.do_not_call()
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        print(f"{row['phone']}  {row['purpose']}  since {row['added_at']}  until {row['until'] or '-'}  {row['reason']}")
