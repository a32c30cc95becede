"""What every HTTP request to the desk passes through (plain ASGI, around the whole app).

    SecurityHeaders   every answer, errors included, carries the same security headers; a failure
                      nobody handled is logged and answered 500 `{"detail": ...}` like any refusal
    RequestGuard      a state-changing request (POST, PUT, PATCH, DELETE) must come from the desk's
                      own pages (403); a body is at most MAX_BODY bytes (413, before anything parses
                      it) and, on a state-changing request, JSON by its Content-Type (415)

The session cookie is SameSite=Strict, but a page on another port of the same host is the same site
and gets it sent: the Origin and Sec-Fetch-Site headers browsers put on such requests tell them apart.
Clients other than browsers (scripts, curl) send neither and are not affected.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # a login or a wrap-up note is well under 10 kB
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"
NOT_FROM_THE_DESK = "refused: the request does not come from the desk's own pages"
TOO_LARGE = f"the request body is larger than {MAX_BODY // 1024} kB"
NOT_JSON = f"send the body as JSON (Content-Type: {JSON})"

# The pages load nothing from elsewhere (the desks have no internet) and run no inline script.
_PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                "form-action 'self'; frame-ancestors 'none'")
# FastAPI's Swagger UI page starts Swagger UI with an inline script, and Swagger UI sets inline styles.
_DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def same_origin(headers: Headers) -> bool:
    """Whether what the browser says of the request's origin is the desk itself (true when it says nothing)."""
    site = headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = headers.get("origin")
    return origin is None or urlsplit(origin).netloc == headers.get("host")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["Content-Security-Policy"] = _DOCS_POLICY if path == "/docs" else _PAGE_POLICY
                if path.startswith("/api/"):
                    headers["Cache-Control"] = "no-store"  # callers' details stay out of caches
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if started:
                raise
            log.exception("%s %s failed", scope["method"], path)
            answer = JSONResponse({"detail": "the desk failed to answer: see the server's log"}, status_code=500)
            await answer(scope, receive, send_with_headers)


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        changing = scope["method"] in STATE_CHANGING
        if changing and not same_origin(headers):
            await _refuse(403, NOT_FROM_THE_DESK, scope, receive, send)
            return
        body = await _body(headers, receive)
        if body is None:
            await _refuse(413, TOO_LARGE, scope, receive, send)
            return
        if changing and body and headers.get("content-type", "").split(";")[0].strip().lower() != JSON:
            await _refuse(415, NOT_JSON, scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # the client going away
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _body(headers: Headers, receive: Receive) -> bytes | None:
    """The whole request body, or None once it is longer than MAX_BODY (by its Content-Length or as it comes)."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _refuse(status: int, detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
