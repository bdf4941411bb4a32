"""The API's probes against the real stack: ready when PostgreSQL and Kafka answer, and
/metrics counts requests under their route templates."""

from __future__ import annotations

import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from config.settings import Settings
from tests.integration.conftest import TENANT_A, USER_A, api_client

ROUTE = "/v1/exports/{job_id}"


def metrics_text(settings: Settings) -> str:
    response = httpx.get(f"{settings.api_url}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def requests_counted(text: str, route: str, method: str, status: str) -> float:
    wanted = {"route": route, "method": method, "status": status}
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "export_http_requests_total" and sample.labels == wanted
    )


def test_livez_and_readyz_say_ok_while_the_stack_runs(settings: Settings) -> None:
    live = httpx.get(f"{settings.api_url}/livez", timeout=10)
    assert live.status_code == 200 and live.json()["status"] == "ok"
    ready = httpx.get(f"{settings.api_url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"postgresql": "ok", "kafka": "ok"}}


def test_metrics_count_a_request_under_its_route_template(settings: Settings) -> None:
    before = requests_counted(metrics_text(settings), ROUTE, "GET", "404")
    job_id = uuid.uuid4()
    with api_client(settings, TENANT_A, USER_A) as api:
        assert api.get(f"/v1/exports/{job_id}").status_code == 404
    text = metrics_text(settings)
    assert requests_counted(text, ROUTE, "GET", "404") == before + 1
    # The raw path never becomes a label: each id would be a series of its own.
    assert str(job_id) not in text
