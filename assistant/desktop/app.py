"""The agent desktop as a web app: pages, the JSON API (api.py), the live queue's WebSocket, the API
docs (Swagger UI, served from the swagger-ui-bundle package: bank networks reach no CDN) and, while
the server runs, the background work (handing out due callbacks); guard.py is around it all.

    create_app(services)   one app over the services of one database (assistant/runtime/desk.py builds them)
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, get_args

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect
from swagger_ui_bundle import swagger_ui_path

from assistant.desktop import api
from assistant.desktop.accounts import AGENT, SUPERVISOR
from assistant.desktop.auth import services, session_user
from assistant.desktop.guard import RequestGuard, SecurityHeaders, same_origin
from assistant.desktop.live import POLICY_VIOLATION
from assistant.desktop.services import Services

STATIC = Path(__file__).with_name("static")
SWAGGER_UI = "/swagger-ui"  # where Swagger UI's own files are served
PAGES = {AGENT: "/agent", SUPERVISOR: "/supervisor"}
DESCRIPTION = """The agent desktop of the hand-off queue.

Log in with `POST /api/login` (the session is an HttpOnly cookie); agents take calls, supervisors read
the figures. `GET /ws/queue` (a WebSocket, with the same cookie) pushes the queue snapshot of
`GET /api/queue` on connecting and whenever the queue changes, whichever process changed it, and is
closed (1008) at the first change after the session has ended. Errors are JSON: `{"detail": "..."}`.

A request that changes anything (POST, PUT) must come from the desk's own pages: browsers' requests from
any other origin (another port of the same host too) are refused with 403. Bodies are JSON
(`Content-Type: application/json`, else 415) of at most 64 kB (else 413)."""


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
    app.mount("/static", _Files(directory=STATIC), name="static")
    app.mount(SWAGGER_UI, _Files(directory=swagger_ui_path), name="swagger-ui")
    app.add_api_route("/docs", _docs, include_in_schema=False)
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_middleware(RequestGuard)
    app.add_middleware(SecurityHeaders)  # added last: the outermost, so even a failure's answer has them
    app.openapi = _openapi(app)  # type: ignore[method-assign]
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
    user = await asyncio.to_thread(session_user, socket) if same_origin(socket.headers) else None
    if user is None:
        await socket.close(code=POLICY_VIOLATION)  # before accepting: the handshake is refused
        return
    await socket.accept()
    try:
        await services(socket).live.push(socket, lambda: session_user(socket) is not None)
    except WebSocketDisconnect:
        pass  # the desk went away while a snapshot was on its way


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


class _Files(StaticFiles):
    """Static files; a path no file can have (a NUL byte: the file system refuses it) is simply not found."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        return ("", None) if "\x00" in path else super().lookup_path(path)


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's document, with the answers that may be null (an Optional response model) marked nullable:
    FastAPI documents them as the model alone."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for route in app.routes:
                if isinstance(route, APIRoute) and type(None) in get_args(route.response_model):
                    for method in route.methods:
                        answer = document["paths"][route.path_format][method.lower()]["responses"]
                        content = answer[str(route.status_code or 200)]["content"]["application/json"]
                        content["schema"] = {"allOf": [content["schema"]], "nullable": True}
        return app.openapi_schema

    return openapi
