"""`assistant campaign letters`: the letters queued for a campaign's customers every call missed, as one
printable batch (a CSV file for the print shop), then marked printed, so the next batch holds only the
letters queued since.

The batch is taken in one write transaction: the letters are read (locked on PostgreSQL), written whole
to a temporary file, marked printed, and the file renamed to its name just before the commit; a file that
cannot be written leaves them queued, and an existing file is never overwritten.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from assistant.campaigns.channels import ADDRESS, NAME, letter_text
from assistant.campaigns.store import Campaign, CampaignStore
from assistant.core.errors import AssistantError

COLUMNS = ("customer_id", "name", "address", "phone", "campaign", "purpose", "text", "date")


def print_letters(store: CampaignStore, campaign: Campaign, prompts: Mapping[str, str], out: Path, today: date) -> int:
    """Writes the campaign's queued letters to `out`, dated `today`; how many (0: none, no file written)."""
    if out.exists():
        raise AssistantError(f"{out} exists already: name a new file for this batch")
    partial = out.with_name(out.name + ".partial")
    try:
        with store.db.write():
            letters = store.queued_letters(campaign.id)
            if not letters:
                return 0
            with partial.open("w", encoding="utf-8-sig", newline="") as file:  # the BOM: spreadsheets read Chinese right
                writer = csv.writer(file)
                writer.writerow(COLUMNS)
                for letter in letters:
                    name = letter["answers"].get(NAME, "")
                    writer.writerow((letter["customer_id"] or "", name, letter["answers"][ADDRESS], letter["phone"],
                                     campaign.name, campaign.purpose, letter_text(prompts, name), today.isoformat()))
            store.printed([letter["id"] for letter in letters], f"printed {today.isoformat()} in {out.name}")
            os.replace(partial, out)  # last before the commit: a rename that fails rolls the marks back
    except OSError as error:
        raise AssistantError(f"{out}: cannot write the letters ({error.strerror}); they stay queued") from error
    finally:
        partial.unlink(missing_ok=True)
    return len(letters)
