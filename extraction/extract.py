"""Extract one chunk in the export's format: the one entry point the extractor agent calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from psycopg import sql

from domain.validation import resolve
from export_contract.plan import ChunkPlan
from export_contract.request import ExportFormat, ExportRequest
from extraction import sql_builder
from extraction.block_writers import stored_name
from extraction.chunk_work import ChunkWork
from extraction.copy_extractor import (
    CompactJsonFraming,
    CsvFraming,
    Framing,
    PrettyJsonFraming,
)
from extraction.formats import chunk_file_name
from extraction.parallel_copy import extract_with_copy
from extraction.part_series import ExtractedFile
from extraction.progress import ProgressPolicy
from extraction.segments import ONE_STREAM, StreamPolicy


def extract_chunk(
    conninfo: str,
    tenant_id: str,
    request: ExportRequest,
    key_above: int | None,
    chunk: ChunkPlan,
    folder: Path,
    on_progress: Callable[[int], None],
    policy: ProgressPolicy,
    *,
    job_id: str = "",
    chunks_in_export: int = 1,
    streams: StreamPolicy = ONE_STREAM,
) -> list[ExtractedFile]:
    """Write the chunk's file (or files, when maxFileBytes splits it) into `folder`; CSV and
    JSON chunks may be read by up to `streams.per_chunk` COPY streams at once."""
    split = request.max_file_bytes is not None

    def name_for(part: int) -> Path:
        name = chunk_file_name(chunk.index, request.format, part if split else None)
        return folder / stored_name(name, request.compression)

    work = ChunkWork(
        conninfo,
        tenant_id,
        replace(resolve(request), key_above=key_above),
        chunk,
        name_for,
        on_progress,
        policy,
        request.compression,
        request.max_file_bytes,
        job_id,
        chunks_in_export,
        streams,
    )
    # Parquet and Excel writers are imported when first used: pyarrow and ADBC alone add
    # some 80 MB to a worker that may only ever write CSV.
    match request.format:
        case ExportFormat.PARQUET:
            from extraction.parquet_extractor import extract_parquet

            return extract_parquet(work, request.parquet_options())
        case ExportFormat.EXCEL:
            from extraction.excel_extractor import extract_excel

            return [extract_excel(work, request.excel_options())]
        case ExportFormat.CSV:
            return _extract_csv(work, request)
        case ExportFormat.JSON | ExportFormat.NDJSON:
            return _extract_json(work, request)


def _extract_csv(work: ChunkWork, request: ExportRequest) -> list[ExtractedFile]:
    csv = request.csv_options()
    without_header = csv.model_copy(update={"include_headers": False})

    def statement_for(segment: ChunkPlan, header: bool) -> sql.Composed:
        options = csv if header else without_header
        return sql_builder.copy_chunk_csv(work.query, work.tenant_id, segment, options)

    settings = sql_builder.request_settings(work.query, csv)
    framing = CsvFraming(csv.byte_order_mark, csv.include_headers)
    return extract_with_copy(work, statement_for, settings, framing)


def _extract_json(work: ChunkWork, request: ExportRequest) -> list[ExtractedFile]:
    options = request.json_options()
    # NDJSON is one compact object per line by definition, so `pretty` is for JSON.
    pretty = options.pretty and request.format is ExportFormat.JSON

    def statement_for(segment: ChunkPlan, header: bool) -> sql.Composed:
        return sql_builder.copy_chunk_json(
            work.query, work.tenant_id, segment, options.date_format, pretty
        )

    framing: Framing
    if request.format is ExportFormat.NDJSON:
        framing = Framing()
    else:
        framing = PrettyJsonFraming() if pretty else CompactJsonFraming()
    return extract_with_copy(work, statement_for, sql_builder.request_settings(work.query), framing)
