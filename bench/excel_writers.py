"""Benchmark: Excel writers on the same rows, each in a process of its own.

The rows are N trades of a tenant of this benchmark's own, made from the seed's functions (the
11 typed columns of bench/harness.py's query) and removed at the end. Each contender reads
them from PostgreSQL as it would in the service, writes one .xlsx file and is timed from
connect to closed file; its peak RSS comes from wait4. Ratios are rows per second over the
writer the service had before (psycopg rows, xlsxwriter's constant-memory mode, a typed
Python call per cell).

| contender | what it does |
| --- | --- |
| fetch: psycopg rows | the old writer's reading alone: a server-side cursor, rows as tuples |
| fetch: ADBC batches | the new writer's reading alone: Arrow batches of about 1 MB |
| xlsxwriter per cell (before) | the service's writer before, its loop as it was |
| xlsxwriter plain script | the loop of bench/peers/xlsxwriter_plain.py, formats_end_to_end's peer |
| rustpy-xlsxwriter | ADBC batches as one Arrow stream into rust_xlsxwriter (constant memory) |
| service: cells only (no ZIP) | the service's writer less the deflating and the file |
| service | extraction.excel_extractor.extract_excel, as the worker runs it |

rustpy-xlsxwriter (`pip install rustpy-xlsxwriter==0.8.0`) is timed at its best case: it
cannot write an empty text (rust_xlsxwriter drops it, like a NULL), a sheet without its header
row, or a column of numbers with some ids past 2**53 as text; and its whole-workbook call needs
every sheet's name before the first row. `--service` also times the worker end to end
(command sent to ExportCompleted, a worker restarted per size for its peak RSS) against the
plain xlsxwriter script.

    .venv/bin/python bench/excel_writers.py --rows 300000,1000000
    .venv/bin/python bench/excel_writers.py --rows 1000000,3000000 --service
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness import COLUMNS, run_peer, stack, worker_peak_rss_mb

from config.settings import Settings

TENANT = "66666666-6666-4666-8666-666666666666"
USER = "0e0e0e0e-0000-4000-8000-00000000be4c"
FIRST_ID = 2 * 10**12
BASELINE = "xlsxwriter per cell (before)"
# The seed's trades (sql/seed.sql), every kind of note included; % is doubled for psycopg.
INSERT = """
INSERT INTO analytics.fact_trades (id, tenant_id, trade_date, executed_at, symbol, side,
    quantity, price, notional, counterparty, trader, notes)
SELECT %(first)s + i, %(tenant)s, (b + i * interval '7 seconds')::date,
    b + i * interval '7 seconds'
        + (analytics.demo_hash(i, 1) %% 1000000) * interval '1 microsecond',
    (ARRAY['AAPL', 'MSFT', 'NESN.SW', 'SAP.DE', '7203.T', 'BRK.B', 'VOD.L', 'ASML.AS'])
        [1 + analytics.demo_hash(i, 2) %% 8],
    CASE WHEN i %% 2 = 0 THEN 'BUY' ELSE 'SELL' END,
    (1 + analytics.demo_hash(i, 3) %% 100000) / 100.0,
    (analytics.demo_hash(i, 4) %% 100000000) / 100000.0 + 0.000001,
    CASE WHEN i %% 11 = 0 THEN NULL ELSE round((1 + analytics.demo_hash(i, 3) %% 100000) / 100.0
        * ((analytics.demo_hash(i, 4) %% 100000000) / 100000.0 + 0.000001), 6) END,
    CASE WHEN i %% 5 = 0 THEN NULL ELSE 'CP-' || (analytics.demo_hash(i, 5) %% 500) END,
    'trader_' || (i %% 37), analytics.demo_note(3 * i)
FROM generate_series(1, %(rows)s) AS i, (SELECT timestamptz '2026-01-02 09:30:00+00' AS b) AS t
"""


def select_sql(rows: int) -> str:
    return (
        f"SELECT {', '.join(COLUMNS)} FROM analytics.fact_trades WHERE tenant_id = '{TENANT}'"
        f" AND id <= {FIRST_ID + rows} ORDER BY id"
    )


def psycopg_cursor(url: str, rows: int) -> Any:
    """The old writer's way in: one read-only snapshot, a server-side cursor of 5,000 rows."""
    import psycopg
    from psycopg import IsolationLevel

    conn = psycopg.connect(url)
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    conn.execute("SELECT set_config('app.tenant_id', %s, false)", [TENANT])
    conn.execute("SELECT set_config('TimeZone', 'UTC', false)")
    cursor = conn.cursor(name="bench")
    cursor.itersize = 5000
    cursor.execute(select_sql(rows))
    return cursor


def adbc_batches(url: str, rows: int) -> Iterator[Any]:
    import adbc_driver_postgresql.dbapi as adbc

    from extraction.excel_extractor import BATCH_BYTES

    with adbc.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT set_config('app.tenant_id', $1, false)", parameters=(TENANT,))
        cursor.fetchall()
        cursor.adbc_statement.set_options(
            **{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)}
        )
        cursor.execute(select_sql(rows))
        yield from cursor.fetch_record_batch()


def fetch_psycopg(url: str, rows: int, target: Path) -> None:
    for _record in psycopg_cursor(url, rows):
        pass


def fetch_adbc(url: str, rows: int, target: Path) -> None:
    for _batch in adbc_batches(url, rows):
        pass


def xlsxwriter_before(url: str, rows: int, target: Path) -> None:
    """The service's loop before: a typed writer per column, xlsxwriter's private _write_*."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        str(target),
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False},
    )
    formats = [
        book.add_format({"num_format": code})
        for code in ("0", "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss.000", "0.0000", "0.000000")
    ]
    bold = book.add_format({"bold": True})
    headers = [f"{c} (UTC)" if c == "executed_at" else c for c in COLUMNS]

    def typed_writers(sheet: Any) -> list[Callable[[int, int, Any], Any]]:
        number, string, when = sheet._write_number, sheet._write_string, sheet._write_datetime

        def text(r: int, c: int, v: str) -> Any:
            if len(v) > 16_383 and len(v.encode("utf-16-le")) // 2 > 32_767:
                return string(r, c, v[:32_761] + "…[cut]")
            return string(r, c, v)

        def bigint(r: int, c: int, v: int) -> Any:
            return number(r, c, v, formats[0]) if -(2**53) <= v <= 2**53 else string(r, c, str(v))

        def decimal(fmt: Any) -> Callable[[int, int, Any], Any]:
            return lambda r, c, v: number(r, c, float(v), fmt)

        return [
            bigint,
            lambda r, c, v: when(r, c, v, formats[1]),
            lambda r, c, v: when(r, c, v.replace(tzinfo=None), formats[2]),
            text,
            text,
            decimal(formats[3]),
            decimal(formats[4]),
            decimal(formats[4]),
            text,
            text,
            text,
        ]

    def new_sheet(count: int) -> Any:
        sheet = book.add_worksheet("Data" if count == 1 else f"Data ({count})")
        sheet.write_row(0, 0, headers, bold)
        sheet.freeze_panes(1, 0)
        return sheet

    sheets = 1
    sheet, row = new_sheet(sheets), 0
    writers = typed_writers(sheet)
    for record in psycopg_cursor(url, rows):
        if row == 1_048_575:
            sheet.autofilter(0, 0, row, len(COLUMNS) - 1)
            sheets += 1
            sheet, row = new_sheet(sheets), 0
            writers = typed_writers(sheet)
        row += 1
        for col, value in enumerate(record):
            if value is not None:
                writers[col](row, col, value)
    sheet.autofilter(0, 0, max(row, 1), len(COLUMNS) - 1)
    book.close()


def xlsxwriter_plain(url: str, rows: int, target: Path) -> None:
    """bench/peers/xlsxwriter_plain.py's loop."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(target), {"constant_memory": True})
    sheet = book.add_worksheet("Data")
    r, n = 0, 0
    for record in psycopg_cursor(url, rows):
        if r == 1_048_576:
            n += 1
            sheet = book.add_worksheet(f"Data ({n + 1})")
            r = 0
        sheet.write_row(
            r,
            0,
            [
                v.replace(tzinfo=None)
                if hasattr(v, "tzinfo")
                else float(v)
                if v.__class__.__name__ == "Decimal"
                else v
                for v in record
            ],
        )
        r += 1
    book.close()


def rustpy(url: str, rows: int, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    from rustpy_xlsxwriter import Format, write_worksheets

    names = [f"{c} (UTC)" if c == "executed_at" else c for c in COLUMNS]
    formats = {
        "id": "0",
        "trade_date": "yyyy-mm-dd",
        "executed_at (UTC)": "yyyy-mm-dd hh:mm:ss.000",
        **dict.fromkeys(["quantity", "price", "notional"], "0.00"),
    }

    def converted() -> Any:
        for batch in adbc_batches(url, rows):
            columns = []
            for array in batch.columns:
                if isinstance(array.type, pa.BaseExtensionType):  # numeric, as text
                    array = pc.cast(array.storage, pa.float64())
                elif pa.types.is_timestamp(array.type):  # its own datetimes drop milliseconds
                    micros = pc.cast(pc.cast(array, pa.int64()), pa.float64(), safe=False)
                    array = pc.add(pc.divide(micros, 86_400e6), 25_569.0)
                columns.append(array)
            yield pa.RecordBatch.from_arrays(columns, names=names)

    batches = converted()
    first = next(batches)
    write_worksheets(
        [("Data", pa.RecordBatchReader.from_batches(first.schema, _chain(first, batches)))],
        str(target),
        bold_headers=True,
        freeze_panes={"general": {"row": 1}},
        autofilter={"Data": True},
        column_formats={"Data": {k: Format().set_num_format(v) for k, v in formats.items()}},
    )


def _chain(first: Any, rest: Any) -> Any:
    yield first
    yield from rest


def service_cells(url: str, rows: int, target: Path) -> None:
    from export_contract.request import ExcelOptions
    from extraction.excel_sheets import SheetWriter
    from extraction.xlsx_book import Styles

    class NullBook:
        def start_sheet(self, *_: Any) -> None: ...

        def write_rows(self, xml: memoryview, rows: int) -> None: ...

    _request, query = _query(rows)
    book: Any = NullBook()
    sheets = SheetWriter(book, Styles(), ExcelOptions(), query.columns, 1_048_576)
    for batch in adbc_batches(url, rows):
        sheets.write(batch.columns, "Data")


def service(url: str, rows: int, target: Path) -> None:
    from export_contract.plan import plan_by_key
    from extraction.chunk_work import ChunkWork
    from extraction.excel_extractor import extract_excel
    from extraction.progress import ProgressPolicy

    request, query = _query(rows)
    chunk = plan_by_key(rows, [], FIRST_ID + rows, False, rows)[0]
    work = ChunkWork(url, TENANT, query, chunk, lambda _: target, lambda _: None, ProgressPolicy())
    extract_excel(work, request.excel_options())


def _query(rows: int) -> Any:
    from domain.validation import validate_request

    return validate_request(
        {
            "name": "bench",
            "format": "EXCEL",
            "queryDefinition": {
                "source": "fact_trades",
                "columns": [{"name": c} for c in COLUMNS],
                "filters": [{"column": "id", "operator": "<=", "value": FIRST_ID + rows}],
            },
        }
    )


CONTENDERS: dict[str, Callable[[str, int, Path], None]] = {
    "fetch: psycopg rows": fetch_psycopg,
    "fetch: ADBC batches": fetch_adbc,
    BASELINE: xlsxwriter_before,
    "xlsxwriter plain script": xlsxwriter_plain,
    "rustpy-xlsxwriter": rustpy,
    "service: cells only (no ZIP)": service_cells,
    "service": service,
}


def child(name: str, url: str, rows: int, target: Path) -> None:
    """One contender, timed from connect to closed file; prints its seconds."""
    started = time.perf_counter()
    CONTENDERS[name](url, rows, target)
    print(f"{time.perf_counter() - started:.3f}", flush=True)


def run_contender(name: str, rows: int, target: Path) -> tuple[float, float] | None:
    """Seconds and peak RSS (MB) of one run in a fresh process; None if it cannot run."""
    command = [sys.executable, __file__, "--child", name, "--rows", str(rows), "--out", str(target)]
    read, write = os.pipe()
    process = subprocess.Popen(command, stdout=write, stderr=subprocess.PIPE)
    os.close(write)
    with os.fdopen(read) as out:
        seconds = out.read().strip()
    _pid, status, usage = os.wait4(process.pid, 0)
    error = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        if "No module named 'rustpy_xlsxwriter'" in error:
            return None
        raise RuntimeError(f"{name} failed:\n{error}")
    return float(seconds), usage.ru_maxrss / 1024


def make_rows(settings: Settings, rows: int) -> None:
    import psycopg

    with psycopg.connect(settings.admin_database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM analytics.fact_trades WHERE tenant_id = %s", [TENANT])
        conn.execute(INSERT, {"first": FIRST_ID, "tenant": TENANT, "rows": rows})
        conn.execute("VACUUM ANALYZE analytics.fact_trades")


def remove_rows(settings: Settings) -> None:
    import psycopg

    with psycopg.connect(settings.admin_database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM analytics.fact_trades WHERE tenant_id = %s", [TENANT])


def service_end_to_end(settings: Settings, rows: int) -> tuple[float, float]:
    """Command sent -> ExportCompleted through Kafka and a worker restarted for this size."""
    from export_client.kafka_client import ExportClient

    stack("restart-services")
    client = ExportClient(settings.kafka_bootstrap_servers)
    timings = []
    for count in (10, rows):  # the first waits for the worker to join its group
        request = {
            "name": f"bench excel {count}",
            "queryDefinition": {
                "source": "fact_trades",
                "columns": [{"name": c} for c in COLUMNS],
                "filters": [{"column": "id", "operator": "<=", "value": FIRST_ID + count}],
            },
            "format": "EXCEL",
        }
        started = time.perf_counter()
        notice = client.wait_for_completion(client.request_export(TENANT, USER, request), 3600)
        timings.append(time.perf_counter() - started)
        if notice.status.value != "COMPLETED" or notice.total_rows != count:
            raise RuntimeError(f"export ended {notice.status}: {notice.error_message}")
        folder = settings.store_dir / TENANT / notice.job_id
        for f in notice.files:
            (folder / f.name).unlink()
    client.close()
    return timings[-1], worker_peak_rss_mb()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", default="300000,1000000")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--runs", type=int, default=1, help="best of this many runs")
    parser.add_argument("--service", action="store_true", help="also the worker end to end")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = Settings.from_env()
    sizes = [int(n) for n in args.rows.split(",")]
    if args.child:
        child(args.child, settings.reader_database_url, sizes[0], Path(args.out))
        return 0
    make_rows(settings, max(sizes))
    table: list[tuple[str, int, float, float, int]] = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for rows in sizes:
                for name in args.contenders.split(","):
                    target = Path(scratch) / "out.xlsx"
                    runs = [run_contender(name, rows, target) for _ in range(args.runs)]
                    best = min((r for r in runs if r), default=None)
                    if best is None:
                        print(f"{name}: skipped (not installed)", file=sys.stderr)
                        continue
                    size = target.stat().st_size if target.exists() else 0
                    table.append((name, rows, *best, size))
                    target.unlink(missing_ok=True)
                if args.service:
                    seconds, peak = service_end_to_end(settings, rows)
                    table.append(("service end to end (worker)", rows, seconds, peak, 0))
                    peer = run_peer(
                        [
                            sys.executable,
                            __file__,
                            "--child",
                            "xlsxwriter plain script",
                            "--rows",
                            str(rows),
                            "--out",
                            f"{scratch}/peer.xlsx",
                        ]
                    )
                    table.append(
                        ("xlsxwriter plain script (peer)", rows, peer.seconds, peer.peak_rss_mb, 0)
                    )
    finally:
        remove_rows(settings)
    print(
        f"\n{'contender':<31} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'ratio':>6} "
        f"{'peak RSS':>8} {'file':>8}"
    )
    for name, rows, seconds, peak, size in table:
        base = next((s for n, r, s, _, _ in table if n == BASELINE and r == rows), None)
        ratio = f"{base / seconds:6.2f}" if base else "     -"
        file = f"{size / 1e6:5.1f} MB" if size else "       -"
        print(
            f"{name:<31} {rows:>9,} {seconds:>8.2f} {rows / seconds:>9,.0f} {ratio} "
            f"{peak:>5.0f} MB {file}"
        )
    print(
        f"ratio = rows/s over {BASELINE!r}'s; peak RSS of the contender's process "
        "(of the worker, end to end)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
