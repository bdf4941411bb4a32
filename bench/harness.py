"""What the benchmarks share: the stack, the service as a contender, and timing of peers."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
import zstandard
from isal import igzip

from config.settings import Settings
from export_client.kafka_client import ExportClient

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
    "trader",
    "notes",
]
TEXT_COLUMNS = ["symbol", "side", "counterparty", "trader", "notes"]
PG_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO,YMD"


@dataclass(frozen=True)
class Timing:
    seconds: float
    peak_rss_mb: float


def stack(*args: str) -> None:
    subprocess.run([str(ROOT / "scripts/stack.sh"), *args], check=True, cwd=ROOT)


def seed_for(rows: int) -> None:
    """Make sure the benchmark's query finds `rows` rows (tenant 1 owns every third trade).
    Seeding truncates and refills, and a larger seed already serves every smaller size, so a
    stack holding enough trades is left as it is: the 27M trades a 9M-row run needs took 11
    minutes to load on the 2-core machine."""
    with psycopg.connect(Settings.from_env().admin_database_url, autocommit=True) as conn:
        row = conn.execute("SELECT max(id) FROM analytics.fact_trades").fetchone()
        if row and row[0] and row[0] >= 3 * rows:
            # The tests' own rows come and go in the same table. Until a vacuum marks their
            # pages all-visible again, the planner may leave the tenant index's index-only
            # walks for the primary key and the heap: measured, the planning of a 9M-row
            # export in 1M-row files went from about 2 s to 6.6 s.
            conn.execute("VACUUM (ANALYZE) analytics.fact_trades")
            return
    stack("seed", str(3 * rows))


def select_sql(rows: int) -> str:
    """The benchmark's query: tenant 1 owns every third id, so this is exactly `rows` rows."""
    return (
        f"SELECT {', '.join(COLUMNS)} FROM analytics.fact_trades"
        f" WHERE tenant_id = '{TENANT}' AND id <= {3 * rows} ORDER BY id"
    )


def worker_peak_rss_mb() -> float:
    pid = (ROOT / ".stack/pids/worker-1.pid").read_text().strip()
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM for the worker")


# The service's defaults for COPY streams, not the local stack's (which cuts even small
# chunks, for the tests).
DEFAULT_STREAMS = {"EXPORT_STREAMS_PER_CHUNK": "4", "EXPORT_MIN_ROWS_PER_STREAM": "200000"}


def fresh_worker(settings: Settings, streams_per_chunk: int | None = None) -> None:
    """Restart the worker, so its peak RSS belongs to what runs next alone, and wait until it
    has joined its consumer group and finished a tiny export, so start-up is not timed. It
    runs with the service's stream defaults, or `streams_per_chunk` COPY streams per chunk."""
    os.environ.update(DEFAULT_STREAMS)
    if streams_per_chunk is not None:
        os.environ["EXPORT_STREAMS_PER_CHUNK"] = str(streams_per_chunk)
    stack("restart-services")
    run_service(settings, 10, "CSV")


def trades_request(rows: int, export_format: str, **extra: Any) -> dict[str, Any]:
    """The benchmark's query as an export request: tenant 1's first `rows` trades."""
    return {
        "name": f"bench {export_format} {rows}",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": c} for c in COLUMNS],
            # Tenant 1 owns every third id: exactly `rows` rows.
            "filters": [{"column": "id", "operator": "<=", "value": 3 * rows}],
        },
        "format": export_format,
        **extra,
    }


def run_service(
    settings: Settings, rows: int, export_format: str, **extra: Any
) -> tuple[float, list[Path]]:
    """Command sent -> ExportCompleted, for `rows` rows; returns seconds and the files."""
    client = ExportClient(settings.kafka_bootstrap_servers)
    request = trades_request(rows, export_format, **extra)
    started = time.perf_counter()
    job_id = client.request_export(TENANT, USER, request)
    notice = client.wait_for_completion(job_id, timeout=3600)
    elapsed = time.perf_counter() - started
    client.close()
    if notice.status.value != "COMPLETED" or notice.total_rows != rows:
        raise RuntimeError(
            f"export ended {notice.status} with {notice.total_rows} rows: {notice.error_message}"
        )
    folder = settings.store_dir / TENANT / job_id
    return elapsed, [folder / f.name for f in notice.files]


def run_peer(command: list[str] | str, env: dict[str, str] | None = None) -> Timing:
    """Run a peer to completion; its own peak RSS comes from wait4, not from its children."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        shell=isinstance(command, str),
        env={**os.environ, "PGOPTIONS": PG_OPTIONS, **(env or {})},
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"peer failed: {command}")
    # Linux folds a process's reaped children into what wait4 reports, so for a shell
    # pipeline this is the largest stage's peak.
    return Timing(elapsed, usage.ru_maxrss / 1024)


def open_plain(path: Path) -> IO[bytes]:
    """A stored file's plain bytes: gzip and zstd files are read whole, every member or frame
    (a file read by several streams holds one per stream)."""
    if path.name.endswith(".gz"):
        return igzip.open(path, "rb")
    if path.name.endswith(".zst"):
        frames = zstandard.ZstdDecompressor().stream_reader(
            open(path, "rb"),  # noqa: SIM115 - closed with the reader (closefd)
            read_across_frames=True,
            closefd=True,
        )
        return io.BufferedReader(frames, 1 << 20)  # type: ignore[arg-type]
    return open(path, "rb")


def body_digest(paths: list[Path], skip_header: bool = True) -> str:
    """SHA-256 of the files' plain bytes in order, each file's header line left out."""
    digest = hashlib.sha256()
    for path in paths:
        with open_plain(path) as handle:
            if skip_header:
                handle.readline()
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def json_rows_digest(paths: list[Path]) -> str:
    """SHA-256 of compact JSON arrays' rows as NDJSON, to compare with psql's row_to_json:
    each file is `[`, rows joined by `,` and a newline, `]` (row_to_json writes no newline)."""
    digest = hashlib.sha256()
    for path in paths:
        with open_plain(path) as handle:
            for line in handle:
                if line in (b"[\n", b"]\n"):
                    continue
                digest.update(line[:-2] + b"\n" if line.endswith(b",\n") else line)
    return digest.hexdigest()
