"""Why a call is put through to a person: the reasons hand-off tickets carry, which config.yml
`queue: reasons:` ranks and routes and the agent desktop names.

The dialog gives the reasons below itself; the catalog gives the others as data (a function's
`handoff:`, e.g. human_agent's caller_request, and an outcome reply's `handoff:`, e.g. dialogue.yml's
locked, backend_failed and outcome_unknown).
"""
from __future__ import annotations

from assistant.catalog.catalog import Catalog

CALLER_REQUEST = "caller_request"  # the caller asked for a person (key 0 in the key menu)
NO_MATCH = "no_match"  # not understood `dialog.misses` times in a row
CALLBACK = "callback"  # a callback booked by a caller who was not waiting for a person
DIALOG_REASONS = frozenset({CALLER_REQUEST, NO_MATCH, CALLBACK})


def handoff_reasons(catalog: Catalog) -> frozenset[str]:
    """Every reason a ticket of a call over `catalog` can carry."""
    replies = [*catalog.outcomes.values(), *(r for f in catalog.functions.values() for r in f.outcomes.values())]
    said = {f.handoff for f in catalog.functions.values()} | {r.handoff for r in replies}
    return DIALOG_REASONS | {reason for reason in said if reason}
