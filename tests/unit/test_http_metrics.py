"""Requests are counted under their route template, never the raw path, with their status."""

from __future__ import annotations

import uuid

import httpx
from prometheus_client import REGISTRY

from api.main import create_app
from config.settings import Settings

# httpx's ASGI transport runs no lifespan: no database or broker is touched, and the routes
# tried here answer before needing either.
APP = create_app(Settings.from_env())


async def request(method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=APP)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.request(method, path)


def count(route: str, method: str, status: int) -> float:
    labels = {"route": route, "method": method, "status": str(status)}
    return REGISTRY.get_sample_value("export_http_requests_total", labels) or 0.0


def timed(route: str, method: str) -> float:
    labels = {"route": route, "method": method}
    return REGISTRY.get_sample_value("export_http_request_duration_seconds_count", labels) or 0.0


async def test_a_path_with_an_id_is_counted_under_its_template() -> None:
    before = count("/v1/exports/{job_id}", "GET", 401), timed("/v1/exports/{job_id}", "GET")
    for _ in range(2):
        assert (await request("GET", f"/v1/exports/{uuid.uuid4()}")).status_code == 401
    after = count("/v1/exports/{job_id}", "GET", 401), timed("/v1/exports/{job_id}", "GET")
    assert (after[0] - before[0], after[1] - before[1]) == (2, 2)


async def test_a_path_no_route_matches_is_counted_as_unmatched() -> None:
    before = count("unmatched", "GET", 404)
    assert (await request("GET", f"/no/such/{uuid.uuid4()}")).status_code == 404
    assert count("unmatched", "GET", 404) == before + 1


async def test_a_wrong_method_keeps_the_route_and_an_invented_one_is_other() -> None:
    before = count("/livez", "POST", 405), count("/livez", "other", 405)
    assert (await request("POST", "/livez")).status_code == 405
    assert (await request("BREW", "/livez")).status_code == 405
    assert (count("/livez", "POST", 405), count("/livez", "other", 405)) == (
        before[0] + 1,
        before[1] + 1,
    )


async def test_livez_needs_nothing_but_the_process() -> None:
    response = await request("GET", "/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"event_loop": "ok"}}


async def test_the_probes_stay_out_of_the_openapi_document() -> None:
    paths = (await request("GET", "/openapi.json")).json()["paths"]
    assert not {"/livez", "/readyz", "/metrics", "/healthz"} & set(paths)
