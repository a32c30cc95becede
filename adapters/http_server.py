"""The sandbox served as a core system's REST API, for the http adapter to talk to.

    POST /v1/actions/{action}          header Idempotency-Key: <key>
         {"params": {...}, "customer_id": "C0001" or null}
      200 {"status", "id", "data", "reason"}      the Outcome (ok, rejected)
      503 the same, status "failed"               the back end broke; nothing was committed
      400 no Idempotency-Key, 404 unknown action, 422 a body that is not that shape
    GET /v1/health -> {"status": "ok"}

The same key always answers with the outcome of its first run (see adapters/sandbox/backend.py).

    python -m adapters.http_server [--port 8700] [--config config.yml]
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from adapters.base import ACTIONS, FAILED
from adapters.sandbox import SandboxBackend
from domain.config import load_config
from domain.errors import UserError


class ActionRequest(BaseModel):
    params: dict[str, Any] = {}
    customer_id: str | None = None


def create_app(backend: SandboxBackend) -> FastAPI:
    app = FastAPI(title="sandbox core banking", docs_url=None, redoc_url=None)

    @app.get("/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/actions/{action}")
    def run_action(
        action: str, request: ActionRequest, idempotency_key: str | None = Header(None)
    ) -> JSONResponse:
        if action not in ACTIONS:
            raise HTTPException(404, f"unknown action {action!r}")
        if not idempotency_key:
            raise HTTPException(400, "the Idempotency-Key header is required")
        outcome = backend.run(action, request.params, customer_id=request.customer_id, key=idempotency_key)
        return JSONResponse(outcome.to_json(), status_code=503 if outcome.status == FAILED else 200)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=None, help="config.yml (default: the repository's)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    args = parser.parse_args(argv)
    try:
        backend = SandboxBackend.from_config(load_config(args.config))
    except UserError as error:
        parser.exit(1, f"error: {error}\n")
    uvicorn.run(create_app(backend), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
