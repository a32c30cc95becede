"""Outbound calls: what asks for one (booked callbacks, campaigns) and what places it (a SIP trunk).

    dialer.originate(OutboundCall("13800138000", "callback", "card_loss", {"ticket": "42"}))
      → Dialed(outcome="answered", call_id=..., sip_status=200, talked_s=41.2)

The caller of `originate` blocks until the call is over, so a campaign or the callback dispatcher paces
itself by how many `originate` calls it runs at once (each in its own thread).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Outcome = Literal["answered", "busy", "no_answer", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("answered", "busy", "no_answer", "failed")
# OutboundCall.slots: the hand-off ticket the answered call waits for a person with (a booked callback).
TICKET = "ticket"


@dataclass(frozen=True)
class OutboundCall:
    """A call to place: the number, why, and where the answered call's dialog starts."""

    number: str  # the customer's phone number: the user part of the INVITE's Request-URI
    purpose: str  # "callback", or a campaign purpose such as "service_followup"
    start_function: str | None = None  # the catalog function the answered call opens with
    slots: dict[str, str] = field(default_factory=dict)  # what the dialog starts knowing (ticket, campaign, ...)


@dataclass(frozen=True)
class Dialed:
    """How an outbound call went: answered (and then talked for `talked_s`), busy, no answer or failed."""

    outcome: Outcome
    call_id: str  # the call's id ("" when it never got one): the SIP Call-ID, or where the dialer knows it
    # (assistant/runtime/telephony.py open_dialer), an answered call's record in the call store
    sip_status: int | None = None  # the final SIP response to the INVITE, when one came
    talked_s: float = 0.0
    detail: str = ""  # why it failed, for the log and the attempt's record


class Dialer(Protocol):
    """Places outbound calls (transports/sip.py through `telephony.trunk`)."""

    def originate(self, call: OutboundCall, ring_timeout_s: float = 30.0) -> Dialed:
        """Dials `call.number`; returns when the callee refused, did not answer within `ring_timeout_s`
        (the INVITE is then cancelled), the dial failed, or the answered call has ended."""
