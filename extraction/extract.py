"""Extract one chunk in the export's format: the one entry point the extractor agent calls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from domain.plan import ChunkPlan
from domain.request import ExportFormat, ExportRequest
from domain.validation import resolve
from extraction import sql_builder
from extraction.block_writers import stored_name
from extraction.copy_extractor import (
    CompactJsonFraming,
    CsvFraming,
    ExtractedFile,
    Framing,
    PrettyJsonFraming,
    extract_with_copy,
)
from extraction.formats import chunk_file_name
from extraction.progress import ProgressPolicy


def extract_chunk(
    conninfo: str,
    tenant_id: str,
    request: ExportRequest,
    chunk: ChunkPlan,
    folder: Path,
    on_progress: Callable[[int], None],
    policy: ProgressPolicy,
) -> list[ExtractedFile]:
    """Write the chunk's file (or files, when maxFileBytes splits it) into `folder`."""
    query = resolve(request)
    split = request.max_file_bytes is not None

    def name_for(part: int) -> Path:
        name = chunk_file_name(chunk.index, request.format, part if split else None)
        return folder / stored_name(name, request.compression)

    target = name_for(1)
    # Parquet and Excel writers are imported when first used: pyarrow and ADBC alone add
    # some 80 MB to a worker that may only ever write CSV.
    match request.format:
        case ExportFormat.PARQUET:
            from extraction.parquet_extractor import extract_parquet

            return extract_parquet(
                conninfo,
                tenant_id,
                query,
                chunk,
                request.parquet_options(),
                name_for,
                on_progress,
                policy,
                request.max_file_bytes,
            )
        case ExportFormat.EXCEL:
            from extraction.excel_extractor import extract_excel

            # An xlsx file's size is only known once its zip is closed: rows alone limit it.
            return [
                extract_excel(
                    conninfo,
                    tenant_id,
                    query,
                    chunk,
                    request.excel_options(),
                    target,
                    on_progress,
                    policy,
                )
            ]
        case ExportFormat.CSV:
            csv = request.csv_options()
            statement = sql_builder.copy_chunk_csv(query, tenant_id, chunk, csv)
            settings = sql_builder.request_settings(query, csv)
            framing: Framing = CsvFraming(csv.byte_order_mark, csv.include_headers)
        case ExportFormat.JSON | ExportFormat.NDJSON:
            opts = request.json_options()
            # NDJSON is one compact object per line by definition, so `pretty` is for JSON.
            pretty = opts.pretty and request.format is ExportFormat.JSON
            statement = sql_builder.copy_chunk_json(
                query, tenant_id, chunk, opts.date_format, pretty
            )
            settings = sql_builder.request_settings(query)
            if request.format is ExportFormat.NDJSON:
                framing = Framing()
            else:
                framing = PrettyJsonFraming() if pretty else CompactJsonFraming()
    return extract_with_copy(
        conninfo,
        tenant_id,
        statement,
        settings,
        framing,
        chunk.row_count,
        name_for,
        on_progress,
        policy,
        request.compression,
        request.max_file_bytes,
    )
