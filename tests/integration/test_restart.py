"""Commands that arrive while a worker starts are all handled.

A start (or any rebalance) recovers the tables first; commands sent meanwhile wait in Kafka.
Faust's recovery used to let some of them slip past unhandled, and the partition's commit
then stuck behind them until the next restart (agents/recovery_order.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import uuid4

import psycopg

from client.export_client import ExportClient
from tests.integration.conftest import TENANT_A, stack

RESTARTS = 3
# Users enough to reach every partition of export.commands.
USERS = [str(uuid4()) for _ in range(8)]
REQUEST = {
    "name": "sent during a restart",
    "queryDefinition": {"source": "fact_orders", "columns": [{"name": "id"}]},
    "format": "CSV",
}


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
                self.client.request_export(TENANT_A, user, REQUEST, roles=("exports:read",))
            )
            time.sleep(0.025)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join()
        return self.job_ids


def outcomes(admin_db: psycopg.Connection[Any], job_ids: list[str]) -> dict[str, str]:
    rows = admin_db.execute(
        "SELECT id::text, error_code FROM export_service.export_jobs WHERE id = ANY(%s::uuid[])",
        (job_ids,),
    ).fetchall()
    return dict(rows)


def test_commands_sent_while_the_worker_restarts_are_all_answered(
    client: ExportClient, admin_db: psycopg.Connection[Any]
) -> None:
    sender = SteadySender(client)
    for _ in range(RESTARTS):
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
