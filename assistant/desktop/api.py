"""The desk's JSON API under /api: the session, the queue, an agent's calls, the supervisor's figures.

No `from __future__ import annotations` here: FastAPI reads the parameter annotations.
Refusals are JSON `{"detail": "..."}`: 401 without a live session (and for a wrong name or password,
the same message whichever was wrong), 403 for another role's endpoint or a change from a page not
the desk's own (guard.py), 404 for a ticket the user may not read, whether it exists or is another
agent's (so ticket numbers cannot be probed), 409 when the queue refuses (not available, no call to
end), 422 for a bad request body, ticket number or window, 429 for a name or a client address with too
many failed logins (known names or not: the same), and from guard.py 413 and 415 for a body too large
or not JSON.

A ticket's call recording is for supervisors and for the agent who took the ticket: any other agent
gets 403, whether the ticket exists or not; 404 when there is no such ticket or no recording of it.
"""
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, List, Optional

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import FileResponse

from assistant.core.errors import AssistantError
from assistant.desktop import auth
from assistant.desktop.accounts import AGENT, LockedOut, User
from assistant.desktop.auth import agent_user, current_user, services, supervisor_user
from assistant.desktop.guard import NOT_FROM_THE_DESK, NOT_JSON, TOO_LARGE
from assistant.desktop.schemas import (AgentOut, Call, CampaignOut, Login, Me, PreviewDecision, PreviewOut, Problem,
                                       Snapshot, StateChange, StatsOut, WrapUp)
from assistant.desktop.services import Services
from assistant.desktop.stats import Window
from assistant.queue.routing import AVAILABLE, AWAY, TAKEN, Entry
from domain.errors import UserError
from domain.masking import mask_cards

TAGS = [
    {"name": "session", "description": "Logging in and out; who is logged in."},
    {"name": "queue", "description": "The live queue: waiting calls, agents, booked callbacks. "
                                     "WebSocket /ws/queue pushes the same snapshot on every change."},
    {"name": "calls", "description": "An agent's calls: take the next, read its context, end it, wrap it up."},
    {"name": "agent", "description": "An agent's own state."},
    {"name": "supervisor", "description": "Figures over a time window (supervisors only)."},
]


# The figures' windows: far enough either way for any call centre, near enough that no date sum overflows.
YEARS = range(2000, 3000)
Ticket = Annotated[int, Path(ge=1, le=2 ** 63 - 1, description="the ticket number", example=1)]


def _problems(*statuses: int, changes: bool = False, body: bool = False) -> dict[int | str, dict[str, Any]]:
    """The refusals an operation may answer: `statuses`, and guard.py's for one that `changes` something
    or takes a JSON `body` (which may also not be UTF-8 text: FastAPI's 400)."""
    described = {400: "the body is not UTF-8 text", 401: "not logged in, or the session has expired",
                 403: "not allowed for this user", 404: "no such ticket, or not this agent's",
                 409: "the queue refused (see detail)", 413: TOO_LARGE, 415: NOT_JSON,
                 422: "a bad request: the detail names what and why",
                 429: "too many failed logins for this name or from this address: Retry-After says for how "
                      "many seconds"}
    if changes:
        statuses += (403,)
        described[403] = f"not allowed for this user, or {NOT_FROM_THE_DESK}"
    if body:
        statuses += (400, 413, 415, 422)
    return {status: {"model": Problem, "description": described[status]} for status in sorted(set(statuses))}


router = APIRouter(prefix="/api", responses=_problems(401))


@contextmanager
def _refused(status: int) -> Iterator[None]:
    """The queue's refusals (not available, no call to finish, a bad window) as HTTP errors."""
    try:
        yield
    except UserError as error:
        raise HTTPException(status, str(error)) from None


def _me(desk: Services, user: User) -> dict[str, Any]:
    agent = desk.queue.agent(user.name).to_json() if user.role == AGENT else None
    return {"name": user.name, "role": user.role, "agent": agent}


def _readable(desk: Services, ticket: int, user: User) -> Entry:
    """The ticket if this user may see it: an agent their own, a supervisor any. Another agent's ticket
    is not found, like one that does not exist."""
    with _refused(404):
        entry = desk.queue.entry(ticket)
        if user.role == AGENT and entry.agent != user.name:
            raise AssistantError(f"no hand-off ticket {ticket}")
    return entry


@router.post("/login", tags=["session"], response_model=Me, responses=_problems(429, changes=True, body=True),
             description="Checks the password and sets the session cookie (HttpOnly, SameSite=Strict). After "
                         "`desktop.max_failed_logins` failed logins for a name within `desktop.lockout_minutes`, "
                         "that name's logins get 429 until those minutes have passed, even with the right password; "
                         "the same after `desktop.max_failed_logins_per_address` from one client address.")
def login(body: Login, request: Request, response: Response, desk: Services = Depends(services)) -> Any:
    try:
        found = desk.accounts.login(body.name, body.password, request.client.host if request.client else None)
    except LockedOut as locked:
        raise HTTPException(429, str(locked), headers={"Retry-After": str(locked.retry_s)}) from None
    if found is None:
        raise HTTPException(401, "wrong name or password")
    user, token = found
    auth.set_session(request, response, token)
    return _me(desk, user)


@router.post("/logout", tags=["session"], status_code=204, response_class=Response, responses=_problems(changes=True),
             description="Ends the session (if any) and clears its cookie.")
def logout(request: Request, desk: Services = Depends(services)) -> Response:
    token = request.cookies.get(auth.COOKIE)
    if token:
        desk.accounts.logout(token)
    response = Response(status_code=204)
    auth.clear_session(response)
    return response


@router.get("/me", tags=["session"], response_model=Me, description="The logged-in user, and an agent's state.")
def me(user: User = Depends(current_user), desk: Services = Depends(services)) -> Any:
    return _me(desk, user)


@router.put("/me/state", tags=["agent"], response_model=AgentOut, responses=_problems(409, changes=True, body=True),
            description="An agent becomes available for calls, or away. Not while on a call or wrapping one up.")
def set_state(body: StateChange, user: User = Depends(agent_user), desk: Services = Depends(services)) -> Any:
    with _refused(409):
        if desk.queue.agent(user.name).state not in (AVAILABLE, AWAY):
            raise AssistantError("end and wrap up your call first")
        return desk.queue.set_agent(user.name, state=body.state).to_json()


@router.get("/me/preview", tags=["agent"], response_model=Optional[PreviewOut], responses=_problems(403),
            description="The contact a preview campaign offers this agent before the dial (the agent is on_call, "
                        "reserved for it); null if none. An agent sees only their own.")
def preview(user: User = Depends(agent_user), desk: Services = Depends(services)) -> Any:
    offered = desk.previews.offered(user.name) if desk.previews is not None else None
    return offered.to_json() if offered else None


@router.post("/me/preview", tags=["agent"], response_model=PreviewOut,
             responses=_problems(409, changes=True, body=True),
             description="The agent's decision on the contact offered: dial (the call is placed, and is theirs "
                         "once answered) or skip (the contact is closed as skipped). 409 when no contact waits for "
                         "this agent's decision (none offered, or handed back after `campaign_desks.preview_s`).")
def decide_preview(body: PreviewDecision, user: User = Depends(agent_user), desk: Services = Depends(services)) -> Any:
    previews = desk.previews
    offered = previews.offered(user.name) if previews is not None else None
    if previews is None or offered is None or not previews.decide(user.name, body.decision):
        raise HTTPException(409, "no contact waits for your decision")
    return offered.to_json()


@router.get("/queue", tags=["queue"], response_model=Snapshot,
            description="Waiting calls with their place and predicted wait, agents and their states, booked "
                        "callbacks. Callers' numbers by their last 4 digits only.")
def queue_snapshot(user: User = Depends(current_user), desk: Services = Depends(services)) -> Any:
    return desk.board.snapshot()


@router.get("/callbacks", tags=["queue"], response_model=List[Call],
            description="Booked callbacks not handed to an agent yet, the soonest first.")
def callbacks(user: User = Depends(current_user), desk: Services = Depends(services)) -> Any:
    return desk.board.callbacks()


@router.get("/dispositions", tags=["calls"], response_model=List[str],
            description="What an agent may record when wrapping a call up (config.yml queue.dispositions).")
def dispositions(user: User = Depends(current_user), desk: Services = Depends(services)) -> Any:
    return list(desk.queue.settings.dispositions)


@router.post("/calls/next", tags=["calls"], response_model=Optional[Call], responses=_problems(409, changes=True),
             description="Gives the agent the next call their skills cover (a due callback first, then the "
                         "highest priority, oldest first) and puts them on it; null when none waits.")
def take_next(user: User = Depends(agent_user), desk: Services = Depends(services)) -> Any:
    with _refused(409):
        entry = desk.queue.take_next(user.name)
    return desk.board.context(entry) if entry else None


@router.get("/calls/current", tags=["calls"], response_model=Optional[Call], responses=_problems(403),
            description="The call the agent is on (status taken) or wrapping up (status done); null if neither.")
def current_call(user: User = Depends(agent_user), desk: Services = Depends(services)) -> Any:
    entry = desk.queue.current(user.name)
    return desk.board.context(entry) if entry else None


@router.get("/calls/{ticket}", tags=["calls"], response_model=Call, responses=_problems(404, 422),
            description="A ticket's whole context: an agent's own tickets only, any for a supervisor.")
def call(ticket: Ticket, user: User = Depends(current_user), desk: Services = Depends(services)) -> Any:
    return desk.board.context(_readable(desk, ticket, user))


@router.get("/calls/{ticket}/recording", tags=["calls"], response_class=FileResponse,
            responses={**_problems(403, 404, 422), 200: {"content": {"audio/wav": {}},
                                                         "description": "the call as a stereo WAV file"}},
            description="The recording of the call a ticket came from: a stereo WAV, the caller on the left, the "
                        "assistant on the right, silent while a PIN was asked for. For supervisors and the agent "
                        "who took the ticket.")
def recording(ticket: Ticket, user: User = Depends(current_user), desk: Services = Depends(services)) -> Any:
    try:
        entry: Optional[Entry] = desk.queue.entry(ticket)
    except UserError:  # no such ticket
        entry = None
    if user.role == AGENT and (entry is None or entry.agent != user.name):
        raise HTTPException(403, "only a supervisor or the agent who took the call may hear it")
    found = desk.recordings.of_ticket(ticket) if entry and desk.recordings else None
    if found is None or not found.path.is_file():
        raise HTTPException(404, f"no recording of ticket {ticket}")
    return FileResponse(found.path, media_type="audio/wav", filename=f"ticket-{ticket}.wav")


@router.post("/calls/{ticket}/end", tags=["calls"], response_model=Call,
             responses=_problems(404, 409, 422, changes=True),
             description="The call is over: the ticket is done and the agent wraps up.")
def end_call(ticket: Ticket, user: User = Depends(agent_user), desk: Services = Depends(services)) -> Any:
    entry = _readable(desk, ticket, user)
    if entry.status != TAKEN:
        raise HTTPException(409, f"ticket {ticket} is not on a call ({entry.status})")
    with _refused(409):
        return desk.board.context(desk.queue.finish(user.name))


@router.post("/calls/{ticket}/wrap-up", tags=["calls"], response_model=Call,
             responses=_problems(404, 409, changes=True, body=True),
             description="Records how the call ended (a disposition and a note); the agent is available again.")
def wrap_up(ticket: Ticket, body: WrapUp, user: User = Depends(agent_user), desk: Services = Depends(services)) -> Any:
    _readable(desk, ticket, user)
    if body.disposition not in desk.queue.settings.dispositions:
        raise HTTPException(422, f"disposition must be one of {', '.join(desk.queue.settings.dispositions)}")
    current = desk.queue.current(user.name)
    if current is None or current.ticket != ticket or current.status != "done":
        raise HTTPException(409, f"ticket {ticket} is not waiting for its wrap-up")
    with _refused(409):
        # An agent may type a card number into the note: it is kept as its last 4 digits, like everything else.
        return desk.board.context(desk.queue.wrap_up(user.name, body.disposition, mask_cards(body.note)))


@router.get("/campaigns", tags=["supervisor"], response_model=List[CampaignOut], responses=_problems(403),
            description="Every outbound campaign on this database with its figures, the newest first.")
def campaigns(user: User = Depends(supervisor_user), desk: Services = Depends(services)) -> Any:
    return desk.campaigns.all() if desk.campaigns is not None else []


@router.get("/stats", tags=["supervisor"], response_model=StatsOut, responses=_problems(403, 422),
            description="Service level, speed of answer, abandonment, callbacks due and kept, containment and "
                        "per-hour series over a window; without `since` and `until`, today (Beijing time).")
def stats(
    since: Optional[datetime] = Query(None, description="window start, ISO 8601 (no offset: Beijing time), "
                                                        f"in the years {YEARS.start} to {YEARS.stop - 1}",
                                      example="2025-01-06T00:00:00"),
    until: Optional[datetime] = Query(None, description="window end (exclusive); at most 31 days after since",
                                      example="2025-01-07T00:00:00"),
    user: User = Depends(supervisor_user), desk: Services = Depends(services),
) -> Any:
    if (since is None) != (until is None):
        raise HTTPException(422, "give both since and until, or neither (today)")
    if any(moment and moment.year not in YEARS for moment in (since, until)):
        raise HTTPException(422, f"the window must lie in the years {YEARS.start} to {YEARS.stop - 1}")
    with _refused(422):
        window = Window.between(since, until) if since and until else None
    return dataclasses.asdict(desk.stats.figures(window))
