"""The agent desktop as a web app: pages, the JSON API (api.py), the live queue's WebSocket, the API
docs (Swagger UI, served from the swagger-ui-bundle package: bank networks reach no CDN) and, while
the server runs, the callback scheduler (scheduler.py).

    create_app(config, database, clock)   one app over one database (a file or a postgresql:// URL)
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import RequestResponseEndpoint
from starlette.websockets import WebSocket, WebSocketDisconnect
from swagger_ui_bundle import swagger_ui_path

from assistant.desktop import api
from assistant.desktop.accounts import AGENT, SUPERVISOR
from assistant.desktop.auth import services, session_user
from assistant.desktop.live import POLICY_VIOLATION
from assistant.desktop.services import Services

STATIC = Path(__file__).with_name("static")
SWAGGER_UI = "/swagger-ui"  # where Swagger UI's own files are served
PAGES = {AGENT: "/agent", SUPERVISOR: "/supervisor"}
# The pages load nothing from elsewhere (the desks have no internet) and run no inline script.
_PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                "form-action 'self'; frame-ancestors 'none'")
# FastAPI's Swagger UI page starts Swagger UI with an inline script, and Swagger UI sets inline styles.
_DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
DESCRIPTION = """The agent desktop of the hand-off queue.

Log in with `POST /api/login` (the session is an HttpOnly cookie); agents take calls, supervisors read
the figures. `GET /ws/queue` (a WebSocket, with the same cookie) pushes the queue snapshot of
`GET /api/queue` on connecting and whenever the queue changes, whichever process changed it, and is
closed (1008) at the first change after the session has ended. Errors are JSON: `{"detail": "..."}`."""


def create_app(services: Services) -> FastAPI:
    # No ReDoc: it would come from a CDN.
    app = FastAPI(title="Agent desktop (坐席工作台)", version="1", description=DESCRIPTION,
                  openapi_tags=api.TAGS, docs_url=None, redoc_url=None, lifespan=_lifespan)
    # OpenAPI 3.0: the Swagger UI that swagger-ui-bundle ships (4.15) renders no 3.1 document, and the
    # schemas pydantic 1 makes use nothing of 3.1.
    app.openapi_version = "3.0.3"
    app.state.services = services
    app.include_router(api.router)
    app.add_api_websocket_route("/ws/queue", queue_socket)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount(SWAGGER_UI, StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    app.add_api_route("/docs", _docs, include_in_schema=False)
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.middleware("http")(_page_headers)
    for path, role in (("/agent", AGENT), ("/supervisor", SUPERVISOR)):
        app.add_api_route(path, _page(role), include_in_schema=False)
    app.add_api_route("/login", _login_page, include_in_schema=False)
    app.add_api_route("/", _home, include_in_schema=False)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While the server runs, its background work goes on; on shutdown, work under way is finished first."""
    stop = asyncio.Event()
    running = [asyncio.create_task(work.run(stop)) for work in app.state.services.background]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*running)


async def queue_socket(socket: WebSocket) -> None:
    """Pushes the queue snapshot (JSON) on connecting and on every change; needs the session cookie,
    and is closed (1008) at the first change after the session has ended."""
    user = await asyncio.to_thread(session_user, socket) if _same_origin(socket) else None
    if user is None:
        await socket.close(code=POLICY_VIOLATION)  # before accepting: the handshake is refused
        return
    await socket.accept()
    try:
        await services(socket).live.push(socket, lambda: session_user(socket) is not None)
    except WebSocketDisconnect:
        pass  # the desk went away while a snapshot was on its way


def _same_origin(socket: WebSocket) -> bool:
    """A browser's socket must come from the desk's own pages (its cookie is SameSite=Strict as well)."""
    origin = socket.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == socket.headers.get("host")


def _page(role: str) -> Callable[[Request], Response]:
    def page(request: Request) -> Response:
        user = session_user(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        if user.role != role:
            return RedirectResponse(PAGES[user.role], status_code=303)
        return FileResponse(STATIC / f"{role}.html")

    return page


def _login_page() -> FileResponse:
    return FileResponse(STATIC / "login.html")


def _docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} API",
        swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js", swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None})  # else a badge image comes from the online validator


def _home(request: Request) -> RedirectResponse:
    user = session_user(request)
    return RedirectResponse(PAGES[user.role] if user else "/login", status_code=303)


async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    """A bad request body or query as one readable `detail`, like every other refusal."""
    problems = "; ".join(f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors())
    return JSONResponse({"detail": problems}, status_code=422)


async def _page_headers(request: Request, call_next: RequestResponseEndpoint) -> Response:
    response = await call_next(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = _DOCS_POLICY if request.url.path == "/docs" else _PAGE_POLICY
    if request.url.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"  # callers' details stay out of caches
    return response
