"""File naming and media types per export format."""

from __future__ import annotations

from export_contract.request import ExportFormat

EXTENSIONS = {
    ExportFormat.CSV: "csv",
    ExportFormat.JSON: "json",
    ExportFormat.NDJSON: "ndjson",
    ExportFormat.PARQUET: "parquet",
    ExportFormat.EXCEL: "xlsx",
}
MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gz": "application/gzip",
    "zst": "application/zstd",
}


def chunk_file_name(index: int, export_format: ExportFormat, part: int | None = None) -> str:
    """Deterministic, so a redone chunk overwrites its own files. With a size limit every
    file has a part number (`part-00001-001.csv`), so names sort in export order."""
    stem = f"part-{index:05d}" if part is None else f"part-{index:05d}-{part:03d}"
    return f"{stem}.{EXTENSIONS[export_format]}"


def media_type(file_name: str) -> str:
    return MEDIA_TYPES.get(file_name.rsplit(".", 1)[-1], "application/octet-stream")
