"""Arrow batches through the Excel writer (cells, sheets, workbook), read back with openpyxl and
compared row by row with the source values, without a database."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from domain.catalogue import Column, ColumnType
from domain.validation import OutputColumn
from export_contract.request import ExcelOptions
from extraction.excel_cells import CELL_LIMIT, CUT_MARKER, CellPlan, column_letter, render_rows
from extraction.excel_sheets import SheetWriter
from extraction.xlsx_book import Styles, XlsxBook

T = ColumnType
COLUMNS = [
    OutputColumn(Column("id", T.BIGINT), "id"),
    OutputColumn(Column("day", T.DATE), "day"),
    OutputColumn(Column("at", T.TIMESTAMPTZ), "at"),
    OutputColumn(Column("amount", T.NUMERIC, 18, 4), "amount"),
    OutputColumn(Column("whole", T.NUMERIC, 10, 0), "whole"),
    OutputColumn(Column("note", T.TEXT), "note"),
    OutputColumn(Column("owner", T.UUID), "owner"),
]
BIG = 2**53
LONG = "é" * 40_000
# 20,000 code points, 40,000 UTF-16 units: over Excel's limit only when counted as Excel does.
EMOJI = "😀" * 20_000
MOMENT = datetime(2026, 3, 29, 0, 59, 59, 999_500, tzinfo=UTC)
ROWS: list[tuple[Any, ...]] = [
    (1, date(2026, 1, 2), MOMENT, "1.5000", "7", "plain", "0c0c0c0c-0000-4000-8000-00000000000c"),
    (
        BIG,
        date(1900, 2, 28),
        datetime(1900, 2, 28, 12, tzinfo=UTC),
        "-12345678901234.5678",
        "0",
        "",
        None,
    ),
    (BIG + 1, date(1900, 3, 1), datetime(1970, 1, 1, tzinfo=UTC), "nan", None, None, None),
    (
        -BIG - 1,
        date(1900, 1, 1),
        datetime(1900, 1, 1, 0, 0, 1, tzinfo=UTC),
        "inf",
        "-3",
        "a & b < c > d",
        None,
    ),
    (None, None, None, None, None, "new\nline\r\nand tab\t\x01 bell", None),
    (
        -5,
        date(9999, 12, 31),
        datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
        "0.0001",
        "1",
        "  spaced  ",
        None,
    ),
    (
        6,
        date(1970, 1, 1),
        datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
        "-0.0000",
        "2",
        "_x0041_ looks escaped",
        None,
    ),
    (7, date(2000, 2, 29), datetime(2000, 2, 29, tzinfo=UTC), "1e3", "3", "<r>not rich</r>", None),
    (
        8,
        date(2024, 12, 31),
        datetime(2024, 12, 31, 23, 59, 59, 1000, tzinfo=UTC),
        "2",
        "4",
        LONG,
        None,
    ),
    (9, date(2025, 6, 30), datetime(2025, 6, 30, 6, 30, tzinfo=UTC), "3", "5", EMOJI, None),
    (10, date(2025, 7, 1), datetime(2025, 7, 1, tzinfo=UTC), "4", "6", "x" * 20_000, None),
]
ARROW_TYPES = [pa.int64(), pa.date32(), pa.timestamp("us", tz="UTC"), pa.string(), pa.string(),
               pa.string(), pa.string()]  # fmt: skip


def batch(rows: list[tuple[Any, ...]]) -> list[pa.Array]:
    columns = [
        pa.array(list(values), kind)
        for values, kind in zip(zip(*rows, strict=True), ARROW_TYPES, strict=True)
    ]
    return columns


def write_book(
    path: Path, options: ExcelOptions, batches: list[list[tuple[Any, ...]]], sheet_rows: int
) -> SheetWriter:
    styles = Styles()
    book = XlsxBook(path, styles)
    sheets = SheetWriter(book, styles, options, COLUMNS, sheet_rows)
    for rows in batches:
        if options.sheet_by:
            keys = pc.fill_null(pa.array([r[5] for r in rows], pa.string()), "(empty)")
            sheets.write_by_key(batch(rows), keys)
        else:
            sheets.write(batch(rows), options.sheet_name)
    sheets.finish()
    book.close()
    return sheets


def unescape(text: Any) -> Any:
    """What Excel shows: openpyxl leaves OOXML's _xHHHH_ escapes in place."""
    if not isinstance(text, str):
        return text
    return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def expected_cells(row: tuple[Any, ...]) -> list[Any]:
    ident, day, moment, amount, whole, note, owner = row
    number = None if amount is None else float(amount)
    if number is not None and not math.isfinite(number):
        number = amount  # NaN and infinities are no Excel numbers: their text is kept
    return [
        ident if ident is None or -BIG <= ident <= BIG else str(ident),
        None if day is None else datetime.combine(day, datetime.min.time()),
        None if moment is None else moment.astimezone(UTC).replace(tzinfo=None),
        number,
        None if whole is None else float(whole),
        note,
        owner,
    ]


def assert_rows_match(got: list[tuple[Any, ...]], source: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(source)
    for cells, row in zip(got, source, strict=True):
        padded = (*cells, *[None] * (len(row) - len(cells)))  # openpyxl stops at the last cell
        for value, want in zip(padded, expected_cells(row), strict=True):
            value = unescape(value)
            if isinstance(want, datetime):
                assert abs(value - want) <= timedelta(milliseconds=1), (value, want)
            elif isinstance(want, str) and len(want) > CELL_LIMIT // 2 and want != "x" * 20_000:
                assert value.endswith(CUT_MARKER)
                assert len(value.encode("utf-16-le")) // 2 <= CELL_LIMIT
                assert want.startswith(value[: -len(CUT_MARKER)])
            elif isinstance(want, float):
                # A whole number reads back as an int, as from the xlsxwriter writer.
                assert isinstance(value, int | float) and value == want, (value, want)
            else:
                assert value == want and type(value) is type(want), (value, want)


def test_cells_read_back_as_their_source_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    sheets = write_book(path, ExcelOptions(sheet_name="Trades"), [ROWS[:4], ROWS[4:]], 1_048_576)
    rows = list(openpyxl.load_workbook(path, read_only=True)["Trades"].iter_rows(values_only=True))
    assert rows[0] == ("id", "day", "at (UTC)", "amount", "whole", "note", "owner")
    assert_rows_match(rows[1:], ROWS)
    assert sheets.cut_cells == 2  # LONG and EMOJI, not the 20,000 x


def test_cells_have_number_formats_and_the_header_is_bold_frozen_and_filtered(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.xlsx"
    write_book(path, ExcelOptions(), [ROWS], 1_048_576)
    sheet = openpyxl.load_workbook(path)["Data"]
    assert [c.number_format for c in sheet[2]] == [
        "0", "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss.000", "0.0000", "0", "General", "General"
    ]  # fmt: skip
    assert [c.data_type for c in sheet[2]] == ["n", "d", "d", "n", "n", "s", "s"]
    assert all(c.font.b for c in sheet[1]) and not sheet["A2"].font.b
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:G{len(ROWS) + 1}"
    assert sheet.dimensions == f"A1:G{len(ROWS) + 1}"


def test_rows_continue_on_numbered_sheets_each_with_its_header(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    sheets = write_book(path, ExcelOptions(), [ROWS[:3], ROWS[3:]], 5)
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["Data", "Data (2)", "Data (3)"]
    assert sheets.names.overflowed == ["Data (2)", "Data (3)"]
    got = []
    for name in book.sheetnames:
        rows = list(book[name].iter_rows(values_only=True))
        assert rows[0][0] == "id" and len(rows) <= 5
        got += rows[1:]
    assert_rows_match(got, ROWS)


def test_without_headers_rows_start_at_the_top_and_nothing_is_frozen(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    write_book(path, ExcelOptions(include_headers=False), [ROWS], 6)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Data", "Data (2)"]
    assert book["Data"].freeze_panes is None and book["Data"].auto_filter.ref is None
    got = [r for name in book.sheetnames for r in book[name].iter_rows(values_only=True)]
    assert_rows_match(got, ROWS)


def test_each_sheet_key_gets_its_sheet(tmp_path: Path) -> None:
    rows = sorted(ROWS[:8], key=lambda r: "(empty)" if r[5] is None else r[5])
    path = tmp_path / "x.xlsx"
    write_book(path, ExcelOptions(sheet_by="note"), [rows[:3], rows[3:]], 1_048_576)
    book = openpyxl.load_workbook(path, read_only=True)
    # An empty text and NULL are told apart; control characters cannot be in a sheet name.
    assert book.sheetnames == [
        "_", "  spaced  ", "(empty)", "<r>not rich<_r>", "_x0041_ looks escaped",
        "a & b < c > d", "new_line__and tab__ bell", "plain",
    ]  # fmt: skip
    got = [r for name in book.sheetnames for r in list(book[name].iter_rows(values_only=True))[1:]]
    assert_rows_match(got, rows)


def test_an_export_without_rows_has_one_sheet_with_its_header(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    write_book(path, ExcelOptions(sheet_name="Empty"), [], 1_048_576)
    sheet = openpyxl.load_workbook(path)["Empty"]
    assert [c.value for c in sheet[1]][:3] == ["id", "day", "at (UTC)"]
    assert sheet.max_row == 1 and sheet.auto_filter.ref == "A1:G2"


def test_dates_beyond_the_year_9999_are_refused() -> None:
    plan = CellPlan(ColumnType.DATE, "A")
    days = pa.array([2_147_483_000], pa.int32()).cast(pa.date32())  # 'infinity' as ADBC reads it
    with pytest.raises(ValueError, match="years 1 to 9999"):
        render_rows([days], [plan], 1)


def test_column_letters_follow_excel() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702, 16_383)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD"
    ]  # fmt: skip
