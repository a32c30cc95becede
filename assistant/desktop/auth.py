"""Who is asking: the session cookie, and what each role may do."""
from __future__ import annotations

from fastapi import Depends, HTTPException, Request, Response
from starlette.requests import HTTPConnection

from assistant.desktop.accounts import AGENT, NOT_LOGGED_IN, SUPERVISOR, User
from assistant.desktop.services import Services

COOKIE = "desk_session"


def services(connection: HTTPConnection) -> Services:
    return connection.app.state.services


def session_user(connection: HTTPConnection) -> User | None:
    """The user of the request's or WebSocket's session cookie; None without a live session."""
    token = connection.cookies.get(COOKIE)
    return services(connection).accounts.user(token) if token else None


def current_user(request: Request) -> User:
    user = session_user(request)
    if user is None:
        raise HTTPException(401, NOT_LOGGED_IN)
    return user


def agent_user(user: User = Depends(current_user)) -> User:
    if user.role != AGENT:
        raise HTTPException(403, "this is for agents: supervisors take no calls")
    return user


def supervisor_user(user: User = Depends(current_user)) -> User:
    if user.role != SUPERVISOR:
        raise HTTPException(403, "this is for supervisors only")
    return user


def set_session(request: Request, response: Response, token: str) -> None:
    # HttpOnly: page scripts never see it; SameSite=Strict: other sites' pages cannot send it; Secure
    # whenever the desk is reached over HTTPS (behind a proxy: uvicorn --proxy-headers).
    response.set_cookie(COOKIE, token, max_age=int(services(request).settings.session_minutes * 60),
                        httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", path="/")
