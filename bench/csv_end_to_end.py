"""Benchmark: a CSV export end to end (command sent -> ExportCompleted) against psql's \\copy.

For each size N it exports N trades of one tenant through the running service (Kafka,
Faust worker, PostgreSQL), and in the same run times `psql \\copy` of the same query into a
local file; each contender runs twice after a warm-up and keeps its best time. It checks
that both produced the same bytes, then prints rows per second, their ratio, and the
worker's peak RSS (VmHWM, from a worker restarted for each size, so the figure belongs to
that size's exports alone). Each size runs as one file and, above 1M rows, as files of 1M
rows, with each number of COPY streams per chunk given in --streams.

    make bench                          # this and bench/formats_end_to_end.py
    .venv-bench/bin/python bench/csv_end_to_end.py --sizes 200000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from harness import (
    TEXT_COLUMNS,
    body_digest,
    fresh_worker,
    run_peer,
    run_service,
    seed_for,
    select_sql,
    worker_peak_rss_mb,
)

from config.settings import Settings

RUNS = 2
ROWS_PER_FILE = 1_000_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000,3000000")
    parser.add_argument(
        "--streams", default="2,4", help="COPY streams per chunk to try (EXPORT_STREAMS_PER_CHUNK)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    stream_counts = [int(s) for s in args.streams.split(",")]
    settings = Settings.from_env()
    seed_for(max(sizes))
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        reference = Path(scratch) / "psql.csv"
        for rows in sizes:
            options = f"FORMAT csv, HEADER true, FORCE_QUOTE ({', '.join(TEXT_COLUMNS)})"
            psql = (
                f"psql -X -q '{settings.reader_database_url}'"
                " -c \"SET app.tenant_id = '11111111-1111-4111-8111-111111111111'\""
                f" -c \"\\copy ({select_sql(rows)}) TO '{reference}' ({options})\""
            )
            run_peer(psql)  # warm the cache for both contenders
            psql_seconds = min(run_peer(psql).seconds for _ in range(RUNS))
            expected = body_digest([reference])
            layouts = [("one file", rows)]
            if rows > ROWS_PER_FILE:
                layouts.append(("1M per file", ROWS_PER_FILE))
            for layout, per_file in layouts:
                for streams in stream_counts:
                    fresh_worker(settings, streams)
                    seconds, same = service_runs(settings, rows, per_file, expected)
                    peak = worker_peak_rss_mb()
                    results.append((rows, layout, streams, psql_seconds, seconds, peak, same))

    print(
        f"\n{'rows':>10} {'files':>12} {'streams':>8} {'psql s':>8} {'service s':>10} "
        f"{'psql rows/s':>12} {'service rows/s':>15} {'ratio':>6} {'worker peak RSS':>16} "
        f"{'same bytes':>11}"
    )
    for rows, layout, streams, psql_s, service_s, peak, same in results:
        print(
            f"{rows:>10,} {layout:>12} {streams:>8} {psql_s:>8.2f} {service_s:>10.2f} "
            f"{rows / psql_s:>12,.0f} {rows / service_s:>15,.0f} {psql_s / service_s:>6.2f} "
            f"{peak:>13.0f} MB {'yes' if same else 'NO':>11}"
        )
    print("ratio = service rows/s divided by psql rows/s (targets: 1.0 at 1M rows, 1.3 at 3M)")
    return 0 if all(r[-1] for r in results) else 1


def service_runs(settings: Settings, rows: int, per_file: int, expected: str) -> tuple[float, bool]:
    """The best of RUNS exports, and whether every one held psql's bytes."""
    best = float("inf")
    same = True
    for _ in range(RUNS):
        seconds, files = run_service(settings, rows, "CSV", maxRowsPerFile=per_file)
        best = min(best, seconds)
        same = same and body_digest(files) == expected
        for f in files:
            f.unlink()
    return best, same


if __name__ == "__main__":
    sys.exit(main())
