"""The http back end: the actions of adapters/base.py over a core system's REST API.

Every attempt of one run carries the same Idempotency-Key, so retrying is safe. What an attempt that
gets no answer means decides the outcome once the retries are spent:
- never connected (refused, connect timeout), or 500/503 (the server's contract: nothing committed):
  nothing happened -> "failed";
- sent but unanswered (read timeout, connection dropped, 502/504 from a proxy): it may have happened
  -> "unknown"; running the action again with the same key settles it.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from adapters.base import FAILED, UNKNOWN, BackendError, Outcome, checked_action
from domain.config import Config
from domain.errors import ConfigError

log = logging.getLogger(__name__)
CONNECT_TIMEOUT = 3.0
_NOTHING_DONE = {500, 503}


class HttpBackend:
    def __init__(
        self, url: str, *, timeout: float = 5.0, retries: int = 2, backoff: float = 0.5,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()

    @classmethod
    def from_config(cls, config: Config) -> HttpBackend:
        http = config.section("adapters").get("http") or {}
        if not http.get("url"):
            raise ConfigError("config.yml: adapters.http.url is required for kind: http")
        return cls(
            str(http["url"]),
            timeout=float(http.get("timeout", 5.0)),
            retries=int(http.get("retries", 2)),
            backoff=float(http.get("backoff", 0.5)),
        )

    def run(self, action: str, params: dict[str, Any], *, customer_id: str | None, key: str) -> Outcome:
        checked_action(action, key)
        body = json.dumps({"params": params, "customer_id": customer_id}, ensure_ascii=False, default=str)
        maybe_done, reason = False, "unreachable"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.session.post(
                    f"{self.url}/v1/actions/{action}",
                    data=body.encode(),
                    headers={"Idempotency-Key": key, "Content-Type": "application/json"},
                    timeout=(min(CONNECT_TIMEOUT, self.timeout), self.timeout),
                )
            except requests.RequestException as error:
                if _never_sent(error):
                    reason = "unreachable"
                else:
                    maybe_done = True
                    reason = "timeout" if isinstance(error, requests.Timeout) else "connection_lost"
                log.warning("%s attempt %d: %s", action, attempt + 1, reason)
                continue
            outcome = self._answer(action, response)
            if outcome is not None:
                return outcome
            maybe_done = maybe_done or response.status_code not in _NOTHING_DONE
            reason = f"http_{response.status_code}"
            log.warning("%s attempt %d: HTTP %d", action, attempt + 1, response.status_code)
        return Outcome(UNKNOWN if maybe_done else FAILED, reason=reason)

    @staticmethod
    def _answer(action: str, response: requests.Response) -> Outcome | None:
        """The outcome a response settles, or None when it is worth another attempt."""
        if response.status_code >= 500:
            return None
        if response.status_code == 404:
            raise BackendError(f"the core system does not know the action {action!r}")
        if response.status_code != 200:
            return Outcome(FAILED, reason=f"http_{response.status_code}")
        try:
            return Outcome.from_json(response.json())
        except (ValueError, AttributeError, TypeError):
            return Outcome(UNKNOWN, reason="bad_response")  # it answered, but what it did is unreadable


def _never_sent(error: requests.RequestException) -> bool:
    """Whether the request certainly never reached the server (no connection was made)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    cause = error.args[0] if error.args else None
    return isinstance(getattr(cause, "reason", None), NewConnectionError)
