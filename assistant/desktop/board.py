"""What the desktop shows of the queue: the calls waiting (with their place and predicted wait),
the agents and their states, the booked callbacks, and an agent's own call.

A call comes with its raw ids and slot values (for scripts) and beside them what an agent reads: the
function's and the intent's titles from the catalog and the slot values as the dialog says them.
The snapshot is the same for every user; the caller's number appears in it by its last 4 digits
only (the agent who takes a call sees it whole). `fingerprint` (a few aggregates of the tickets, and
the agents) changes whenever the snapshot would, so a server can look for changes made by any
process cheaply.
"""
from __future__ import annotations

import json
from typing import Any

from assistant.catalog.catalog import NUMBER_TYPES, FunctionSpec
from assistant.dialog.wording import Wording
from assistant.queue.forecast import Forecast, Staffing
from assistant.queue.routing import CallQueue, Entry
from domain.masking import mask_number

# A queue this long is shown by its head and its length: the snapshot goes to every desk on each change.
SHOWN_WAITING = 100


class Board:
    def __init__(self, forecast: Forecast, wording: Wording) -> None:
        self.forecast = forecast
        self.queue: CallQueue = forecast.queue
        self.wording = wording
        self.catalog = wording.catalog

    def fingerprint(self) -> tuple[tuple[tuple[Any, ...], ...], ...]:
        agents = tuple((a.name, a.skills, a.state, a.since) for a in self.queue.agents())  # agents are few
        return (*self.queue.tickets.fingerprint(), agents)

    def snapshot(self) -> dict[str, Any]:
        waiting = self.queue.waiting()
        staffing: dict[str, Staffing] = {}
        places: dict[str, int] = {}
        shown = []
        for entry in waiting[:SHOWN_WAITING]:
            if entry.skill not in staffing:
                staffing[entry.skill] = self.forecast.staffing(entry.skill)
            places[entry.skill] = places.get(entry.skill, 0) + 1  # waiting() is in routing order
            shown.append({**self.public(entry), "position": places[entry.skill],
                          # the wait the caller was told (Forecast.wait): Erlang C for the skill's queue
                          "predicted_wait_s": staffing[entry.skill].expected_wait_s})
        return {"as_of": self.queue.stamp(), "waiting_count": len(waiting), "waiting": shown,
                "agents": [agent.to_json() for agent in self.queue.agents()], "callbacks": self.callbacks()}

    def callbacks(self) -> list[dict[str, Any]]:
        """Booked callbacks not handed to an agent yet, the soonest first."""
        return [self.public(entry) for entry in self.queue.booked()]

    def context(self, entry: Entry) -> dict[str, Any]:
        """Everything about a call for the agent who has it (the transcript was stored masked)."""
        function = self.catalog.functions.get(entry.function) if entry.function else None
        started_by = self.catalog.function_for(entry.intent) if entry.intent else None
        return {**entry.to_json(), "function_title": function.title if function else None,
                "intent_title": started_by.title if started_by else None,
                "slots_shown": {name: self._shown(function, name, value) for name, value in entry.slots.items()}}

    def public(self, entry: Entry) -> dict[str, Any]:
        """A call as every desk may see it: the caller's and the callback's numbers by their last 4 digits."""
        shown = self.context(entry)
        shown["caller"] = _masked(entry.caller)
        if entry.callback:
            shown["callback"] = {**entry.callback, "phone": _masked(entry.callback["phone"])}
        return shown

    def _shown(self, function: FunctionSpec | None, name: str, value: Any) -> str:
        """A slot value as the dialog says it (debit → 借记卡, 600519 → 贵州茅台, a time as 1月6日10点15分,
        a phone number as 尾号8000), from the value as stored, so nothing masked comes back; amounts and
        other numbers as they are, and a PIN as stored (hidden)."""
        slot = next((s for s in function.slots if s.name == name), None) if function else None
        if slot is None or slot.secret or slot.type in NUMBER_TYPES:
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return self.wording.slot(slot, value)


def _masked(number: str | None) -> str | None:
    return mask_number(number) if number and len(number) > 4 else number

