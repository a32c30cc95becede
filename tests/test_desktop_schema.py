"""Schemathesis against the desk's own OpenAPI document: every operation with generated requests (30
each, valid and invalid ones, the same every run), sent with an agent's session and again with a
supervisor's, and every answer checked against the document: no server error, only documented status
codes, content types and headers, and bodies that match their schemas.

The queue has waiting calls and a booked callback, so taking, reading and ending calls answer with
real tickets; the clock is pinned, so no session expires while it runs. The sessions are the agent
李娜's and the supervisor's, logged in again whenever a generated request logged them out (the
document's example name, 王芳, may well be locked out by generated guesses meanwhile).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import schemathesis
from desk_server import PASSWORD, book_callback, hand_off
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from assistant.desktop.accounts import Accounts
from assistant.desktop.auth import COOKIE
from assistant.runtime.desk import desk_app
from assistant.storage.calls import CallStore
from domain.clock import PinnedClock
from domain.config import Config

pytestmark = pytest.mark.slow

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# Bounded and the same every run; no example database (nothing of a run is kept for the next).
SETTINGS = schemathesis.Config.from_dict({
    "generation": {"max-examples": 30, "deterministic": True, "database": "none"},
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
})
USERS = {"李娜": "agent", "陈主管": "supervisor"}


class Sessions:
    """A live session per desk user, logged in again when the last one was ended."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.tokens: dict[str, str] = {}

    def token(self, name: str) -> str:
        if name not in self.tokens or self.accounts.user(self.tokens[name]) is None:
            found = self.accounts.login(name, PASSWORD)
            assert found is not None
            self.tokens[name] = found[1]
        return self.tokens[name]


@pytest.fixture(scope="module")
def desk(config: Config, tmp_path_factory: pytest.TempPathFactory) -> Any:
    database = str(tmp_path_factory.mktemp("schema") / "calls.sqlite")
    clock = PinnedClock(datetime(2025, 1, 6, 10, 0))
    app = desk_app(config, database, clock)
    accounts = app.state.services.accounts
    accounts.add_user("王芳", "agent", PASSWORD, ["general", "cards"])
    accounts.add_user("李娜", "agent", PASSWORD, ["general", "cards"])
    accounts.add_user("陈主管", "supervisor", PASSWORD)
    store = CallStore(database, clock)
    for _ in range(10):
        hand_off(store)
        hand_off(store, reason="caller_request", skill="general", priority=0, customer_id=None, function=None,
                 intent=None, slots={}, transcript=["caller: 人工服务"])
    book_callback(store, "2025-01-06T11:00:00+08:00")
    yield app
    store.db.close()


@pytest.fixture(scope="module")
def sessions(desk: Any) -> Sessions:
    return Sessions(desk.state.services.accounts)


@pytest.fixture(scope="module")
def desk_schema(desk: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", desk, config=SETTINGS)


schema = schemathesis.pytest.from_fixture("desk_schema")


@schema.parametrize()
def test_every_answer_is_as_the_document_says(case: Any, sessions: Sessions) -> None:
    for name in USERS:
        response = case.call(cookies={COOKIE: sessions.token(name)})
        case.validate_response(response, checks=CHECKS)


def test_the_document_is_the_one_checked(desk: Any) -> None:
    """The operations above are all of the desk's API (none dropped by a filter or a failed load)."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", desk, config=SETTINGS)
    labels = {result.ok().label for result in loaded.get_all_operations()}
    assert len(labels) == 17 and "POST /api/calls/{ticket}/wrap-up" in labels
