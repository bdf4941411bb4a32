"""The client against a running service: a request over Kafka comes back as a completion
notice whose files download whole; notices can be followed as a stream; a cancel stops an
export; the HTTP client follows a job's progress to its end."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import pytest

from export_client import ExportApi, ExportClient
from export_contract.request import ExportStatus

pytestmark = pytest.mark.integration
ORDERS_BELOW_100 = {
    "name": "orders below 100",
    "queryDefinition": {
        "source": "fact_orders",
        "columns": [{"name": "id"}, {"name": "status"}],
        "filters": [{"column": "id", "operator": "<", "value": 100}],
        "orderBy": [{"column": "id"}],
    },
    "format": "CSV",
}
# Large enough that the cancel, sent right after it on the same partition, arrives first.
ALL_TRADES = {
    "name": "every trade",
    "queryDefinition": {"source": "fact_trades", "columns": [{"name": "id"}]},
    "format": "CSV",
}


def read_api_view(api: ExportApi, job_id: str, timeout: float = 30) -> dict[str, Any]:
    """The job as the read API shows it once it has caught up with the log: the notice and
    the progress stream's `done` come from the log itself, moments before the read model."""
    deadline = time.monotonic() + timeout
    while True:
        view = api.get(job_id)
        if view["status"] == "COMPLETED" or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def test_a_request_over_kafka_completes_and_its_files_download_whole(
    kafka: ExportClient, api: ExportApi, session: dict[str, Any], downloads: Path
) -> None:
    job_id = kafka.request_export(session["tenantId"], session["userId"], ORDERS_BELOW_100)
    notice = kafka.wait_for_completion(job_id, timeout=120)
    assert notice.status is ExportStatus.COMPLETED, notice.error_message
    assert notice.job_id == job_id
    assert notice.total_rows > 0
    assert read_api_view(api, job_id)["status"] == "COMPLETED"

    rows: list[list[str]] = []
    for file in api.manifest(job_id)["files"]:
        dest = downloads / file["name"]
        api.download_file(job_id, file["name"], dest, expected_sha256=file["sha256"])
        with dest.open(newline="") as opened:
            header, *body = list(csv.reader(opened))
        assert header == ["id", "status"]
        rows += body
    assert len(rows) == notice.total_rows
    ids = [int(row[0]) for row in rows]
    assert ids == sorted(set(ids))
    assert all(i < 100 for i in ids)


def test_completion_notices_can_be_followed_as_they_come(
    kafka: ExportClient, session: dict[str, Any]
) -> None:
    jobs = {
        kafka.request_export(session["tenantId"], session["userId"], ORDERS_BELOW_100)
        for _ in range(2)
    }
    seen: dict[str, ExportStatus] = {}
    for notice in kafka.completions(idle_timeout=120):
        if notice.job_id in jobs:
            seen[notice.job_id] = notice.status
        if seen.keys() == jobs:
            break
    assert seen == dict.fromkeys(jobs, ExportStatus.COMPLETED)


def test_a_cancel_stops_the_export(kafka: ExportClient, session: dict[str, Any]) -> None:
    job_id = kafka.request_export(session["tenantId"], session["userId"], ALL_TRADES)
    kafka.cancel_export(session["tenantId"], session["userId"], job_id, reason="changed my mind")
    notice = kafka.wait_for_completion(job_id, timeout=120)
    assert notice.status is ExportStatus.CANCELLED
    assert notice.files == []


def test_the_http_client_follows_progress_to_the_end(api: ExportApi) -> None:
    job = api.submit(ORDERS_BELOW_100)
    events = list(api.progress(job["id"]))
    assert events[-1][0] == "done"
    assert events[-1][1]["status"] == "COMPLETED"
    view = read_api_view(api, job["id"])
    assert view["totalRows"] == api.manifest(job["id"])["totalRows"] > 0
