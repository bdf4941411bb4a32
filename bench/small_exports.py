"""How quickly a small export completes: command on Kafka to its completion notice.

Sends EXPORTS exports of 1,000 CSV rows one after another (each waits for the last) and
prints p50, p95 and max, then where the time goes, from each job's own events in the read
model (their `occurred_at`, stamped by the job agent): command to ExportRequested (the
command agent's planning and one hop), to ExportStarted (the job agent's hop and the task's),
to ChunkExtracted (extraction and the hop back), to ExportCompleted, and to the notice.
Needs the local stack (`make services`); `.venv/bin/python bench/small_exports.py [EXPORTS]`.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from config.settings import Settings
from export_client.kafka_client import ExportClient

TENANT = "11111111-1111-4111-8111-111111111111"
REQUEST = {
    "name": "small export",
    "queryDefinition": {
        "source": "fact_trades",
        "columns": [{"name": "id"}, {"name": "executed_at"}, {"name": "symbol"}, {"name": "price"}],
        # Tenant 1 owns every third id: 1,000 rows.
        "filters": [{"column": "id", "operator": "<=", "value": 3_000}],
    },
    "format": "CSV",
}
STAGES = ["ExportRequested", "ExportStarted", "ChunkExtracted", "ExportCompleted"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(share * len(ordered)) - 1)]


def event_times(settings: Settings, job_id: str) -> dict[str, datetime]:
    with psycopg.connect(settings.admin_database_url) as conn:
        for _ in range(50):  # the projection follows the notice within moments
            rows = conn.execute(
                "SELECT event_type, occurred_at"
                " FROM export_service.job_events WHERE job_id = %s ORDER BY sequence",
                [job_id],
            ).fetchall()
            found = {kind: at for kind, at in rows if kind in STAGES}
            if len(found) == len(STAGES):
                return found
            time.sleep(0.1)
    raise RuntimeError(f"job {job_id}: events missing from the read model")


def main() -> None:
    exports = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    settings = Settings.from_env()
    client = ExportClient(settings.kafka_bootstrap_servers)
    user = str(uuid.uuid4())
    totals: list[float] = []
    stages: dict[str, list[float]] = {name: [] for name in [*STAGES, "notice"]}
    for _ in range(exports):
        sent = datetime.now(UTC)
        started = time.perf_counter()
        job_id = client.request_export(TENANT, user, REQUEST)
        notice = client.wait_for_completion(job_id, timeout=60)
        totals.append(time.perf_counter() - started)
        assert notice.status.value == "COMPLETED" and notice.total_rows == 1_000, notice
        received = sent + timedelta(seconds=totals[-1])
        times = event_times(settings, job_id)
        previous = sent
        for name in STAGES:
            stages[name].append((times[name] - previous).total_seconds())
            previous = times[name]
        stages["notice"].append((received - previous).total_seconds())
    client.close()
    print(
        f"{exports} exports of 1,000 CSV rows, command to notice:"
        f" p50 {1000 * statistics.median(totals):.0f} ms,"
        f" p95 {1000 * percentile(totals, 0.95):.0f} ms, max {1000 * max(totals):.0f} ms"
    )
    print("where the time goes (p50 / p95 ms, each from the step before):")
    for name, values in stages.items():
        print(
            f"  to {name:<16} {1000 * statistics.median(values):6.0f}"
            f" {1000 * percentile(values, 0.95):6.0f}"
        )


if __name__ == "__main__":
    main()
