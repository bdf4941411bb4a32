"""Quotas, limits, cancellation and retention on the real stack.

Each test uses users of its own (fresh ids), so counters start at zero, and sets their
limits through the limits stream as an operator would.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from config.settings import Settings
from domain.quota import LimitsOverride
from export_client.kafka_client import ExportClient
from projections.limits_book import publish_override
from tests.integration.conftest import (
    BIG_ROWS,
    BIG_TENANT,
    TENANT_A,
    TENANT_B,
    AdminDatabase,
    api_client,
    stack,
    wait_for_job,
)

SEED_DEFAULTS = LimitsOverride(
    max_concurrent_exports=3, max_exports_per_day=20, max_rows_per_day=50_000_000
)
# What scripts/stack.sh gives the demo tenants, restored after tests that change them.
STACK_LIMITS = LimitsOverride(
    max_exports_per_day=1_000_000, max_concurrent_exports=1000, max_rows_per_day=10**12
)


def new_user() -> str:
    return str(uuid.uuid4())


def trades(
    first_id: int = 1, last_id: int = 30_000, export_format: str = "CSV", **extra: Any
) -> dict[str, Any]:
    return {
        "name": "quota test",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id"}, {"name": "symbol"}, {"name": "price"}],
            "filters": [{"column": "id", "operator": "BETWEEN", "value": [first_id, last_id]}],
        },
        "format": export_format,
        **extra,
    }


def slow_trades(first_id: int, last_id: int) -> dict[str, Any]:
    """An export that runs for many seconds however fast the writers get: small files of rows
    sorted by a text column, so every chunk sorts all the rows again."""
    request = trades(first_id, last_id, "EXCEL", maxRowsPerFile=10_000)
    request["queryDefinition"]["orderBy"] = [{"column": "notes", "direction": "DESC"}]
    return request


def job(settings: Settings, tenant: str, user: str, job_id: str) -> dict[str, Any]:
    return wait_for_job(api_client(settings, tenant, user), job_id, timeout=60)


def wait_until(
    settings: Settings, tenant: str, user: str, job_id: str, states: set[str]
) -> dict[str, Any]:
    return wait_for_job(api_client(settings, tenant, user), job_id, states)


def quota_of(settings: Settings, tenant: str, user: str) -> dict[str, int]:
    usage: dict[str, int] = api_client(settings, tenant, user).get("/v1/exports/quota").json()
    return usage


def set_limits(settings: Settings, tenant: str, user: str | None, override: LimitsOverride) -> None:
    """Publish a change as an operator would. Nothing is waited for: a worker checks every
    request, and the API answers every quota question, only once its copy of the limits holds
    every change acknowledged before it."""
    publish_override(settings, tenant, user, override, changed_by="tests")


def outcomes(
    settings: Settings, tenant: str, user: str, job_ids: list[str]
) -> list[dict[str, Any]]:
    """Each job once it has been accepted (QUEUED or later) or rejected."""
    return [
        wait_until(settings, tenant, user, j, {"QUEUED", "PROCESSING", "COMPLETED", "FAILED"})
        for j in job_ids
    ]


@pytest.fixture
def tenant_b_limits(settings: Settings) -> Iterator[None]:
    yield
    set_limits(settings, TENANT_B, None, STACK_LIMITS)


def test_twenty_requests_at_once_run_three_and_reject_the_rest(
    client: ExportClient, settings: Settings
) -> None:
    user = new_user()
    set_limits(settings, TENANT_A, user, SEED_DEFAULTS)
    # The first three are still running when the last request is checked and cancelled (in
    # one CI run a plain Excel export ended while the twentieth request was being planned).
    request = slow_trades(1, 1_000_000)
    job_ids = [client.request_export(TENANT_A, user, request) for _ in range(20)]
    seen = outcomes(settings, TENANT_A, user, job_ids)
    accepted = [v for v in seen if v["status"] != "FAILED"]
    rejected = [v for v in seen if v["status"] == "FAILED"]
    assert len(accepted) == 3 and len(rejected) == 17
    assert {v["errorCode"] for v in rejected} == {"QUOTA_EXCEEDED"}
    assert {v["errorMessage"] for v in rejected} == {"Maximum concurrent exports reached (3)"}
    usage = quota_of(settings, TENANT_A, user)
    assert (usage["concurrentActive"], usage["concurrentLimit"]) == (3, 3)
    assert (usage["dailyExportsUsed"], usage["dailyExportsRemaining"]) == (3, 17)

    api = api_client(settings, TENANT_A, user)
    for view in accepted:
        assert api.delete(f"/v1/exports/{view['id']}").status_code == 202
    for view in accepted:
        wait_until(settings, TENANT_A, user, view["id"], {"CANCELLED"})
    deadline = time.monotonic() + 10
    while quota_of(settings, TENANT_A, user)["concurrentActive"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert quota_of(settings, TENANT_A, user)["concurrentActive"] == 0


def test_daily_export_count_is_never_exceeded_by_a_burst(
    client: ExportClient, settings: Settings
) -> None:
    user = new_user()
    set_limits(
        settings,
        TENANT_A,
        user,
        LimitsOverride(max_concurrent_exports=100, max_exports_per_day=5),
    )
    job_ids = [client.request_export(TENANT_A, user, trades(1, 300)) for _ in range(12)]
    seen = outcomes(settings, TENANT_A, user, job_ids)
    rejected = [v for v in seen if v["status"] == "FAILED"]
    assert len(rejected) == 7
    assert {v["errorMessage"] for v in rejected} == {"Daily export limit reached (5)"}
    assert quota_of(settings, TENANT_A, user)["dailyExportsUsed"] == 5


def count_rows(admin_db: AdminDatabase, tenant: str, first: int, last: int) -> int:
    row = admin_db.execute(
        "SELECT count(*) FROM analytics.fact_trades WHERE tenant_id = %s AND id BETWEEN %s AND %s",
        [tenant, first, last],
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_user_near_the_daily_row_limit_gets_exactly_what_fits(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase
) -> None:
    user = new_user()
    ranges = [(1, 3_000), (3_001, 6_000), (6_001, 9_000)]
    counts = [count_rows(admin_db, TENANT_A, a, b) for a, b in ranges]
    limit = sum(counts) - 1  # the third no longer fits, by one row
    set_limits(
        settings, TENANT_A, user, LimitsOverride(max_concurrent_exports=10, max_rows_per_day=limit)
    )
    job_ids = [client.request_export(TENANT_A, user, trades(a, b)) for a, b in ranges]
    first, second, third = outcomes(settings, TENANT_A, user, job_ids)
    assert first["status"] != "FAILED" and second["status"] != "FAILED"
    assert third["errorMessage"] == (
        f"Export exceeds maximum row limit ({counts[2]:,} > {counts[2] - 1:,})"
    )
    # The exact remainder still fits; after it, nothing does.
    row = admin_db.execute(
        "SELECT id FROM analytics.fact_trades WHERE tenant_id = %s AND id BETWEEN 6001 AND 9000"
        " ORDER BY id OFFSET %s LIMIT 1",
        [TENANT_A, counts[2] - 2],
    ).fetchone()
    assert row is not None
    remainder = client.request_export(TENANT_A, user, trades(6_001, row[0]))
    assert wait_until(settings, TENANT_A, user, remainder, {"COMPLETED", "FAILED"})["status"] == (
        "COMPLETED"
    )
    beyond = client.request_export(TENANT_A, user, trades(1, 300))
    assert wait_until(settings, TENANT_A, user, beyond, {"FAILED"})["errorMessage"] == (
        f"Daily row export limit reached ({limit:,})"
    )
    for job_id in job_ids[:2]:
        wait_until(settings, TENANT_A, user, job_id, {"COMPLETED"})
    usage = quota_of(settings, TENANT_A, user)
    assert (usage["dailyRowsUsed"], usage["dailyRowsRemaining"]) == (limit, 0)
    assert usage["dailyExportsUsed"] == 3


def test_counters_survive_a_worker_restart_without_leaking_a_reservation(
    client: ExportClient, settings: Settings, big_tenant: None
) -> None:
    user = new_user()
    set_limits(
        settings, BIG_TENANT, user, LimitsOverride(max_concurrent_exports=1, max_exports_per_day=3)
    )
    # Three million rows in thirty chunks, each sorting every row by a text column first:
    # a minute or more of work, still running after the restart.
    slow = {
        "name": "slow",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id"}, {"name": "notes"}],
            "orderBy": [{"column": "notes", "direction": "DESC"}],
        },
        "format": "EXCEL",
        "maxRowsPerFile": 100_000,
    }
    running = client.request_export(BIG_TENANT, user, slow)
    wait_until(settings, BIG_TENANT, user, running, {"PROCESSING"})
    before = quota_of(settings, BIG_TENANT, user)
    stack("restart-services")
    blocked = client.request_export(BIG_TENANT, user, {**slow, "name": "blocked"})
    assert wait_until(settings, BIG_TENANT, user, blocked, {"FAILED"})["errorMessage"] == (
        "Maximum concurrent exports reached (1)"
    )
    assert quota_of(settings, BIG_TENANT, user) == before
    assert (before["concurrentActive"], before["dailyRowsUsed"]) == (1, BIG_ROWS)

    api = api_client(settings, BIG_TENANT, user)
    assert api.delete(f"/v1/exports/{running}").status_code == 202
    wait_until(settings, BIG_TENANT, user, running, {"CANCELLED"})
    after = client.request_export(BIG_TENANT, user, {**slow, "name": "after"})
    assert (
        wait_until(settings, BIG_TENANT, user, after, {"QUEUED", "PROCESSING", "FAILED"})["status"]
        != "FAILED"
    )
    usage = quota_of(settings, BIG_TENANT, user)
    assert (usage["dailyExportsUsed"], usage["concurrentActive"]) == (2, 1)
    assert usage["dailyRowsUsed"] == BIG_ROWS  # the cancelled export's rows were released
    api.delete(f"/v1/exports/{after}")


def active_copies(admin_db: AdminDatabase) -> int:
    row = admin_db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'export_reader'"
        " AND state = 'active' AND query ILIKE %s",
        [f"%{BIG_TENANT}%"],
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_cancelling_a_running_export_stops_it_removes_its_files_and_frees_the_slot(
    client: ExportClient,
    settings: Settings,
    admin_db: AdminDatabase,
    big_tenant: None,
) -> None:
    user = new_user()
    request = {
        "name": "three million",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": c} for c in ("id", "executed_at", "price", "notes")],
        },
        "format": "CSV",
    }
    job_id = client.request_export(BIG_TENANT, user, request)
    api = api_client(settings, BIG_TENANT, user)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = job(settings, BIG_TENANT, user, job_id)
        if view["processedRows"] > 0:
            break
        time.sleep(0.05)
    assert view["totalRows"] == BIG_ROWS
    assert api.delete(f"/v1/exports/{job_id}").status_code == 202
    cancelled_at = time.monotonic()
    cancelled = wait_until(settings, BIG_TENANT, user, job_id, {"CANCELLED"})
    assert cancelled["processedRows"] < BIG_ROWS // 2

    # Within a progress interval the COPY is gone, and nothing of the export is stored.
    while active_copies(admin_db) and time.monotonic() - cancelled_at < 10:
        time.sleep(0.2)
    assert active_copies(admin_db) == 0
    assert time.monotonic() - cancelled_at < 5
    time.sleep(1)
    folder = settings.store_dir / BIG_TENANT / job_id
    assert not folder.exists() or list(folder.iterdir()) == []
    assert api.delete(f"/v1/exports/{job_id}").json()["message"].startswith("Cannot cancel")

    # The seed's three slots: a fresh request right away is accepted, not over the limit.
    following = [
        client.request_export(BIG_TENANT, user, {**request, "name": f"n{i}"}) for i in range(3)
    ]
    for job_id in following:
        view = wait_until(settings, BIG_TENANT, user, job_id, {"QUEUED", "PROCESSING", "FAILED"})
        assert view["status"] != "FAILED", view["errorMessage"]
        api.delete(f"/v1/exports/{job_id}")


def test_only_the_requester_or_a_tenant_admin_may_cancel(
    client: ExportClient, settings: Settings
) -> None:
    owner, colleague, admin = new_user(), new_user(), new_user()
    job_id = client.request_export(TENANT_A, owner, slow_trades(1, 300_000))
    wait_until(settings, TENANT_A, owner, job_id, {"QUEUED", "PROCESSING"})
    refused = api_client(settings, TENANT_A, colleague).delete(f"/v1/exports/{job_id}")
    assert refused.status_code == 403
    roles = ["exports:read", "exports:create", "exports:admin"]
    allowed = api_client(settings, TENANT_A, admin, roles).delete(f"/v1/exports/{job_id}")
    assert allowed.status_code == 202
    assert wait_until(settings, TENANT_A, owner, job_id, {"CANCELLED"})["status"] == "CANCELLED"


def test_a_tenant_override_changes_the_limit_for_its_users_only(
    client: ExportClient, settings: Settings, tenant_b_limits: None
) -> None:
    set_limits(settings, TENANT_B, None, LimitsOverride(max_concurrent_exports=1))
    in_b, in_a = new_user(), new_user()
    assert quota_of(settings, TENANT_B, in_b)["concurrentLimit"] == 1
    assert quota_of(settings, TENANT_A, in_a)["concurrentLimit"] == 1000
    slow = slow_trades(1, 300_000)
    b_jobs = [client.request_export(TENANT_B, in_b, slow) for _ in range(2)]
    a_jobs = [client.request_export(TENANT_A, in_a, slow) for _ in range(2)]
    b_seen = outcomes(settings, TENANT_B, in_b, b_jobs)
    a_seen = outcomes(settings, TENANT_A, in_a, a_jobs)
    assert [v["status"] == "FAILED" for v in b_seen] == [False, True]
    assert b_seen[1]["errorMessage"] == "Maximum concurrent exports reached (1)"
    assert not any(v["status"] == "FAILED" for v in a_seen)
    for tenant, user, ids in ((TENANT_B, in_b, b_jobs[:1]), (TENANT_A, in_a, a_jobs)):
        for job_id in ids:
            api_client(settings, tenant, user).delete(f"/v1/exports/{job_id}")


def test_an_export_past_the_tenants_size_limit_fails_and_leaves_no_files(
    client: ExportClient, settings: Settings, tenant_b_limits: None
) -> None:
    set_limits(
        settings, TENANT_B, None, STACK_LIMITS.model_copy(update={"max_export_bytes": 200_000})
    )
    user = new_user()
    job_id = client.request_export(TENANT_B, user, trades(1, 300_000, maxRowsPerFile=20_000))
    failed = wait_until(settings, TENANT_B, user, job_id, {"FAILED", "COMPLETED"})
    assert failed["status"] == "FAILED" and failed["errorCode"] == "EXPORT_TOO_LARGE"
    assert "size limit of 200,000 bytes" in failed["errorMessage"]
    time.sleep(1)
    folder = settings.store_dir / TENANT_B / job_id
    assert not folder.exists() or list(folder.iterdir()) == []
    assert quota_of(settings, TENANT_B, user)["concurrentActive"] == 0


def test_retention_expires_files_with_the_clock_moved_forward(
    client: ExportClient, settings: Settings
) -> None:
    user = new_user()
    job_id = client.request_export(TENANT_B, user, trades(1, 3_000))
    notice = client.wait_for_completion(job_id, timeout=60)
    assert notice.status.value == "COMPLETED"
    link = notice.download_url or ""
    api = api_client(settings, TENANT_B, user)
    assert api.get(f"/v1/exports/{job_id}/download").status_code == 200
    folder = settings.store_dir / TENANT_B / job_id
    assert (folder / notice.files[0].name).is_file()

    # Eight days later, as far as the sweep is concerned.
    sweep = {"asOf": (datetime.now(UTC) + timedelta(days=8)).isoformat(), "tenantId": TENANT_B}
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    producer.produce(settings.sweeps_topic, value=json.dumps(sweep).encode())
    producer.flush(10)
    wait_until(settings, TENANT_B, user, job_id, {"EXPIRED"})
    time.sleep(0.5)
    assert not folder.exists()
    assert api.get(f"/v1/exports/{job_id}/download").status_code == 410
    assert httpx.get(link, timeout=30).status_code == 410
