"""The routes the web page and exportctl stand on: the catalogue, the estimate, the progress
stream (server-sent events fed by the job events), who is signed in, the development sign-in."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from config.settings import Settings
from domain.quota import LimitsOverride
from projections.limits_book import publish_override
from tests.integration.conftest import TENANT_A, TENANT_B, AdminDatabase, api_client, wait_for_job

ORDERS = {
    "name": "front door",
    "queryDefinition": {
        "source": "fact_orders",
        "columns": [{"name": "id"}, {"name": "symbol"}, {"name": "quantity"}, {"name": "notes"}],
        "filters": [{"column": "status", "operator": "=", "value": "FILLED"}],
    },
    "format": "CSV",
}
# Big enough for several progress reports (every 100,000 rows), small enough to take seconds.
TRADES = {
    "name": "front door progress",
    "queryDefinition": {
        "source": "fact_trades",
        "columns": [{"name": "id"}, {"name": "executed_at"}, {"name": "symbol"}, {"name": "notes"}],
    },
    "format": "NDJSON",
    "maxRowsPerFile": 150_000,
}
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "EXPIRED"}


def new_user() -> str:
    return str(uuid.uuid4())


def sse_events(api: httpx.Client, job_id: str, timeout: float = 180) -> Iterator[tuple[str, Any]]:
    """(event, data) pairs of the job's progress stream, with the time each arrived."""
    with api.stream("GET", f"/v1/exports/{job_id}/progress", timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        name, data = "message", []
        for line in response.iter_lines():
            if line.startswith(":"):
                continue
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and data:
                yield name, json.loads("\n".join(data))
                name, data = "message", []


def test_the_catalogue_lists_sources_columns_types_and_operators(settings: Settings) -> None:
    body = api_client(settings, TENANT_A, new_user()).get("/v1/catalogue").json()
    trades = next(s for s in body["sources"] if s["name"] == "fact_trades")
    columns = {c["name"]: c for c in trades["columns"]}
    assert trades["dateColumn"] == "trade_date" and trades["keyColumn"] == "id"
    assert columns["price"]["type"] == "numeric" and columns["price"]["scale"] == 6
    assert "LIKE" in columns["symbol"]["operators"] and "LIKE" not in columns["id"]["operators"]
    assert {"name": "BETWEEN", "value": "range"} in body["operators"]
    csv_options = next(f for f in body["formats"] if f["name"] == "CSV")["options"]
    assert {"name": "delimiter", "type": "string", "default": ","} in csv_options
    assert body["compressions"][0] == "NONE" and "EMAIL" in body["deliveryMethods"]


def test_the_estimate_counts_exactly_the_rows_the_export_then_has(settings: Settings) -> None:
    api = api_client(settings, TENANT_A, new_user())
    estimate = api.post("/v1/exports/estimate", json=ORDERS).json()
    assert estimate["rowsExact"] is True and estimate["fitsQuota"] is True, estimate
    assert estimate["quotaProblems"] == []
    job_id = api.post("/v1/exports", json=ORDERS).json()["id"]
    job = wait_for_job(api, job_id, FINAL)
    assert job["status"] == "COMPLETED", job["errorMessage"]
    assert estimate["rows"] == job["totalRows"] == job["processedRows"]
    assert estimate["files"] == job["fileCount"] and estimate["chunks"] == 1
    # The size comes from a rendered sample of the first rows: close, not exact.
    assert abs(estimate["bytes"] - job["fileSizeBytes"]) <= 0.1 * job["fileSizeBytes"], (
        estimate,
        job["fileSizeBytes"],
    )
    assert job["rowsPerSecond"] > 0 and job["estimatedCompletionAt"] is None


def test_an_estimate_over_the_quota_names_the_limit_and_creates_no_job(
    settings: Settings, admin_db: AdminDatabase
) -> None:
    user = new_user()
    api = api_client(settings, TENANT_A, user)
    publish_override(
        settings, TENANT_A, user, LimitsOverride(max_rows_per_export=10), changed_by="tests"
    )
    # At once: the API answers from its copy of the limits only once that copy holds every
    # change acknowledged before the question.
    estimate = api.post("/v1/exports/estimate", json=ORDERS).json()
    assert estimate["fitsQuota"] is False, estimate
    problem = estimate["quotaProblems"][0]
    assert problem["field"] == "maxRowsPerExport"
    assert problem["reason"] == f"Export exceeds maximum row limit ({estimate['rows']:,} > 10)"
    row = admin_db.execute(
        "SELECT count(*) FROM export_service.export_jobs WHERE requested_by = %s", (user,)
    ).fetchone()
    assert row is not None and row[0] == 0


@pytest.mark.parametrize(
    "change",
    [
        {"format": "XLS"},
        {"queryDefinition": {"source": "fact_orders", "columns": [{"name": "nope"}]}},
        {"compression": "GZIP", "format": "PARQUET"},
        {"queryDefinition": {**ORDERS["queryDefinition"], "filters": [{"column": "id"}]}},  # type: ignore[dict-item]
    ],
)
def test_a_bad_estimate_gets_the_same_field_errors_as_a_submission(
    settings: Settings, change: dict[str, Any]
) -> None:
    api = api_client(settings, TENANT_A, new_user())
    body = {**ORDERS, **change}
    estimate = api.post("/v1/exports/estimate", json=body)
    submission = api.post("/v1/exports", json=body)
    assert estimate.status_code == submission.status_code == 400, estimate.text
    assert estimate.json()["details"] == submission.json()["details"]
    assert estimate.json()["details"][0]["field"]


def test_the_progress_stream_follows_the_job_to_its_end_in_order(settings: Settings) -> None:
    api = api_client(settings, TENANT_A, new_user())
    job_id = api.post("/v1/exports", json=TRADES).json()["id"]
    seen = list(sse_events(api, job_id))  # at once: before the read model has the job
    names = [name for name, _ in seen]
    assert names[-1] == "done" and set(names[:-1]) <= {"job"}, names
    final = seen[-1][1]
    assert final["status"] == "COMPLETED", final["errorMessage"]
    # The stream folds the events itself, so it may end before the read model catches up;
    # begun before the read model had the job, it dates the job by its first event.
    stored = wait_for_job(api, job_id, FINAL)
    assert final == stored | {"updatedAt": final["updatedAt"], "createdAt": final["createdAt"]}
    rows = [data["processedRows"] for _, data in seen]
    assert rows == sorted(rows), rows
    assert len({r for r in rows if 0 < r < final["totalRows"]}) >= 2, rows  # it showed progress
    running = [data for _, data in seen if data["status"] == "PROCESSING" and data["processedRows"]]
    assert all(d["rowsPerSecond"] > 0 and d["estimatedCompletionAt"] for d in running), running


def test_the_progress_of_another_tenants_job_is_not_found(settings: Settings) -> None:
    owner = api_client(settings, TENANT_A, new_user())
    job_id = owner.post("/v1/exports", json=ORDERS).json()["id"]
    wait_for_job(owner, job_id)
    response = api_client(settings, TENANT_B, new_user()).get(f"/v1/exports/{job_id}/progress")
    assert response.status_code == 404 and response.json()["error"] == "NOT_FOUND"


def test_a_finished_job_streams_one_final_event(settings: Settings) -> None:
    api = api_client(settings, TENANT_A, new_user())
    job_id = api.post("/v1/exports", json=ORDERS).json()["id"]
    wait_for_job(api, job_id, FINAL)
    seen = list(sse_events(api, job_id, timeout=20))
    assert [name for name, _ in seen] == ["done"] and seen[0][1]["status"] == "COMPLETED"


def test_me_and_the_development_sign_in(settings: Settings) -> None:
    assert httpx.get(f"{settings.api_url}/v1/session").json() == {"devLogin": True}
    user = new_user()
    login = httpx.post(
        f"{settings.api_url}/v1/session/dev-login", json={"tenantId": TENANT_A, "userId": user}
    ).json()
    assert login["development"] is True
    me = httpx.get(
        f"{settings.api_url}/v1/me", headers={"Authorization": f"Bearer {login['token']}"}
    ).json()
    assert me == {"tenantId": TENANT_A, "userId": user, "roles": login["roles"]}
    assert httpx.get(f"{settings.api_url}/v1/me").status_code == 401


def test_the_page_is_served_at_the_root(settings: Settings) -> None:
    page = httpx.get(f"{settings.api_url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()
