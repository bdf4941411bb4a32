"""The read model is a fold of the log: rebuilding it from export.events gives the same rows."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg

from config.settings import Settings
from export_client.kafka_client import ExportClient
from projections.rebuild import rebuild
from tests.integration.conftest import TENANT_A, USER_A, AdminDatabase

SNAPSHOT = """
SELECT id, status, processed_rows, total_rows, progress_percent, file_count, file_size_bytes,
       error_code, error_message, last_sequence, job_state,
       (SELECT array_agg(sha256 ORDER BY chunk_index) FROM export_service.export_files f
         WHERE f.job_id = j.id) AS checksums
FROM export_service.export_jobs j ORDER BY id
"""

# Jobs asked for in the last half hour and not yet at rest (older ones on a long-lived dev
# stack may have been left behind by earlier versions of the service).
IN_FLIGHT = """
SELECT id, status, delivery_status FROM export_service.export_jobs
WHERE requested_at > now() - interval '30 minutes'
  AND (status IN ('PENDING', 'QUEUED', 'PROCESSING') OR delivery_status = 'PENDING')
"""


def snapshot(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(SNAPSHOT).fetchall()


async def test_rebuilding_the_read_model_from_the_log_gives_the_same_rows(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase
) -> None:
    job_id = client.request_export(
        TENANT_A,
        USER_A,
        {
            "name": "before the rebuild",
            "queryDefinition": {
                "source": "fact_orders",
                "columns": [{"name": "id"}],
                "filters": [{"column": "id", "operator": "<", "value": 3000}],
            },
            "format": "CSV",
            "maxRowsPerFile": 400,
        },
    )
    assert client.wait_for_completion(job_id, timeout=60).status.value == "COMPLETED"
    # Earlier tests' jobs may still be running or retrying a delivery (hostile requests name
    # SFTP hosts that do not exist), and the notice can come before the projection has
    # written every event: wait until nothing is in flight and the read model stands still.
    deadline = time.monotonic() + 180
    while (busy := admin_db.execute(IN_FLIGHT).fetchall()) and time.monotonic() < deadline:
        await asyncio.sleep(1)
    assert not busy, f"jobs still in flight: {busy}"
    before = snapshot(admin_db)
    for _ in range(50):
        await asyncio.sleep(0.3)
        again = snapshot(admin_db)
        if again == before:
            break
        before = again
    assert any(str(r[0]) == job_id and r[1] == "COMPLETED" for r in before)

    applied = await rebuild(settings)

    assert applied >= len(before)
    assert snapshot(admin_db) == before
