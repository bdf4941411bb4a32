"""Benchmark: a CSV export end to end (command sent -> ExportCompleted) against psql's \\copy.

For each size N it exports N trades of one tenant through the running service (Kafka,
Faust worker, PostgreSQL), and in the same run times `psql \\copy` of the same query into a
local file; each contender runs twice after a warm-up and keeps its best time. It checks
that both produced the same bytes, then prints rows per second, their ratio, and the
worker's peak RSS (VmHWM, from a worker restarted for each size, so the figure belongs to
that size's exports alone).

    make bench                          # sizes 1,000,000 and 3,000,000
    .venv/bin/python bench/csv_end_to_end.py --sizes 200000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agents.settings import Settings
from client.export_client import ExportClient

ROOT = Path(__file__).resolve().parent.parent
TENANT = "11111111-1111-4111-8111-111111111111"
USER = "0d0d0d0d-0000-4000-8000-00000000be4c"
COLUMNS = [
    "id",
    "trade_date",
    "executed_at",
    "symbol",
    "side",
    "quantity",
    "price",
    "notional",
    "counterparty",
    "notes",
]
TEXT_COLUMNS = ["symbol", "side", "counterparty", "notes"]
RUNS = 2


def stack(*args: str) -> None:
    subprocess.run([str(ROOT / "scripts/stack.sh"), *args], check=True, cwd=ROOT)


def worker_peak_rss_mb() -> float:
    pid = (ROOT / ".stack/pids/worker-1.pid").read_text().strip()
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM for the worker")


def psql_copy(settings: Settings, rows: int, target: Path) -> float:
    select = (
        f"SELECT {', '.join(COLUMNS)} FROM analytics.fact_trades"
        f" WHERE tenant_id = '{TENANT}' AND id <= {3 * rows} ORDER BY id"
    )
    command = (
        f"\\copy ({select}) TO '{target}' "
        f"(FORMAT csv, HEADER true, FORCE_QUOTE ({', '.join(TEXT_COLUMNS)}))"
    )
    env = {**os.environ, "PGOPTIONS": "-c TimeZone=UTC -c DateStyle=ISO,YMD"}
    started = time.perf_counter()
    subprocess.run(
        [
            "psql",
            "-X",
            "-q",
            settings.reader_database_url,
            "-c",
            f"SET app.tenant_id = '{TENANT}'",
            "-c",
            command,
        ],
        check=True,
        env=env,
    )
    return time.perf_counter() - started


def service_export(settings: Settings, rows: int) -> tuple[float, list[Path]]:
    client = ExportClient(settings.kafka_bootstrap_servers)
    request = {
        "name": f"bench {rows}",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": c} for c in COLUMNS],
            "filters": [{"column": "id", "operator": "<=", "value": 3 * rows}],
        },
        "format": "CSV",
    }
    started = time.perf_counter()
    job_id = client.request_export(TENANT, USER, request)
    notice = client.wait_for_completion(job_id, timeout=1800)
    elapsed = time.perf_counter() - started
    client.close()
    if notice.status.value != "COMPLETED" or notice.total_rows != rows:
        raise RuntimeError(f"export ended {notice.status} with {notice.total_rows} rows")
    folder = settings.store_dir / TENANT / job_id
    return elapsed, [folder / f.name for f in notice.files]


def body_digest(paths: list[Path]) -> str:
    """SHA-256 of the rows without each file's header line, read in blocks."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            handle.readline()
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000,3000000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    settings = Settings.from_env()
    # Tenant 1 owns every third id, so 3 x the largest size gives it enough rows.
    stack("seed", str(3 * max(sizes)))
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        reference = Path(scratch) / "psql.csv"
        for rows in sizes:
            stack("restart-services")
            time.sleep(3)
            psql_copy(settings, rows, reference)  # warm the cache for both contenders
            psql_seconds = min(psql_copy(settings, rows, reference) for _ in range(RUNS))
            service_seconds = float("inf")
            same = True
            for _ in range(RUNS):
                seconds, files = service_export(settings, rows)
                service_seconds = min(service_seconds, seconds)
                same = same and body_digest(files) == body_digest([reference])
                for f in files:
                    f.unlink()
            peak = worker_peak_rss_mb()
            results.append((rows, psql_seconds, service_seconds, peak, same))

    print(
        f"\n{'rows':>10} {'psql s':>8} {'service s':>10} {'psql rows/s':>12} "
        f"{'service rows/s':>15} {'ratio':>6} {'worker peak RSS':>16} {'same bytes':>11}"
    )
    for rows, psql_s, service_s, peak, same in results:
        print(
            f"{rows:>10,} {psql_s:>8.2f} {service_s:>10.2f} {rows / psql_s:>12,.0f} "
            f"{rows / service_s:>15,.0f} {psql_s / service_s:>6.2f} {peak:>13.0f} MB "
            f"{'yes' if same else 'NO':>11}"
        )
    print("ratio = service rows/s divided by psql rows/s (target >= 0.8)")
    return 0 if all(r[4] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
