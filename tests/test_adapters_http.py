"""The http adapter against a real local server (the sandbox over FastAPI/uvicorn) behind a proxy
that times out, answers 500 or drops the connection after the server committed. Whatever happens,
no transfer is doubled or lost, the ledger balances, and the same key gives the original outcome."""
from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from fault_proxy import FaultProxy, ServerThread
from sandbox_bank import LI_SI, ZHANG_SAN, Bank, bank, knowledge, seeded_bank_file, vocabulary  # noqa: F401

from adapters.base import Outcome
from adapters.http_client import HttpBackend
from adapters.http_server import create_app
from domain.errors import UserError

TIMEOUT = 0.5  # seconds the client waits for each answer; the proxy's "slow" answers take 1.5


@pytest.fixture
def server(bank: Bank) -> Iterator[FaultProxy]:
    with ServerThread(create_app(bank.backend)) as thread:
        proxy = FaultProxy(thread.port, delay=3 * TIMEOUT)
        yield proxy
        proxy.close()


@pytest.fixture
def client(server: FaultProxy) -> HttpBackend:
    return HttpBackend(server.url, timeout=TIMEOUT, retries=2, backoff=0.05)


keys = (f"http-{n}" for n in itertools.count())


def transfer(client: HttpBackend, key: str, amount: int = 700) -> Outcome:
    return client.run("banking.transfer", {"payee": "李四", "amount": amount}, customer_id=ZHANG_SAN, key=key)


def assert_transferred_once(bank: Bank, outcome_id: str, amount: int = 700) -> None:
    assert bank.value("SELECT COUNT(*) FROM transactions WHERE kind = 'transfer'") == 1
    assert bank.value("SELECT id FROM transactions WHERE kind = 'transfer'") == outcome_id
    assert bank.balance(ZHANG_SAN) == Decimal(50000 - amount)
    assert bank.balance(LI_SI) == Decimal(12000 + amount)
    assert bank.backend.check_ledger() == []


def test_actions_over_http_give_the_sandbox_outcomes(bank, client):
    balance = client.run("banking.balance", {}, customer_id=ZHANG_SAN, key=next(keys))
    assert (balance.status, balance.data["balance"]) == ("ok", "50000.00")
    refused = client.run("banking.transfer", {"payee": "无名氏", "amount": 1}, customer_id=ZHANG_SAN, key=next(keys))
    assert (refused.status, refused.reason) == ("rejected", "unknown_payee")
    done = transfer(client, next(keys))
    assert done.status == "ok" and done.data["balance_after"] == "49300.00"
    assert_transferred_once(bank, done.id)


def test_the_server_requires_an_idempotency_key_and_a_known_action(server, client):
    response = requests.post(f"{server.url}/v1/actions/banking.balance", json={"customer_id": ZHANG_SAN}, timeout=5)
    assert response.status_code == 400 and "Idempotency-Key" in response.text
    unknown = requests.post(f"{server.url}/v1/actions/banking.steal", json={}, headers={"Idempotency-Key": "k"},
                            timeout=5)
    assert unknown.status_code == 404
    with pytest.raises(UserError, match="unknown back-end action"):
        client.run("banking.steal", {}, customer_id=None, key="k")


def test_500s_are_retried_with_the_same_key(bank, server, client):
    server.faults.extend(["error", "error"])
    outcome = transfer(client, next(keys))
    assert outcome.status == "ok" and server.requests == 3
    assert_transferred_once(bank, outcome.id)


def test_500s_on_every_attempt_fail_and_nothing_happens(bank, server, client):
    key = next(keys)
    server.faults.extend(["error"] * 3)
    outcome = transfer(client, key)
    assert (outcome.status, outcome.reason) == ("failed", "http_500")
    assert bank.balance(ZHANG_SAN) == Decimal(50000) and bank.backend.check_ledger() == []
    retried = transfer(client, key)
    assert retried.status == "ok"
    assert_transferred_once(bank, retried.id)


def test_a_connection_dropped_after_the_commit_is_retried_into_the_original_outcome(bank, server, client):
    server.faults.append("drop")
    outcome = transfer(client, next(keys))
    assert outcome.status == "ok" and server.requests == 2
    assert_transferred_once(bank, outcome.id)


def test_every_answer_dropped_is_unknown_until_the_same_key_settles_it(bank, server, client):
    key = next(keys)
    server.faults.extend(["drop"] * 3)
    lost = transfer(client, key)
    assert (lost.status, lost.reason) == ("unknown", "connection_lost")
    committed = bank.value("SELECT id FROM transactions WHERE kind = 'transfer'")
    settled = transfer(client, key)
    assert settled.status == "ok" and settled.id == committed
    assert_transferred_once(bank, committed)


def test_timeouts_are_unknown_until_the_same_key_settles_it(bank, server, client):
    key = next(keys)
    server.faults.extend(["slow"] * 3)
    late = transfer(client, key)
    assert (late.status, late.reason) == ("unknown", "timeout")
    settled = transfer(client, key)
    assert settled.status == "ok"
    assert_transferred_once(bank, settled.id)


def test_a_timeout_then_an_answer_runs_once(bank, server, client):
    server.faults.append("slow")
    outcome = transfer(client, next(keys))
    assert outcome.status == "ok"
    assert_transferred_once(bank, outcome.id)


def test_a_server_that_is_not_there_fails_without_doing_anything():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free now, and nothing listens on it
    client = HttpBackend(f"http://127.0.0.1:{port}", timeout=TIMEOUT, retries=1, backoff=0.01)
    outcome = client.run("banking.balance", {}, customer_id=ZHANG_SAN, key="nobody-home")
    assert (outcome.status, outcome.reason) == ("failed", "unreachable")
