"""An export's size and duration before it runs: pure arithmetic on a measured sample.

The sample is the export's first rows rendered by PostgreSQL exactly as the export would
render them (CSV or JSON text), and compressed as the export would compress them; the rest
is scaling. Excel and Parquet are binary and compress inside, so their size is the CSV
text's size times a ratio measured on the seeded fact tables (see docs/architecture.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from export_contract.request import ExportFormat, ExportRequest

# Bytes of the format per byte of the same rows as CSV, measured on the seeded tables.
BINARY_RATIO = {ExportFormat.PARQUET: 0.32, ExportFormat.EXCEL: 0.67}
# Rows per second when the service has not yet measured its own (no finished export of the
# format in the last week), from this machine kind's bench.
DEFAULT_RATES = {
    ExportFormat.CSV: 300_000.0,
    ExportFormat.NDJSON: 250_000.0,
    ExportFormat.JSON: 250_000.0,
    ExportFormat.PARQUET: 250_000.0,
    ExportFormat.EXCEL: 6_000.0,
}
# Planning, the Kafka hops and recording the files: what a small export takes end to end.
FIXED_SECONDS = 0.5
# A JSON array file adds "[\n" and "\n]\n"; each row but the first adds ",".
JSON_FRAME_BYTES = 4


@dataclass(frozen=True)
class Sample:
    """What was measured: the rows (counted or planned), and the first rows rendered."""

    rows: int
    rows_exact: bool
    sample_rows: int
    # The sample's rows as text, without any header, and after the export's compression.
    sample_bytes: int
    sample_stored_bytes: int
    header_bytes: int


def estimate(
    request: ExportRequest,
    sample: Sample,
    rows_per_file: int,
    rows_per_second: float | None,
    quota_problems: list[dict[str, str]],
) -> dict[str, Any]:
    rows = sample.rows
    per_row = sample.sample_stored_bytes / sample.sample_rows if sample.sample_rows else 0.0
    data_bytes = rows * per_row * BINARY_RATIO.get(request.format, 1.0)
    if request.format is ExportFormat.JSON:
        data_bytes += rows  # the comma after each row
    chunks = max(1, math.ceil(rows / rows_per_file))
    files = chunks
    per_file = sample.header_bytes + (
        JSON_FRAME_BYTES if request.format is ExportFormat.JSON else 0
    )
    if request.max_file_bytes:
        files = max(chunks, math.ceil(data_bytes / request.max_file_bytes))
    total_bytes = round(data_bytes + files * per_file)
    rate = rows_per_second or DEFAULT_RATES[request.format]
    return {
        "rows": rows,
        "rowsExact": sample.rows_exact,
        "bytes": total_bytes,
        "files": files,
        "chunks": chunks,
        "seconds": round(FIXED_SECONDS + rows / rate, 1),
        "fitsQuota": not quota_problems,
        "quotaProblems": quota_problems,
    }
