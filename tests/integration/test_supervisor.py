"""A worker killed with SIGKILL is started again by its supervisor (stack/supervise.py), which
says so in the worker's log and writes the new worker's pid; exports then complete with every
row. Slow (the new worker has to rejoin its groups): marked `slow`; `make test` runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from export_client.kafka_client import ExportClient
from tests.integration.conftest import (
    LOGS,
    PIDS,
    SMALL_ORDERS,
    SMALL_ORDERS_WHERE,
    TENANT_A,
    USER_A,
    AdminDatabase,
    body_without_headers,
    psql_csv,
)
from tests.processes import alive, cmdline, read_pid

# The delay is 1 s unless worker-1 also exited less than 20 s after its start (then it doubles).
RESTARTING = re.compile(r"worker-1 was killed by SIGKILL; restarting in \d+ s")

pytestmark = pytest.mark.slow


def supervisor_lines(log: Path, offset: int) -> list[dict[str, Any]]:
    """The supervisor's JSON lines written to `log` after `offset`."""
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    lines = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a worker line in another format, or one cut by the SIGKILL
        if isinstance(record, dict) and record.get("logger") == "supervisor":
            lines.append(record)
    return lines


def test_a_worker_killed_with_sigkill_is_restarted_and_exports_complete(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase
) -> None:
    supervisor = read_pid(PIDS / "worker-1.supervisor.pid")
    assert supervisor is not None and alive(supervisor), (
        "worker-1 has no supervisor: scripts/stack.sh restart-services starts it under one"
    )
    victim = read_pid(PIDS / "worker-1.pid")
    assert victim is not None and alive(victim)
    assert "agents worker" in cmdline(victim), "the pid file names the worker itself"
    assert "supervise.py" not in cmdline(victim)
    log = LOGS / "worker-1.log"
    offset = log.stat().st_size

    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        new = read_pid(PIDS / "worker-1.pid")
        if new not in (None, victim) and alive(new) and "agents worker" in cmdline(new):
            break
        assert time.monotonic() < deadline, "no new worker-1 within 60 s"
        time.sleep(0.1)
    assert not alive(victim)
    assert read_pid(PIDS / "worker-1.supervisor.pid") == supervisor and alive(supervisor)

    lines = supervisor_lines(log, offset)
    messages = [line["message"] for line in lines]
    restarting = [m for m in messages if RESTARTING.fullmatch(m)]
    assert len(restarting) == 1, messages
    assert f"worker-1 started (pid {new})" in messages, messages
    warning = next(line for line in lines if line["message"] == restarting[0])
    assert warning["level"] == "WARNING"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", warning["time"])

    job_id = client.request_export(TENANT_A, USER_A, SMALL_ORDERS)
    notice = client.wait_for_completion(job_id, timeout=180)
    assert notice.status.value == "COMPLETED", notice.error_message
    expected = psql_csv(
        settings,
        f"SELECT id FROM analytics.fact_orders WHERE {SMALL_ORDERS_WHERE} ORDER BY id",
        [],
    )
    row = admin_db.execute(
        f"SELECT count(*) FROM analytics.fact_orders WHERE {SMALL_ORDERS_WHERE}"
    ).fetchone()
    count = row[0] if row else 0
    assert count > 0, "the seed gives tenant A orders below id 100"
    paths = [settings.store_dir / TENANT_A / job_id / f.name for f in notice.files]
    assert all(path.read_bytes().startswith(b"id\n") for path in paths)
    assert body_without_headers(paths) == expected
    assert notice.total_rows == count
