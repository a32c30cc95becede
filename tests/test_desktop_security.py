"""The desk's defences through FastAPI's TestClient: changes only from the desk's own pages (a page on
another port of the same host gets the session cookie sent, SameSite=Strict or not), JSON bodies by
their Content-Type only, bodies of at most 64 kB, logins throttled per client address as well as per
name, edge values refused instead of failing, the same security headers on every answer (a failure's
too), and an OpenAPI document that says what the answers are."""
from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from desk_server import PASSWORD
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_desktop_api import AGENTS, SUPERVISOR, app, arrive, clock, database, desk, quick, store  # noqa: F401

from assistant.runtime.desk import desk_app
from assistant.storage.calls import CallStore
from domain.clock import PinnedClock
from domain.config import Config

ELSEWHERE = "http://testserver:8081"  # another port of the desk's host: the same site
MAX_BODY = 64 * 1024
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin"}


def assert_secured(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert {name: headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "default-src 'self'" in headers["content-security-policy"]


# Changes from other pages (CSRF).

@pytest.mark.parametrize("browser_says", [
    {"origin": ELSEWHERE, "sec-fetch-site": "same-site"},  # what Chromium sends from the other port
    {"origin": ELSEWHERE},
    {"sec-fetch-site": "same-site"},
    {"sec-fetch-site": "cross-site"},
    {"origin": "null"},  # a sandboxed frame, a data: page
])
def test_a_page_elsewhere_cannot_take_end_or_wrap_up_a_call(
        app: FastAPI, store: CallStore, clock: PinnedClock, browser_says: dict[str, str]) -> None:
    ticket = arrive(store, clock)
    wang = desk(app, "王芳")
    wang.headers.update(browser_says)
    for response in (wang.post("/api/calls/next"), wang.post(f"/api/calls/{ticket}/end"),
                     wang.post(f"/api/calls/{ticket}/wrap-up", json={"disposition": "resolved"}),
                     wang.put("/api/me/state", json={"state": "away"}), wang.post("/api/logout"),
                     wang.post("/api/login", json={"name": "李娜", "password": PASSWORD})):
        assert response.status_code == 403, response.request.url
        assert response.json() == {"detail": "refused: the request does not come from the desk's own pages"}
        assert_secured(response)
    assert "set-cookie" not in response.headers
    queue = app.state.services.queue
    assert queue.entry(ticket).status == "waiting" and queue.agent("王芳").state == "available"
    assert wang.get("/api/me").status_code == 200  # reading is not refused (the answer is the browser's secret)


def test_the_desks_own_pages_and_clients_without_a_browser_may_change(
        app: FastAPI, store: CallStore, clock: PinnedClock) -> None:
    ticket = arrive(store, clock)
    wang = desk(app, "王芳")  # no Origin: a script, curl
    wang.headers.update({"origin": "http://testserver", "sec-fetch-site": "same-origin"})
    assert wang.post("/api/calls/next").json()["ticket"] == ticket
    assert wang.post(f"/api/calls/{ticket}/end").status_code == 200
    assert wang.post(f"/api/calls/{ticket}/wrap-up", json={"disposition": "resolved"}).status_code == 200


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_bodies_are_read_only_when_sent_as_json(app: FastAPI, content_type: str | None) -> None:
    """A form or a text/plain fetch can be sent from anywhere without asking the desk first: refused."""
    wang = desk(app, "王芳")
    headers = {"content-type": content_type} if content_type else {}
    for path in ("/api/login", "/api/me/state"):
        body = b'{"name": "\xe6\x9d\x8e\xe5\xa8\x9c", "password": "%s", "state": "away"}' % PASSWORD.encode()
        response = wang.request("PUT" if path.endswith("state") else "POST", path, content=body, headers=headers)
        assert response.status_code == 415, path
        assert response.json() == {"detail": "send the body as JSON (Content-Type: application/json)"}
    assert app.state.services.queue.agent("王芳").state == "available"
    charset = wang.put("/api/me/state", content=b'{"state": "away"}',
                       headers={"content-type": "application/json; charset=utf-8"})
    assert charset.json()["state"] == "away"


# Limits.

def test_a_body_over_64_kb_is_refused_before_it_is_read(app: FastAPI) -> None:
    client = TestClient(app)
    huge = b'{"name": "' + b"x" * (20 * 1024 * 1024) + b'", "password": "p"}'
    declared = client.post("/api/login", content=huge, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and declared.json() == {"detail": "the request body is larger than 64 kB"}
    assert_secured(declared)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
        yield b'{"name": "'
        for _ in range(MAX_BODY // 4096 + 1):
            yield b"x" * 4096
        yield b'", "password": "p"}'

    streamed = client.post("/api/login", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    just_under = b'{"name": "' + b"x" * (MAX_BODY - 40) + b'", "password": "p"}'
    assert client.post("/api/login", content=just_under, headers={"content-type": "application/json"}).json() == {
        "detail": "body.name: ensure this value has at most 100 characters"}  # read, and refused for its name


def login_from(app: FastAPI, address: str, name: str, password: str) -> int:
    client = TestClient(app, client=(address, 50000))
    return client.post("/api/login", json={"name": name, "password": password}).status_code


def test_logins_are_throttled_per_client_address_across_names_and_servers(
        app: FastAPI, config: Config, database: str, clock: PinnedClock) -> None:
    """20 failed logins from one address (config.yml desktop.max_failed_logins_per_address), one guess
    for each of 20 names, and that address is held up; another server on the database says the same."""
    for number in range(10):
        assert login_from(app, "10.0.0.7", f"guess{number}", "not-the-password") == 401
        assert login_from(app, "10.0.0.7", "李娜", PASSWORD) == 200  # a good password buys no more guesses
    for number in range(10, 20):
        assert login_from(app, "10.0.0.7", f"guess{number}", "not-the-password") == 401
    another = desk_app(quick(config), database, clock)
    locked = TestClient(another, client=("10.0.0.7", 50000)).post(
        "/api/login", json={"name": "王芳", "password": PASSWORD})
    assert locked.status_code == 429 and locked.headers["retry-after"] == "900"
    assert locked.json() == {"detail": "too many failed logins from this address: try again in 15 min"}
    assert login_from(app, "10.0.0.8", "王芳", PASSWORD) == 200  # other desks are not held up
    clock.advance(minutes=15)
    assert login_from(app, "10.0.0.7", "王芳", PASSWORD) == 200


# Edge values and failures.

@pytest.mark.parametrize("path", [f"/api/calls/{2 ** 63}", f"/api/calls/{10 ** 30}/end", "/api/calls/0",
                                  "/api/calls/-1"])
def test_ticket_numbers_out_of_range_are_refused(app: FastAPI, path: str) -> None:
    wang = desk(app, "王芳")
    response = wang.post(path) if path.endswith("end") else wang.get(path)
    assert response.status_code == 422 and response.json()["detail"].startswith("path.ticket: ensure this value")
    assert_secured(response)


@pytest.mark.parametrize(("since", "until"), [
    ("9999-12-31T00:00:00", "9999-12-31T12:00:00"),
    ("9999-12-31T20:00:00-12:00", "9999-12-31T23:00:00-12:00"),  # Beijing time is in the year 10000
    ("10000-01-01T00:00:00", "10000-01-02T00:00:00"),
    ("0001-01-01T00:00:00", "0001-01-01T12:00:00+14:00"),
    ("99999999999999999999", "99999999999999999999"),  # seconds since 1970, as pydantic reads numbers
])
def test_windows_far_off_are_refused(app: FastAPI, since: str, until: str) -> None:
    response = desk(app, SUPERVISOR).get("/api/stats", params={"since": since, "until": until})
    assert response.status_code == 422 and response.json()["detail"] in (
        "the window must lie in the years 2000 to 2999",
        "query.since: invalid datetime format; query.until: invalid datetime format")
    assert_secured(response)


@pytest.mark.parametrize("path", ["/static/%00", "/static/desk%00.js", "/swagger-ui/%00"])
def test_a_file_name_no_file_can_have_is_not_found(app: FastAPI, path: str) -> None:
    response = TestClient(app).get(path)
    assert response.status_code == 404
    assert_secured(response)


def test_a_failure_is_answered_500_with_the_security_headers_and_logged(
        app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    wang = TestClient(app, raise_server_exceptions=False)
    wang.post("/api/login", json={"name": "王芳", "password": PASSWORD})
    app.state.services.queue.db.close()  # the database gone from under the desk
    response = wang.get("/api/queue")
    assert response.status_code == 500
    assert response.json() == {"detail": "the desk failed to answer: see the server's log"}
    assert_secured(response)
    assert response.headers["cache-control"] == "no-store"
    (failed,) = [r for r in caplog.records if r.name == "assistant.desktop.guard"]
    assert (failed.levelno, failed.getMessage(), bool(failed.exc_info)) == (logging.ERROR, "GET /api/queue failed",
                                                                             True)


# The document says what the answers are.

def test_the_document_describes_refusals_and_nulls_as_they_are(app: FastAPI) -> None:
    client = TestClient(app)
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's list of errors: the desk answers one sentence
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parameters = operation.get("parameters") or operation.get("requestBody")
            statuses = set(operation["responses"])
            assert ("422" in statuses) == bool(parameters), (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= statuses, (method, path)
            if method != "get":
                assert "403" in statuses, (method, path)
            for status, answer in operation["responses"].items():
                if status >= "400":
                    assert answer["content"]["application/json"]["schema"] == problem, (method, path, status)
    for model, field in (("Call", "customer_id"), ("Call", "callback"), ("Call", "function"), ("Me", "agent"),
                         ("WaitingCall", "predicted_wait_s"), ("StatsOut", "service_level"),
                         ("HourOut", "service_level"), ("CallbackOut", "phone")):
        assert schemas[model]["properties"][field]["nullable"] is True, (model, field)
        assert "$ref" not in schemas[model]["properties"][field]  # beside a $ref, OpenAPI 3.0 ignores it
    assert not schemas["Call"]["properties"]["ticket"].get("nullable")
    for path in ("/api/calls/next", "/api/calls/current"):  # null when there is no call
        method = "post" if path.endswith("next") else "get"
        answer = document["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"allOf": [{"$ref": "#/components/schemas/Call"}], "nullable": True}

    invalid = client.post("/api/login", json={"name": ""})
    assert invalid.status_code == 422 and isinstance(invalid.json()["detail"], str)
    not_text = client.post("/api/login", content=b'{"name": "\xff"}', headers={"content-type": "application/json"})
    assert not_text.status_code == 400 and set(not_text.json()) == {"detail"}
