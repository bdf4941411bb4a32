"""A worker that has started handles what it is sent: restarts of every kind, each followed by
exactly one small export and nothing after it, and commands that arrive during a restart.

A start (or any rebalance) recovers the tables first; commands sent meanwhile wait in Kafka.
Faust's recovery used to let some of them slip past unhandled (the recovery-order patch), and
a worker once started, logged "Worker ready" and then handled nothing on one partition, with
no later message to show that anything was missing (the stall guard). Slow: marked `slow`;
`make test` runs it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from config.settings import Settings
from export_client.kafka_client import CompletionTimeout, ExportClient
from tests.integration.conftest import (
    LOGS,
    PIDS,
    SMALL_ORDERS,
    SMALL_ORDERS_WHERE,
    TENANT_A,
    AdminDatabase,
    body_without_headers,
    psql_csv,
    stack,
    wait_until_ready,
)
from tests.processes import alive, read_pid

pytestmark = pytest.mark.slow

# What ran before the stop, how the worker stopped, and how many workers there were.
BEFORE = ("nothing", "an export running", "deliveries retrying", "a burst of commands")
STOPS = (signal.SIGTERM, signal.SIGKILL)
# Each round stops every (before, stop) pair once, half of them with one worker and half with
# two, so that each stop and each "before" meets both worker counts: 8 cycles in `make test`,
# which must stay under 20 minutes. The next round swaps the worker counts, so
# EXPORT_RESTART_ROUNDS=2 runs all 16 combinations, and more repeat them for a longer hunt.
ROUNDS = int(os.environ.get("EXPORT_RESTART_ROUNDS", "1"))
PAIRS = [
    (1 + (s + b + r) % 2, r, stop, before)
    for r in range(ROUNDS)
    for s, stop in enumerate(STOPS)
    for b, before in enumerate(BEFORE)
]
# Grouped by worker count, so that the workers are scaled once per round, not per cycle.
CYCLES = [
    (before, stop, workers, i % 3)
    for i, (workers, _round, stop, before) in enumerate(sorted(PAIRS, key=lambda p: (p[1], p[0])))
]
COMPLETE_WITHIN = 30.0
LARGE = {
    "name": "running while a worker stops",
    "queryDefinition": {"source": "fact_trades", "columns": [{"name": "id"}, {"name": "notes"}]},
    "format": "CSV",
    "maxRowsPerFile": 50_000,
}
REFUSED = {
    "name": "refused at once",
    "queryDefinition": {"source": "fact_orders", "columns": [{"name": "id"}]},
    "format": "CSV",
}


def retrying_delivery() -> dict[str, Any]:
    """Delivered over SFTP to a port where nothing listens: every attempt fails and retries."""
    return {
        **SMALL_ORDERS,
        "name": "delivery retrying",
        "delivery": {
            "method": "SFTP",
            "sftp": {
                "host": "127.0.0.1",
                "port": int(os.environ["STACK_SFTP_SPARE_PORT"]),
                "username": "acme",
                "path": "retrying",
                "secret": "default",
            },
        },
    }


@dataclass
class Cycle:
    number: int
    before: str
    stop: str
    workers: int
    seconds: float | None = None
    guard_lines: int = 0
    error: str = ""


def pid_of(name: str) -> int | None:
    return read_pid(PIDS / f"{name}.pid")


def health_port(worker: int) -> int:
    return int(os.environ.get("EXPORT_WORKER_HTTP_PORT", "18081")) + worker - 1


def wait_ready(workers: int, timeout: float = 90) -> None:
    urls = [f"http://127.0.0.1:{health_port(w)}/readyz" for w in range(1, workers + 1)]
    wait_until_ready(urls, timeout)


def set_workers(count: int) -> None:
    if count == 2:
        if not alive(pid_of("worker-2.supervisor")):
            stack("services", env={"EXPORT_WORKERS": "2"})
        return
    supervisor = pid_of("worker-2.supervisor")
    if alive(supervisor):
        assert supervisor is not None
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.1)


def stop_and_wait_for_restart(victims: list[int], stop: signal.Signals) -> None:
    old = {worker: pid_of(f"worker-{worker}") for worker in victims}
    for pid in old.values():
        assert pid is not None and alive(pid)
        os.kill(pid, stop)
    deadline = time.monotonic() + 60
    for worker, pid in old.items():
        while not ((new := pid_of(f"worker-{worker}")) not in (None, pid) and alive(new)):
            assert time.monotonic() < deadline, f"worker-{worker} was not restarted"
            time.sleep(0.05)


def log_sizes() -> dict[Path, int]:
    return {log: log.stat().st_size for log in LOGS.glob("worker-*.log")}


def guard_lines_since(sizes: dict[Path, int]) -> int:
    """How many stalls the workers' guards found since `sizes` were taken."""
    found = 0
    for log in LOGS.glob("worker-*.log"):
        with log.open("rb") as handle:
            handle.seek(sizes.get(log, 0))
            for line in handle.read().decode(errors="replace").splitlines():
                try:
                    message = json.loads(line).get("message", "")
                except (ValueError, AttributeError):
                    continue
                found += "owed to the agent" in message
    return found


def run_cycle(
    cycle: Cycle, client: ExportClient, settings: Settings, user: str, which: int, expected: bytes
) -> None:
    """Prepare what runs before, stop the worker(s), send one small export, see it through."""
    set_workers(cycle.workers)
    wait_ready(cycle.workers)
    if cycle.before == "an export running":
        client.request_export(TENANT_A, user, LARGE)
        time.sleep(1.5)
    elif cycle.before == "deliveries retrying":
        client.request_export(TENANT_A, user, retrying_delivery())
        time.sleep(3)
    elif cycle.before == "a burst of commands":
        for _ in range(40):
            client.request_export(TENANT_A, str(uuid4()), REFUSED, roles=("exports:read",))
    victims = [1] if cycle.workers == 1 else [[1], [2], [1, 2]][which]
    sizes = log_sizes()
    stop_and_wait_for_restart(victims, signal.Signals[cycle.stop])
    sent = time.monotonic()
    job_id = client.request_export(TENANT_A, user, SMALL_ORDERS)
    try:
        notice = client.wait_for_completion(job_id, timeout=COMPLETE_WITHIN)
    except CompletionTimeout:
        cycle.error = f"job {job_id} not complete within {COMPLETE_WITHIN:.0f} s"
    else:
        cycle.seconds = time.monotonic() - sent
        paths = [settings.store_dir / TENANT_A / job_id / f.name for f in notice.files]
        if notice.status.value != "COMPLETED" or body_without_headers(paths) != expected:
            cycle.error = f"job {job_id} {notice.status.value}: rows differ from the source"
    cycle.guard_lines = guard_lines_since(sizes)


@pytest.fixture
def restored_stack() -> Iterator[None]:
    yield
    stack("restart-services")


def test_every_start_handles_the_one_export_sent_after_it(
    client: ExportClient,
    settings: Settings,
    restored_stack: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected = psql_csv(
        settings, f"SELECT id FROM analytics.fact_orders WHERE {SMALL_ORDERS_WHERE} ORDER BY id", []
    )
    user = str(uuid4())
    results: list[Cycle] = []
    try:
        for number, (before, stop, workers, which) in enumerate(CYCLES, start=1):
            cycle = Cycle(number, before, stop.name, workers)
            results.append(cycle)
            run_cycle(cycle, client, settings, user, which, expected)
    finally:
        with capsys.disabled():
            print(f"\n{len(results)} restart cycles:")
            for c in results:
                outcome = c.error or f"completed in {c.seconds:.1f} s"
                guard = f", guard acted {c.guard_lines}x" if c.guard_lines else ""
                what = f"{c.workers} worker(s), {c.before}, {c.stop}"
                print(f"  {c.number:2d}. {what}: {outcome}{guard}")
            guarded = sum(1 for c in results if c.guard_lines)
            print(f"cycles that needed the guard: {guarded} of {len(results)}")
    failed = [c for c in results if c.error]
    assert not failed, "; ".join(f"cycle {c.number}: {c.error}" for c in failed)


# Users enough to reach every partition of export.commands.
USERS = [str(uuid4()) for _ in range(8)]


class SteadySender:
    """Sends a command every 25 ms from a thread: without the create role, so each is rejected
    at once and costs the worker no query."""

    def __init__(self, client: ExportClient) -> None:
        self.client = client
        self.job_ids: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            user = USERS[len(self.job_ids) % len(USERS)]
            self.job_ids.append(
                self.client.request_export(TENANT_A, user, REFUSED, roles=("exports:read",))
            )
            time.sleep(0.025)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join()
        return self.job_ids


def outcomes(admin_db: AdminDatabase, job_ids: list[str]) -> dict[str, str]:
    rows = admin_db.execute(
        "SELECT id::text, error_code FROM export_service.export_jobs WHERE id = ANY(%s::uuid[])",
        (job_ids,),
    ).fetchall()
    return dict(rows)


def test_commands_sent_while_the_worker_restarts_are_all_answered(
    client: ExportClient, admin_db: AdminDatabase
) -> None:
    sender = SteadySender(client)
    for _ in range(3):
        stack("restart-services")
        time.sleep(2)
    job_ids = sender.stop()

    deadline = time.monotonic() + 90
    while len(answered := outcomes(admin_db, job_ids)) < len(job_ids):
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    missing = [job_id for job_id in job_ids if job_id not in answered]
    assert not missing, f"{len(missing)} of {len(job_ids)} commands never handled: {missing[:5]}"
    assert set(answered.values()) == {"FORBIDDEN"}
