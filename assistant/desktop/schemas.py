"""The desk API's request and response bodies (pydantic), as /docs and /openapi.json describe them.

No `from __future__ import annotations` here: pydantic 1 reads these annotations at class creation.
The document is OpenAPI 3.0, where a field that may be null says `nullable` (pydantic 1 does not).
"""
from typing import Any, Dict, List, Literal, Optional, Type

from pydantic import BaseModel, Field


class Schema(BaseModel):
    class Config:
        @staticmethod
        def schema_extra(schema: Dict[str, Any], model: Type[BaseModel]) -> None:
            for field in model.__fields__.values():
                if field.allow_none:
                    shown = schema["properties"][field.alias]
                    if "$ref" in shown:  # OpenAPI 3.0 ignores whatever stands beside a $ref
                        shown["allOf"] = [{"$ref": shown.pop("$ref")}]
                    shown["nullable"] = True


class Problem(Schema):
    detail: str = Field(..., description="what went wrong, in one sentence", example="no hand-off ticket 7")


class Login(Schema):
    name: str = Field(..., min_length=1, max_length=100, example="王芳")
    password: str = Field(..., min_length=1, max_length=200)


class StateChange(Schema):
    state: Literal["available", "away"] = Field(..., description="available: ready for calls; away: not")


class WrapUp(Schema):
    disposition: str = Field(..., description="one of GET /api/dispositions", example="resolved")
    note: str = Field("", max_length=2000, description="free text; card numbers in it are kept masked")


class AgentOut(Schema):
    name: str
    skills: List[str]
    state: str = Field(..., description="available, on_call, wrap_up or away")
    since: str = Field(..., description="when the state began (ISO 8601, Beijing time)")


class Me(Schema):
    name: str
    role: str = Field(..., description="agent or supervisor")
    agent: Optional[AgentOut] = Field(None, description="the agent's queue state (agents only)")


class CallbackOut(Schema):
    phone: Optional[str] = Field(..., description="the number to call (in lists: its last 4 digits only)")
    due_at: str
    confirmation: str = Field(..., description="unconfirmed, confirmed or change_requested (SMS replies)")


class Call(Schema):
    """A hand-off ticket with what an agent needs to pick the call up. The transcript was stored
    with PINs removed and card and account numbers cut to their last 4 digits."""

    ticket: int
    created_at: str = Field(..., description="when the call entered the queue")
    skill: str
    priority: int = Field(..., description="higher is served first")
    status: str = Field(..., description="waiting, taken, done, abandoned or callback")
    reason: str = Field(..., description="why the assistant put the call through, e.g. caller_request, locked")
    caller: Optional[str] = Field(..., description="the caller id (in lists: its last 4 digits only)")
    customer_id: Optional[str]
    verification: str = Field(..., description="verified, unverified, unidentified or locked")
    function: Optional[str] = Field(..., description="what the caller was doing (a function id)")
    function_title: Optional[str] = Field(..., description="that function's name, e.g. 银行卡挂失")
    intent: Optional[str] = Field(..., description="what the caller last asked for (an intent id)")
    intent_title: Optional[str] = Field(..., description="the name of the function that intent starts; null "
                                                         "for intents that start none")
    slots: Dict[str, Any] = Field(..., description="the function's values as stored: canonical ids, PINs hidden")
    slots_shown: Dict[str, str] = Field(
        ..., description="the same as the dialog says them, e.g. card debit as 借记卡, a stock by its name; "
                         "numbers as they are", example={"card": "借记卡"})
    transcript: List[str] = Field(..., description="the call so far: 'caller: ...' and 'assistant: ...' lines")
    agent: Optional[str]
    disposition: Optional[str] = Field(..., description="recorded at wrap-up")
    callback: Optional[CallbackOut]


class WaitingCall(Call):
    position: int = Field(..., description="place in its skill group's queue, 1 = next")
    predicted_wait_s: Optional[float] = Field(
        ..., description="the wait Erlang C predicts for the skill group (what the caller was told); null: no agent "
                         "can keep up")


class Snapshot(Schema):
    as_of: str = Field(..., description="when the snapshot was taken")
    waiting_count: int = Field(..., description="calls waiting (the list shows the first 100)")
    waiting: List[WaitingCall] = Field(..., description="in the order agents get them")
    agents: List[AgentOut]
    callbacks: List[Call] = Field(..., description="booked callbacks not handed out yet, the soonest first")


class HourOut(Schema):
    start: str
    arrivals: int
    answered: int
    abandoned: int
    service_level: Optional[float]


class CampaignOut(Schema):
    """A campaign's figures (`assistant campaign report`; see README, "Outbound campaigns"); rates are 0..1."""

    campaign: str = Field(..., example="spring")
    purpose: str = Field(..., example="service_followup")
    mode: str = Field(..., description="agentless, preview or progressive")
    source: str = Field(..., description="the CSV file or the criteria the list came from")
    contacts: int
    attempted: int = Field(..., description="contacts dialled at least once")
    pending: int = Field(..., description="contacts with no result yet")
    outcomes: Dict[str, int] = Field(..., description="dial attempts per outcome")
    results: Dict[str, int] = Field(..., description="contacts per result; *_provisional: may still change")
    contact_rate: float
    right_party_rate: float
    completion_rate: float
    no_answer_rate: float
    opt_outs: int
    satisfaction: Dict[str, int] = Field(..., description="completed surveys per score (1-5)")
    dissatisfaction_rate: float
    complaint_tickets: int
    messages: Dict[str, int] = Field(..., description="texts to customers every call missed, sent and not sent")


class PreviewOut(Schema):
    """A contact of a preview campaign offered to this agent before the dial: dial it or skip it."""

    campaign: str = Field(..., example="overdue-march")
    purpose: str = Field(..., description="config.yml campaigns: purposes:", example="collections")
    contact: int = Field(..., description="the contact's number on the campaign's list")
    customer_id: Optional[str] = Field(..., description="null: a prospect, not a customer yet")
    name: Optional[str] = Field(..., description="the customer's name, from the list's `name` column or the bank's "
                                                 "customer data; null: unknown", example="张伟")
    phone: str = Field(..., description="the number that will be dialled")
    context: Dict[str, str] = Field(..., description="what the call follows up, as the list gave it: the complaint's "
                                                      "ticket, the overdue bill, ...", example={"days_overdue": "35"})
    offered_at: str
    expires_at: str = Field(..., description="not decided by then, the contact goes back to the list and the "
                                             "agent away")


class PreviewDecision(Schema):
    decision: Literal["dial", "skip"] = Field(..., description="dial: call the customer now, the call is yours once "
                                                               "answered; skip: do not call this customer (closed)")


class StatsOut(Schema):
    """Figures over a window (see README, "Agent desktop"); shares are 0..1, null when nothing to divide."""

    since: str
    until: str
    service_level_s: float = Field(..., description="the answer time the service level counts")
    callback_grace_min: float = Field(..., description="minutes after its time a callback still counts as kept")
    arrivals: int = Field(..., description="tickets that entered the queue")
    answered: int
    answered_in_target: int
    abandoned: int
    service_level: Optional[float] = Field(..., description="answered in time / (answered + abandoned)")
    average_answer_s: Optional[float] = Field(..., description="average speed of answer")
    abandonment_rate: Optional[float] = Field(..., description="abandoned / (answered + abandoned)")
    average_handle_s: Optional[float]
    callbacks_due: int
    callbacks_kept: int
    callbacks_kept_rate: Optional[float]
    calls: int = Field(..., description="calls that started in the window")
    contained: int = Field(..., description="of them, ended without a hand-off")
    containment: Optional[float]
    dispositions: Dict[str, int]
    hours: List[HourOut]
