"""The worker's probe endpoints answer their checks' verdicts, and /metrics the registry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from observability.health_server import Check, HealthServer


@pytest.fixture
async def server() -> AsyncIterator[HealthServer]:
    live = Check.of({"event_loop": "ok"})
    ready = Check.of({"kafka": "ok", "lag": "no lag read for 30 s: is the broker up?"})
    service = HealthServer("127.0.0.1", 0, lambda: live, lambda: ready)
    await service.start()
    yield service
    await service.stop()


async def get(service: HealthServer, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as client:
        return await client.get(path)


async def test_livez_answers_200_with_its_checks(server: HealthServer) -> None:
    response = await get(server, "/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"event_loop": "ok"}}


async def test_readyz_answers_503_naming_what_is_wrong(server: HealthServer) -> None:
    response = await get(server, "/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"kafka": "ok", "lag": "no lag read for 30 s: is the broker up?"},
    }


async def test_metrics_are_prometheus_text(server: HealthServer) -> None:
    response = await get(server, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert "export_http_requests" in names


async def test_a_check_that_raises_is_a_503() -> None:
    def broken() -> Check:
        raise RuntimeError("no state yet")

    service = HealthServer("127.0.0.1", 0, broken, broken)
    await service.start()
    try:
        response = await get(service, "/livez")
    finally:
        await service.stop()
    assert response.status_code == 503
    assert "no state yet" in response.json()["checks"]["check"]
