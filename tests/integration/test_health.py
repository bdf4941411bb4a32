"""What an operator sees: readiness that follows PostgreSQL and Kafka, consumer lag that counts
unread commands until a worker reads them, and logs a machine can read. Slow (it stops the
database, the broker and the worker): marked `slow`; `make test` runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents.partitioning import owner_partition
from config.settings import Settings
from export_client.kafka_client import ExportClient
from tests.integration.conftest import LOGS, PIDS, TENANT_A, AdminDatabase, stack
from tests.processes import alive

WORKER_LOG = LOGS / "worker-1.log"

JOB_IN_MESSAGE = re.compile(r"\bjob ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
REFUSED = {
    "name": "refused at once",
    "queryDefinition": {"source": "fact_orders", "columns": [{"name": "id"}]},
    "format": "CSV",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def log_start() -> int:
    """Where the worker's log stood when this module began."""
    return WORKER_LOG.stat().st_size


def worker_url(path: str) -> str:
    return f"http://127.0.0.1:{int(os.environ.get('EXPORT_WORKER_HTTP_PORT', '18081'))}{path}"


def status(url: str) -> tuple[int, dict[str, Any]]:
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError as exc:
        return 0, {"error": str(exc)}
    return response.status_code, response.json()


def eventually(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.5)


def metric(url: str, name: str, **labels: str) -> float | None:
    text = httpx.get(url, timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


@pytest.fixture
def stopped_worker() -> Iterator[None]:
    """worker-1 stopped for good (its supervisor with it) until the test ends."""
    supervisor = int((PIDS / "worker-1.supervisor.pid").read_text())
    os.kill(supervisor, signal.SIGTERM)
    eventually(lambda: not alive(supervisor), 30, "the supervisor stops")
    try:
        yield
    finally:
        stack("services")


def test_lag_counts_unread_commands_until_a_worker_reads_them(
    log_start: int,
    client: ExportClient,
    settings: Settings,
    admin_db: AdminDatabase,
    stopped_worker: None,
) -> None:
    user = str(uuid4())
    partition = str(owner_partition(f"{TENANT_A}:{user}".encode(), settings.partitions))
    lag = {"group": "export-service", "topic": settings.commands_topic, "partition": partition}
    api_metrics = f"{settings.api_url}/metrics"
    before = metric(api_metrics, "export_consumer_lag_messages", **lag) or 0.0
    job_ids = [
        client.request_export(TENANT_A, user, REFUSED, roles=("exports:read",)) for _ in range(5)
    ]
    eventually(
        lambda: (metric(api_metrics, "export_consumer_lag_messages", **lag) or 0) >= before + 5,
        20,
        "the API's lag gauge counts the five unread commands",
    )

    stack("services")
    eventually(
        lambda: metric(api_metrics, "export_consumer_lag_messages", **lag) == 0,
        150,
        "the lag is back to 0 once the worker has read them",
    )

    def all_answered() -> bool:
        # Read by the command agent is not yet projected: the job agent and the projection
        # follow within moments.
        row = admin_db.execute(
            "SELECT count(*) FROM export_service.export_jobs WHERE id = ANY(%s::uuid[])",
            (job_ids,),
        ).fetchone()
        return row is not None and row[0] == 5

    eventually(all_answered, 30, "the five commands are answered in the read model")
    eventually(lambda: status(worker_url("/readyz"))[0] == 200, 60, "worker ready")
    worker_metrics = worker_url("/metrics")
    assert metric(worker_metrics, "export_consumer_lag_messages", **lag) is not None
    assert metric(worker_metrics, "export_partition_seconds_since_handover") is not None
    requests = metric(api_metrics, "export_http_requests_total", route="/metrics", status="200")
    assert requests is not None and requests >= 1


def test_the_kafka_check_is_true_while_a_worker_joins_and_recovers(
    stopped_worker: None,
) -> None:
    """The lag reader starts before the Faust app: a starting worker's /readyz says the
    broker answers while it still waits on its group or its tables, rather than "the broker
    has not answered yet" until its first recovery is over."""
    answers: list[dict[str, Any]] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            code, body = status(worker_url("/readyz"))
            if code:
                answers.append({"code": code, **body.get("checks", {})})
            time.sleep(0.05)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        stack("services")  # returns once the worker is ready
    finally:
        done.set()
        prober.join()
    starting = [a for a in answers if a["code"] == 503]
    assert starting, "no answer while the worker started"
    # Tables still recovering while the broker already answers: the reader runs ahead of the app.
    assert any(a["kafka"] == "ok" and a["tables"] != "ok" for a in starting), starting[-5:]
    first_ok = next(i for i, a in enumerate(answers) if a["kafka"] == "ok")
    assert all(a["kafka"] == "ok" for a in answers[first_ok:]), answers[first_ok:]


def test_readiness_follows_postgresql(settings: Settings, log_start: int) -> None:
    assert status(f"{settings.api_url}/readyz")[0] == 200
    stack("stop-postgres")
    try:
        eventually(lambda: status(f"{settings.api_url}/readyz")[0] == 503, 20, "API not ready")
        body = status(f"{settings.api_url}/readyz")[1]
        assert body["checks"]["postgresql"] != "ok" and body["checks"]["kafka"] == "ok", body
        assert status(f"{settings.api_url}/livez")[0] == 200, "liveness stays cheap"
    finally:
        stack("start-postgres")
    eventually(lambda: status(f"{settings.api_url}/readyz")[0] == 200, 30, "API ready again")


def test_readiness_follows_kafka(settings: Settings) -> None:
    eventually(lambda: status(worker_url("/readyz"))[0] == 200, 60, "worker ready")
    stack("stop-kafka")
    try:
        eventually(lambda: status(f"{settings.api_url}/readyz")[0] == 503, 20, "API not ready")
        body = status(f"{settings.api_url}/readyz")[1]
        assert body["checks"]["kafka"] != "ok" and body["checks"]["postgresql"] == "ok", body
        eventually(lambda: status(worker_url("/readyz"))[0] == 503, 30, "worker not ready")
        assert status(worker_url("/readyz"))[1]["checks"]["kafka"] != "ok"
    finally:
        stack("start-kafka")
    eventually(lambda: status(f"{settings.api_url}/readyz")[0] == 200, 60, "API ready again")
    eventually(lambda: status(worker_url("/readyz"))[0] == 200, 90, "worker ready again")


def test_every_worker_log_line_is_json_and_job_lines_carry_the_job(
    client: ExportClient, log_start: int
) -> None:
    small = {
        **REFUSED,
        "name": "a logged job",
        "queryDefinition": {
            "source": "fact_orders",
            "columns": [{"name": "id"}],
            "filters": [{"column": "id", "operator": "<", "value": 100}],
        },
    }
    job_id = client.request_export(TENANT_A, str(uuid4()), small)
    client.wait_for_completion(job_id, timeout=60)
    with WORKER_LOG.open("rb") as handle:
        handle.seek(log_start)
        lines = handle.read().decode().splitlines()
    assert len(lines) > 100, "the stops above were logged"
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"line {number} of the worker's log is not JSON: {line[:200]!r}")
    about_jobs = [r for r in records if JOB_IN_MESSAGE.search(r.get("message", ""))]
    assert any(job_id in r["message"] for r in about_jobs)
    for record in about_jobs:
        named = JOB_IN_MESSAGE.search(record["message"])
        assert named is not None
        assert record.get("job_id") == named.group(1), record
