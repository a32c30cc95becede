"""Back-end systems behind one call: `open_backend(config).run(action, params, customer_id=, key=)`.

The seam (Outcome, Backend, the list of actions) is adapters/base.py. Two implementations: `sandbox`
(a bank, a broker and their neighbours in one SQLite file under var/) and `http` (a core system's
REST API; adapters/http_server.py serves the sandbox that way).
"""
from __future__ import annotations

from adapters.base import Backend, Outcome
from domain.clock import Clock, clock_from_setting, real_clock
from domain.config import Config
from domain.errors import ConfigError

__all__ = ["Backend", "Outcome", "backend_clock", "open_backend"]


def open_backend(config: Config) -> Backend:
    """The implementation config.yml's `adapters:` section names (default: the sandbox)."""
    section = config.section("adapters")
    kind = section.get("kind", "sandbox")
    if kind == "sandbox":
        from adapters.sandbox import SandboxBackend

        return SandboxBackend.from_config(config)
    if kind == "http":
        from adapters.http_client import HttpBackend

        return HttpBackend.from_config(config)
    raise ConfigError(f"config.yml: adapters.kind must be sandbox or http, not {kind!r}")


def backend_clock(config: Config) -> Clock:
    """The sandbox bank's clock when config.yml pins it (so trading hours agree with the bank), else real time."""
    section = config.section("adapters")
    if section.get("kind", "sandbox") != "sandbox":
        return real_clock
    return clock_from_setting((section.get("sandbox") or {}).get("clock"))
