"""The read model is a fold of the log: rebuilding it from export.events gives the same rows."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from agents.settings import Settings
from client.export_client import ExportClient
from projections.rebuild import rebuild
from tests.integration.conftest import TENANT_A, USER_A

SNAPSHOT = """
SELECT id, status, processed_rows, total_rows, progress_percent, file_count, file_size_bytes,
       error_code, error_message, last_sequence, job_state,
       (SELECT array_agg(sha256 ORDER BY chunk_index) FROM export_service.export_files f
         WHERE f.job_id = j.id) AS checksums
FROM export_service.export_jobs j ORDER BY id
"""


def snapshot(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(SNAPSHOT).fetchall()


async def test_rebuilding_the_read_model_from_the_log_gives_the_same_rows(
    client: ExportClient, settings: Settings, admin_db: psycopg.Connection[Any]
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
    # The notice can come before the projection has written every event (of this job or of
    # earlier tests' jobs): wait until the read model stands still.
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
