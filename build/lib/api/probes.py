"""/livez, /readyz and /metrics: for the platform's probes and Prometheus, not for clients,
so none of them is in the OpenAPI document (which schemathesis fuzzes)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.readiness import readiness
from observability.health import Check

probes = APIRouter(include_in_schema=False)


@probes.get("/livez")
async def livez() -> JSONResponse:
    # Answering at all is the proof: the event loop runs. No I/O, so a slow database
    # never gets a live API restarted.
    return _answer(Check.of({"event_loop": "ok"}))


@probes.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    return _answer(await readiness(state.pool, state.publisher))


@probes.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _answer(check: Check) -> JSONResponse:
    return JSONResponse(check.body(), status_code=check.status_code)
