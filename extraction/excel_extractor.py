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

import pyarrow.compute as pc

from domain.catalogue import ColumnType
from export_contract.request import ExcelOptions
from extraction import sql_builder
from extraction.chunk_work import ChunkWork
from extraction.excel_cells import CELL_LIMIT, CUT_MARKER
from extraction.excel_sheets import SheetNames, SheetWriter
from extraction.part_series import ExtractedFile, PartSeries
from extraction.store import hash_file
from extraction.tenant_session import arrow_session
from extraction.xlsx_book import Styles, XlsxBook

__all__ = ["CELL_LIMIT", "CUT_MARKER", "SHEET_ROWS", "SheetNames", "extract_excel"]

SHEET_ROWS = 1_048_576
# ADBC's batches: some 7,000 rows of the benchmark's 11 columns, whose XML is 4.5 MB. Four
# times larger batches are no faster and raise the peak by 80 MB.
BATCH_BYTES = 1 << 20
EMPTY_KEY = "(empty)"
# UUIDs are text cells; numerics come as text, which ADBC would otherwise make on this thread.
_AS_TEXT = sql_builder.as_text(ColumnType.UUID, ColumnType.NUMERIC)


class _WorkbookFile(PartSeries):
    """The chunk's one .xlsx file: its size is known only once its zip is closed, so rows
    alone limit it (sheets past 1,048,576 rows, never a second file)."""

    def __init__(self, name_for: Callable[[int], Path], styles: Styles) -> None:
        self.styles = styles
        super().__init__(name_for)

    def _open_writer(self) -> None:
        self.book = XlsxBook(self.partial, self.styles)

    def _close_writer(self) -> tuple[int, str]:
        self.book.close()
        digest, size = hash_file(self.partial)
        return size, digest

    def _drop_writer(self) -> None:
        self.book.abandon()


def extract_excel(
    work: ChunkWork, options: ExcelOptions, sheet_rows: int = SHEET_ROWS
) -> ExtractedFile:
    query = work.query
    styles = Styles()
    progress = work.reporter()
    by_value = query.sheet_by is not None
    statement = sql_builder.select_chunk(
        query, work.tenant_id, work.chunk, render=_AS_TEXT, with_sheet_key=by_value
    )
    settings = sql_builder.request_settings(query)
    workbook = _WorkbookFile(work.name_for, styles)
    try:
        sheets = SheetWriter(workbook.book, styles, options, query.columns, sheet_rows)
        with arrow_session(work.conninfo, work.tenant_id, settings, BATCH_BYTES) as cursor:
            cursor.execute(statement.as_string(None))
            for batch in cursor.fetch_record_batch():
                columns = batch.columns
                if by_value:
                    sheets.write_by_key(columns[:-1], pc.fill_null(columns[-1], EMPTY_KEY))
                else:
                    sheets.write(columns, options.sheet_name)
                workbook.rows += batch.num_rows
                progress.update(workbook.rows)
        sheets.finish()
        workbook.finish(_notes(workbook.target.name, sheets))
    except BaseException:
        workbook.abandon()
        raise
    return workbook.done[0]


def _notes(file_name: str, sheets: SheetWriter) -> tuple[str, ...]:
    """What the reader of the manifest should know about how the rows were laid out."""
    notes = []
    if sheets.names.overflowed:
        notes.append(
            f"{file_name}: rows continue on further sheets ({sheets.rows_per_sheet:,} rows"
            f" each at most): {', '.join(sheets.names.overflowed)}"
        )
    if sheets.cut_cells:
        notes.append(
            f"{file_name}: {sheets.cut_cells} text cells longer than {CELL_LIMIT:,} "
            f"characters were cut and end with {CUT_MARKER!r}"
        )
    return tuple(notes)
