"""Streams one chunk into an .xlsx file with xlsxwriter's constant-memory mode.

Cells are real numbers and dates with number formats, not text. Excel has no time zones,
so timestamps are written as UTC and their header says so. A sheet holds 1,048,576 rows
including the header; past that the rows continue on "<sheet> (2)", "<sheet> (3)", ... of
the same file, and the notes say so. Text longer than Excel's 32,767-character cell limit
is cut with a marker, also noted. Rows come from a server-side cursor in batches, so
memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import xlsxwriter
from psycopg import IsolationLevel
from xlsxwriter.worksheet import Worksheet

from domain.catalogue import ColumnType
from domain.plan import ChunkPlan
from domain.request import ExcelOptions
from domain.validation import ResolvedQuery
from extraction import sql_builder
from extraction.copy_extractor import ExtractedFile
from extraction.progress import ProgressPolicy, ProgressReporter
from extraction.store import hash_file, partial_path, publish
from extraction.tenant_session import SESSION_SETTINGS, session_parameters

SHEET_ROWS = 1_048_576
CELL_LIMIT = 32_767
CUT_MARKER = "…[cut]"
FETCH_ROWS = 5_000


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
    workbook = xlsxwriter.Workbook(
        str(partial),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    formats = {
        ColumnType.DATE: workbook.add_format({"num_format": "yyyy-mm-dd"}),
        ColumnType.TIMESTAMPTZ: workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss.000"}),
        ColumnType.BIGINT: workbook.add_format({"num_format": "0"}),
    }
    numeric_formats = {
        scale: workbook.add_format({"num_format": "0." + "0" * scale if scale else "0"})
        for scale in {c.column.scale or 0 for c in query.columns}
    }
    header_format = workbook.add_format({"bold": True})
    headers = [
        f"{c.output_name} (UTC)" if c.column.type is ColumnType.TIMESTAMPTZ else c.output_name
        for c in query.columns
    ]
    kinds = [c.column.type for c in query.columns]
    cell_formats = [
        numeric_formats[c.column.scale or 0]
        if c.column.type is ColumnType.NUMERIC
        else formats.get(c.column.type)
        for c in query.columns
    ]
    data_rows_per_sheet = sheet_rows - (1 if options.include_headers else 0)
    cut_cells = 0
    sheet: Worksheet | None = None
    row_in_sheet = 0
    rows = 0
    progress = ProgressReporter(on_progress, policy, chunk.row_count)

    names = SheetNames()
    writers: list[CellWriter] = []
    first_data_row = 1 if options.include_headers else 0

    def new_sheet(base: str) -> Worksheet:
        nonlocal writers
        ws = workbook.add_worksheet(names.next(base))
        writers = column_writers(ws, kinds, cell_formats)
        if options.include_headers:
            ws.write_row(0, 0, headers, header_format)
            if options.freeze_headers:
                ws.freeze_panes(1, 0)
        return ws

    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            conn.execute(
                SESSION_SETTINGS,
                session_parameters(tenant_id, sql_builder.request_settings(query)),
            )
            with conn.cursor(name="excel_export") as cursor:
                cursor.itersize = FETCH_ROWS
                by_value = query.sheet_by is not None
                cursor.execute(
                    sql_builder.select_chunk(query, tenant_id, chunk, with_sheet_key=by_value)
                )
                sheet_value: str | None = None
                for record in cursor:
                    if by_value:
                        value = record[-1] if record[-1] is not None else "(empty)"
                        record = record[:-1]
                        if sheet is None or value != sheet_value:
                            _finish_sheet(sheet, options, row_in_sheet, len(headers))
                            sheet, sheet_value, row_in_sheet = new_sheet(value), value, 0
                    elif sheet is None:
                        sheet = new_sheet(options.sheet_name)
                    if row_in_sheet == data_rows_per_sheet:
                        _finish_sheet(sheet, options, row_in_sheet, len(headers))
                        sheet = new_sheet(sheet_value or options.sheet_name)
                        row_in_sheet = 0
                    excel_row = row_in_sheet + first_data_row
                    for col, value in enumerate(record):
                        if value is not None:
                            cut_cells += writers[col](excel_row, col, value)
                    row_in_sheet += 1
                    rows += 1
                    if rows % 10_000 == 0:
                        progress.update(rows)
    if sheet is None:
        sheet = new_sheet(options.sheet_name)  # an empty export still has its header row
    _finish_sheet(sheet, options, row_in_sheet, len(headers))
    workbook.close()
    notes = []
    if names.overflowed:
        notes.append(
            f"{target.name}: rows continue on further sheets ({data_rows_per_sheet:,} rows"
            f" each at most): {', '.join(names.overflowed)}"
        )
    if cut_cells:
        notes.append(
            f"{target.name}: {cut_cells} text cells longer than {CELL_LIMIT:,} "
            f"characters were cut and end with {CUT_MARKER!r}"
        )
    digest, size = hash_file(partial)
    publish(partial, target)
    return ExtractedFile(target, rows, size, digest, tuple(notes))


class SheetNames:
    """Unique, valid sheet names: forbidden characters replaced, at most 31 characters, and
    " (2)", " (3)", ... for a name that is used again (a sheet that overflowed)."""

    FORBIDDEN = str.maketrans({ch: "_" for ch in "[]:*?/\\"})

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.overflowed: list[str] = []

    def next(self, base: str) -> str:
        clean = base.translate(self.FORBIDDEN).strip("'")[:31] or "_"
        name, n = clean, 1
        while name.lower() in self.used:
            n += 1
            suffix = f" ({n})"
            name = clean[: 31 - len(suffix)] + suffix
        if n > 1:
            self.overflowed.append(name)
        self.used.add(name.lower())
        return name


CellWriter = Callable[[int, int, Any], int]


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str) -> str:
    """Text cut to Excel's limit (counted in UTF-16 units, as Excel does), with the marker."""
    keep = CELL_LIMIT - len(CUT_MARKER)
    while _utf16_units(text[:keep]) > CELL_LIMIT - len(CUT_MARKER):
        keep -= 1
    return text[:keep] + CUT_MARKER


def column_writers(
    sheet: Worksheet, kinds: list[ColumnType], formats: list[Any]
) -> list[CellWriter]:
    """One typed writer per column, each returning 1 when it had to cut text.

    They call xlsxwriter's undecorated `_write_*` methods, as its own `write_row` does: the
    public ones parse "A1" notation on every call, a quarter of the time on a big sheet.
    """
    number, string, moment = sheet._write_number, sheet._write_string, sheet._write_datetime

    def writer(kind: ColumnType, fmt: Any) -> CellWriter:
        match kind:
            case ColumnType.TEXT:

                def text(row: int, col: int, value: str) -> int:
                    if len(value) > CELL_LIMIT // 2 and _utf16_units(value) > CELL_LIMIT:
                        string(row, col, _cut(value))
                        return 1
                    return string(row, col, value)

                return text
            case ColumnType.NUMERIC:
                # Excel stores doubles: past 15 significant digits a number rounds, as in any xlsx.
                return lambda row, col, value: number(row, col, float(value), fmt)
            case ColumnType.BIGINT:
                # A double cannot hold an id past 2**53: text keeps every digit.
                return lambda row, col, value: (
                    number(row, col, value, fmt)
                    if -(2**53) <= value <= 2**53
                    else string(row, col, str(value))
                )
            case ColumnType.TIMESTAMPTZ:
                return lambda row, col, value: moment(row, col, value.replace(tzinfo=None), fmt)
            case ColumnType.DATE:
                return lambda row, col, value: moment(row, col, value, fmt)
        return lambda row, col, value: string(row, col, str(value))

    return [writer(kind, fmt) for kind, fmt in zip(kinds, formats, strict=True)]


def _finish_sheet(sheet: Worksheet | None, options: ExcelOptions, rows: int, width: int) -> None:
    if sheet is not None and options.auto_filter and options.include_headers:
        sheet.autofilter(0, 0, max(rows, 1), width - 1)
