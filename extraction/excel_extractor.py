"""Streams one chunk into an .xlsx file: ADBC's Arrow batches become sheet XML through
Arrow's compute kernels (extraction.excel_cells), deflated as they come
(extraction.xlsx_book). Python handles batches, not cells.

Cells are real numbers and dates with number formats, not text. Excel has no time zones,
so timestamps are written as UTC and their header says so. A sheet holds 1,048,576 rows
including the header; past that the rows continue on "<sheet> (2)", "<sheet> (3)", ... of
the same file, and the notes say so. Text longer than Excel's 32,767-character cell limit
is cut with a marker, also noted. Rows come in batches of about a megabyte, so memory stays
flat.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc
import pyarrow.compute as pc
from psycopg import sql

from domain.catalogue import ColumnType
from domain.plan import ChunkPlan
from domain.request import ExcelOptions
from domain.validation import OutputColumn, ResolvedQuery
from extraction import sql_builder
from extraction.copy_extractor import ExtractedFile
from extraction.excel_cells import CELL_LIMIT, CUT_MARKER
from extraction.excel_sheets import SheetNames, SheetWriter
from extraction.progress import ProgressPolicy, ProgressReporter
from extraction.store import hash_file, partial_path, publish
from extraction.tenant_session import SESSION_SETTINGS_POSITIONAL, session_parameters
from extraction.xlsx_book import Styles, XlsxBook

__all__ = ["CELL_LIMIT", "CUT_MARKER", "SHEET_ROWS", "SheetNames", "extract_excel"]

SHEET_ROWS = 1_048_576
# ADBC's batches: some 7,000 rows of the benchmark's 11 columns, whose XML is 4.5 MB. Four
# times larger batches are no faster and raise the peak by 80 MB.
BATCH_BYTES = 1 << 20
EMPTY_KEY = "(empty)"


def extract_excel(
    conninfo: str,
    tenant_id: str,
    query: ResolvedQuery,
    chunk: ChunkPlan,
    options: ExcelOptions,
    target: Path,
    on_progress: Callable[[int], None],
    policy: ProgressPolicy,
    sheet_rows: int = SHEET_ROWS,
) -> ExtractedFile:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    styles = Styles()
    progress = ProgressReporter(on_progress, policy, chunk.row_count)
    by_value = query.sheet_by is not None
    statement = sql_builder.select_chunk(
        query, tenant_id, chunk, render=_render, with_sheet_key=by_value
    )
    book = XlsxBook(partial, styles)
    rows = 0
    try:
        sheets = SheetWriter(book, styles, options, query.columns, sheet_rows)
        with adbc.connect(conninfo) as conn, conn.cursor() as cursor:
            # One snapshot, and read only: nothing an export runs may write.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            session = session_parameters(tenant_id, sql_builder.request_settings(query))
            cursor.execute(
                SESSION_SETTINGS_POSITIONAL, parameters=(session["tenant"], session["request"])
            )
            cursor.fetchall()
            cursor.adbc_statement.set_options(
                **{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)}
            )
            cursor.execute(statement.as_string(None))
            for batch in cursor.fetch_record_batch():
                columns = batch.columns
                if by_value:
                    sheets.write_by_key(columns[:-1], pc.fill_null(columns[-1], EMPTY_KEY))
                else:
                    sheets.write(columns, options.sheet_name)
                rows += batch.num_rows
                progress.update(rows)
            conn.rollback()
        sheets.finish()
        book.close()
    except BaseException:
        book.abandon()
        partial.unlink(missing_ok=True)
        raise
    notes = []
    if sheets.names.overflowed:
        notes.append(
            f"{target.name}: rows continue on further sheets ({sheets.rows_per_sheet:,} rows"
            f" each at most): {', '.join(sheets.names.overflowed)}"
        )
    if sheets.cut_cells:
        notes.append(
            f"{target.name}: {sheets.cut_cells} text cells longer than {CELL_LIMIT:,} "
            f"characters were cut and end with {CUT_MARKER!r}"
        )
    digest, size = hash_file(partial)
    publish(partial, target)
    return ExtractedFile(target, rows, size, digest, tuple(notes))


def _render(column: OutputColumn) -> sql.Composable:
    """UUIDs are read as text (they are text cells); every other column as it is."""
    name = sql.Identifier(column.column.name)
    if column.column.type is ColumnType.UUID:
        return sql.SQL("{}::text").format(name)
    return name
