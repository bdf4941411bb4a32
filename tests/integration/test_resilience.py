"""Crashes mid-export on the real stack: a worker killed with SIGKILL while two workers share
the load, and the broker stopped for 15 seconds. Each export must still hold every source row
exactly once. Slow (tens of seconds each): marked `slow`; `make test` runs them."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest

from config.settings import Settings
from export_client.kafka_client import CompletionTimeout, ExportClient
from export_contract.models import ExportCompletionNotice
from tests.integration.conftest import (
    BIG_ROWS,
    BIG_TENANT,
    LOGS,
    PIDS,
    api_client,
    psql_csv,
    stack,
)
from tests.integration.test_health import metric, worker_url

# A new user each session: these exports count 3M rows each against a user's daily quota.
USER = str(uuid4())
COLUMNS = ["id", "executed_at", "quantity", "price", "notional", "notes"]
ROWS_PER_CHUNK = 250_000

pytestmark = pytest.mark.slow


def request() -> dict[str, Any]:
    return {
        "name": "resilience",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": c} for c in COLUMNS],
            "orderBy": [{"column": "id"}],
        },
        "format": "CSV",
        "maxRowsPerFile": ROWS_PER_CHUNK,
        "formatOptions": {"csv": {"includeHeaders": False}},
    }


def source_digest(settings: Settings) -> str:
    data = psql_csv(
        settings,
        f"SELECT {', '.join(COLUMNS)} FROM analytics.fact_trades"
        f" WHERE tenant_id = '{BIG_TENANT}' ORDER BY id",
        force_quote=["notes"],
    )
    return hashlib.sha256(data).hexdigest()


def export_digest(settings: Settings, job_id: str, names: list[str]) -> str:
    digest = hashlib.sha256()
    for name in names:
        with open(settings.store_dir / BIG_TENANT / job_id / name, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


class ProgressWatch:
    """Polls the job through the API and keeps every processedRows seen."""

    def __init__(self, settings: Settings, job_id: str) -> None:
        self.seen: list[int] = []
        self._api = api_client(settings, BIG_TENANT, USER)
        self._job_id = job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = self._api.get(f"/v1/exports/{self._job_id}")
                if response.status_code == 200:
                    self.seen.append(response.json()["processedRows"])
            except Exception:  # the API may be briefly unable to answer: keep watching
                pass
            time.sleep(0.1)

    def wait_for_rows(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not (self.seen and self.seen[-1] > 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.seen and self.seen[-1] > 0, "the export never started"

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join()
        return self.seen


@pytest.fixture
def two_workers() -> Iterator[None]:
    stack("services", env={"EXPORT_WORKERS": "2"})
    # Both members in the group, partitions assigned: give the rebalance its time.
    time.sleep(15)
    yield
    stack("restart-services")


def completion(client: ExportClient, job_id: str, timeout: float) -> ExportCompletionNotice:
    """The job's completion notice; if none comes, the failure carries every live worker's
    consumer state and stacks (agents/diagnostics.py), for a stall that logs no error."""
    try:
        return client.wait_for_completion(job_id, timeout=timeout)
    except CompletionTimeout:
        sizes = {log: log.stat().st_size for log in LOGS.glob("worker-*.log")}
        # worker-N.pid names the worker itself; worker-N.supervisor.pid its supervisor.
        for pid_file in PIDS.glob("worker-[0-9].pid"):
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGUSR1)
        time.sleep(3)
        dumps = "\n".join(
            f"--- {log.name}\n{log.read_bytes()[size:].decode(errors='replace')}"
            for log, size in sizes.items()
        )
        pytest.fail(f"job {job_id} did not end within {timeout} s; worker state:\n{dumps}")


def chunk_lines(job_id: str) -> int:
    """How many chunk extractions of the job the workers logged (redone ones included)."""
    return sum(
        log.read_text(errors="replace").count(f"job {job_id} chunk ")
        for log in LOGS.glob("worker-*.log")
    )


def test_a_worker_killed_mid_export_loses_no_row_and_redoes_little(
    client: ExportClient, settings: Settings, big_tenant: None, two_workers: None
) -> None:
    expected = source_digest(settings)
    job_id = client.request_export(BIG_TENANT, USER, request())
    watch = ProgressWatch(settings, job_id)
    watch.wait_for_rows(60)
    victim = int((PIDS / "worker-1.pid").read_text())
    os.kill(victim, signal.SIGKILL)
    notice = completion(client, job_id, timeout=240)
    seen = watch.stop()

    assert notice.status.value == "COMPLETED", notice.error_message
    assert notice.total_rows == 3_000_000
    assert export_digest(settings, job_id, [f.name for f in notice.files]) == expected
    assert seen == sorted(seen), "progress never goes backwards"
    chunks = len(notice.files)
    # Each of the dead worker's two task consumers held at most one uncommitted task: only
    # those are redone (agents/task_consumers.py).
    assert chunks <= chunk_lines(job_id) <= chunks + 2


def test_a_worker_killed_while_streams_share_one_file_still_gives_every_row_once(
    client: ExportClient, settings: Settings, big_tenant: None
) -> None:
    """3M rows into one file, read by three COPY streams at once (two of them spooling): the
    worker dies with SIGKILL mid-file, its supervisor starts it again, and the chunk it held
    is redone whole."""
    expected = source_digest(settings)
    body = request()
    body["maxRowsPerFile"] = BIG_ROWS
    job_id = client.request_export(BIG_TENANT, USER, body)
    watch = ProgressWatch(settings, job_id)
    watch.wait_for_rows(60)
    victim = int((PIDS / "worker-1.pid").read_text())
    os.kill(victim, signal.SIGKILL)
    assert watch.seen[-1] < BIG_ROWS, "the file was finished before the worker was killed"
    notice = completion(client, job_id, timeout=240)
    seen = watch.stop()

    assert notice.status.value == "COMPLETED", notice.error_message
    assert [f.rows for f in notice.files] == [BIG_ROWS] == [notice.total_rows]
    assert export_digest(settings, job_id, [f.name for f in notice.files]) == expected
    assert seen == sorted(seen), "progress never goes backwards"
    assert int((PIDS / "worker-1.pid").read_text()) != victim, "the supervisor started it again"
    streams = metric(worker_url("/metrics"), "export_copy_streams_total")
    assert streams is not None and streams >= 3, "the redone chunk was read by three streams"


def test_the_broker_stopped_for_15_seconds_mid_export(
    client: ExportClient, settings: Settings, big_tenant: None
) -> None:
    expected = source_digest(settings)
    job_id = client.request_export(BIG_TENANT, USER, request())
    watch = ProgressWatch(settings, job_id)
    watch.wait_for_rows(60)
    stack("stop-kafka")
    try:
        time.sleep(15)
    finally:
        stack("start-kafka")
    notice = completion(client, job_id, timeout=300)
    seen = watch.stop()
    assert notice.status.value == "COMPLETED", notice.error_message
    assert export_digest(settings, job_id, [f.name for f in notice.files]) == expected
    assert seen == sorted(seen), "progress never goes backwards"
