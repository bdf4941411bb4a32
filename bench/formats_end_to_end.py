"""Benchmark: every format end to end (command sent -> ExportCompleted) against its peers.

For each size, on the same query (N trades of one tenant, 11 columns), in one run:

| service export | peer it is compared with |
| --- | --- |
| CSV | `psql \\copy` CSV to a file |
| CSV, GZIP | `psql \\copy` piped through `gzip -1` |
| CSV, ZSTD | `psql \\copy` piped through `zstd -3` |
| NDJSON, JSON | `psql \\copy` of row_to_json rows; ADBC batches into polars' write_ndjson |
| PARQUET (snappy) | ADBC batches streamed into ParquetWriter; connectorx into one Arrow table |
| EXCEL | a plain xlsxwriter constant-memory script |
| (CSV again) | pandas read_sql in chunks to CSV, what many users write |

Every contender keeps its best of two runs (Excel and its peer: one run). The worker is
restarted before each format, so its peak RSS (VmHWM) is that format's; a peer's peak RSS
comes from wait4. Ratios are rows per second of the service divided by the
peer's (above 1: the service is faster). Run by `make bench`, with the bench venv (pandas,
polars for the peers).

    .venv-bench/bin/python bench/formats_end_to_end.py --sizes 1000000,3000000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from harness import (
    TEXT_COLUMNS,
    Timing,
    body_digest,
    fresh_worker,
    json_rows_digest,
    run_peer,
    run_service,
    seed_for,
    select_sql,
    worker_peak_rss_mb,
)

from config.settings import Settings

PEERS = Path(__file__).resolve().parent / "peers"


def psql_copy(settings: Settings, select: str, target: str, options: str) -> str:
    url = settings.reader_database_url
    tenant = "SET app.tenant_id = '11111111-1111-4111-8111-111111111111'"
    return f'psql -X -q \'{url}\' -c "{tenant}" -c "\\copy ({select}) TO {target} ({options})"'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000,3000000")
    parser.add_argument("--formats", default="CSV,CSV+GZIP,CSV+ZSTD,NDJSON,JSON,PARQUET,EXCEL")
    parser.add_argument("--peer-runs", type=int, default=2, help="best of this many runs")
    parser.add_argument(
        "--excel-max",
        type=int,
        default=1_000_000,
        help="largest size Excel is timed at (it runs at some 15,000 rows/s)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    formats = args.formats.split(",")
    settings = Settings.from_env()
    seed_for(max(sizes))
    python = sys.executable
    table: list[tuple[str, int, float, float, str, Timing]] = []
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        for rows in sizes:
            select = select_sql(rows)
            csv_options = f"FORMAT csv, HEADER true, FORCE_QUOTE ({', '.join(TEXT_COLUMNS)})"
            json_select = f"SELECT row_to_json(r) FROM ({select}) AS r"
            json_options = "FORMAT csv, QUOTE E'\\\\x01', DELIMITER E'\\\\x02'"
            peers = {
                "psql CSV": psql_copy(settings, select, f"'{out}/p.csv'", csv_options),
                "psql CSV | gzip -1": psql_copy(settings, select, "STDOUT", csv_options)
                + f" | gzip -1 > {out}/p.csv.gz",
                "psql CSV | zstd -3": psql_copy(settings, select, "STDOUT", csv_options)
                + f" | zstd -q -3 > {out}/p.csv.zst",
                "psql row_to_json": psql_copy(
                    settings, json_select, f"'{out}/p.ndjson'", json_options
                ),
                "ADBC -> polars NDJSON": [
                    python,
                    str(PEERS / "adbc_polars_ndjson.py"),
                    str(rows),
                    f"{out}/polars.ndjson",
                ],
                "ADBC -> ParquetWriter": [
                    python,
                    str(PEERS / "adbc_parquet.py"),
                    str(rows),
                    f"{out}/p.parquet",
                ],
                "connectorx -> Parquet": [
                    python,
                    str(PEERS / "connectorx_parquet.py"),
                    str(rows),
                    f"{out}/cx.parquet",
                ],
                "xlsxwriter script": [
                    python,
                    str(PEERS / "xlsxwriter_plain.py"),
                    str(rows),
                    f"{out}/p.xlsx",
                ],
                "pandas read_sql -> CSV": [
                    python,
                    str(PEERS / "pandas_csv.py"),
                    str(rows),
                    f"{out}/pandas.csv",
                ],
            }
            formats_now = [f for f in formats if f != "EXCEL" or rows <= args.excel_max]
            compared = {
                "CSV": ["psql CSV", "pandas read_sql -> CSV"],
                "CSV+GZIP": ["psql CSV | gzip -1"],
                "CSV+ZSTD": ["psql CSV | zstd -3"],
                "NDJSON": ["psql row_to_json", "ADBC -> polars NDJSON"],
                "JSON": ["psql row_to_json", "ADBC -> polars NDJSON"],
                "PARQUET": ["ADBC -> ParquetWriter", "connectorx -> Parquet"],
                "EXCEL": ["xlsxwriter script"],
            }
            timings: dict[str, Timing] = {}
            run_peer(peers["psql CSV"])  # warm the caches for every contender
            for name in sorted({p for f in formats_now for p in compared[f]}):
                runs = 1 if name == "xlsxwriter script" else args.peer_runs
                timings[name] = min(
                    (run_peer(peers[name]) for _ in range(runs)), key=lambda t: t.seconds
                )
            for fmt in formats_now:
                export_format, _, compression = fmt.partition("+")
                fresh_worker(settings)
                seconds = float("inf")
                files: list[Path] = []
                for _ in range(1 if fmt == "EXCEL" else args.peer_runs):
                    for f in files:
                        f.unlink()
                    took, files = run_service(
                        settings, rows, export_format, compression=compression or "NONE"
                    )
                    seconds = min(seconds, took)
                peak = worker_peak_rss_mb()
                if fmt.startswith("CSV"):
                    assert body_digest(files) == body_digest([out / "p.csv"]), f"{fmt} differs"
                if fmt in ("NDJSON", "JSON"):
                    digest = (
                        body_digest(files, skip_header=False)
                        if fmt == "NDJSON"
                        else json_rows_digest(files)
                    )
                    assert digest == body_digest([out / "p.ndjson"], skip_header=False), (
                        f"{fmt} differs"
                    )
                for f in files:
                    f.unlink()
                for name in compared[fmt]:
                    table.append((fmt, rows, seconds, peak, name, timings[name]))

    print(
        f"\n{'export':<9} {'rows':>10} {'service s':>9} {'rows/s':>9} {'worker RSS':>10}  "
        f"{'peer':<23} {'peer s':>7} {'peer RSS':>8} {'ratio':>6}"
    )
    for fmt, rows, seconds, peak, name, peer in table:
        print(
            f"{fmt:<9} {rows:>10,} {seconds:>9.2f} {rows / seconds:>9,.0f} {peak:>7.0f} MB  "
            f"{name:<23} {peer.seconds:>7.2f} {peer.peak_rss_mb:>5.0f} MB "
            f"{peer.seconds / seconds:>6.2f}"
        )
    print("ratio = service rows/s / peer rows/s (= peer seconds / service seconds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
