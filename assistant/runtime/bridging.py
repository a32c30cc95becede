"""The agent takes the voice: when an agent with a phone (`assistant queue agent NAME --phone URI`)
takes a ticket whose call is a live SIP call on this worker, the worker puts the call through to that
phone (SipServer.connect_agent: a second leg, and once the agent answers the two calls' audio joined).
Desks and workers are separate processes on one database, so the worker looks for such takes every
`every_s` (config.yml `telephony.agent_phones`).

An agent's phone that is busy, not answered in `ring_s` or fails: the ticket waits again (first in its
order, as before) and the agent is away; the caller hears hold audio until the ticket is taken again
or ends. The ticket's wrap-up stays on the desk as for any other call."""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.core.dialing import Dialed
from assistant.core.errors import AssistantError
from assistant.core.settings import numbers_above_zero
from assistant.core.session import CallSession
from assistant.queue.routing import CallQueue, PhoneTake
from assistant.runtime.workers import _every, record_id
from assistant.storage.tickets import WAITING

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BridgeSettings:
    """config.yml `telephony.agent_phones`."""

    every_s: float = 0.5  # how often takes by agents with a phone are looked for
    ring_s: float = 20.0  # an agent's phone not answered in this long: the ticket waits again


class AgentLines(Protocol):
    """What the SIP front-end (assistant/transports/sip.py SipServer) does for agents' phones."""

    max_calls: int

    def live_calls(self) -> dict[str, CallSession]: ...

    def connect_agent(self, call_id: str, phone: str, ring_timeout_s: float) -> Dialed: ...

    def hold_audio(self, call_id: str, on: bool) -> None: ...


def bridge_settings(section: dict[str, Any]) -> BridgeSettings:
    """config.yml `telephony.agent_phones`."""
    return numbers_above_zero(BridgeSettings, section.get("agent_phones"), "telephony: agent_phones")


class AgentBridge:
    """Puts this worker's SIP calls through to the phones of the agents who take their tickets."""

    def __init__(self, queue: CallQueue, lines: AgentLines, settings: BridgeSettings) -> None:
        self.queue = queue
        self.lines = lines
        self.settings = settings
        self.threads = ThreadPoolExecutor(lines.max_calls, thread_name_prefix="agent-leg")
        self.started: set[tuple[int, str]] = set()  # (ticket, taken_at) of the takes put through or ringing
        self.on_hold: dict[int, str] = {}  # tickets given back: their call's SIP Call-ID, on hold audio

    def tick(self) -> list[int]:
        """Starts the agent legs of new takes of this worker's live calls (blocking on the database,
        not on the calls); the tickets it started."""
        # a ticket's call_id (its call's record in the call store) → the call's SIP Call-ID
        live = {record_id(session): sip_call_id for sip_call_id, session in self.lines.live_calls().items()}
        takes = self.queue.phone_takes(list(live))
        self.started &= {(take.ticket, take.taken_at) for take in takes}
        started = []
        for take in takes:
            if (take.ticket, take.taken_at) in self.started:
                continue
            self.started.add((take.ticket, take.taken_at))
            self.on_hold.pop(take.ticket, None)
            self.threads.submit(self._connect, take, live[take.call_id])
            started.append(take.ticket)
        for ticket, sip_call_id in list(self.on_hold.items()):  # taken by someone, or ended: hold is over
            if sip_call_id not in live.values() or self.queue.entry(ticket).status != WAITING:
                self.lines.hold_audio(sip_call_id, False)
                self.on_hold.pop(ticket, None)
        return started

    async def run(self, stop: asyncio.Event) -> None:
        """Ticks now and every `every_s` until `stop` is set."""
        await _every(self.tick, self.settings.every_s, stop, "putting calls through to agents' phones")

    def close(self) -> None:
        """Waits for the agent legs still ringing to be answered or not (blocking)."""
        self.threads.shutdown(wait=True)

    def _connect(self, take: PhoneTake, sip_call_id: str) -> None:
        from assistant.transports.sip import CALLER_LEFT  # loaded already: this worker runs the SIP front-end

        try:
            try:
                dialed = self.lines.connect_agent(sip_call_id, take.phone, self.settings.ring_s)
            except AssistantError as error:
                dialed = Dialed("failed", "", detail=str(error))
            how = dialed.outcome.replace("_", " ") + (f" ({dialed.detail})" if dialed.detail else "")
            if dialed.outcome == "answered":
                log.info("ticket #%d: call %s put through to %s's phone", take.ticket, sip_call_id, take.agent)
            elif dialed.detail == CALLER_LEFT:  # the ticket stays the agent's: the desk finishes it
                log.info("ticket #%d: the caller hung up before %s's phone answered", take.ticket, take.agent)
            elif self.queue.give_back(take.ticket, take.agent):
                self.on_hold[take.ticket] = sip_call_id
                log.warning("ticket #%d: %s's phone %s; the ticket waits again and %s is away", take.ticket,
                            take.agent, how, take.agent)
            else:
                log.warning("ticket #%d: %s's phone %s, and the ticket is no longer theirs", take.ticket, take.agent, how)
        except Exception:  # logged here: nothing waits for this thread's result
            log.exception("ticket #%d: putting the call through to %s's phone failed", take.ticket, take.agent)
