"""Puts an Excel export's rows on sheets: one per sheet key, another once a sheet is full.

Rows come as Arrow columns, a batch at a time, and leave as sheet XML (extraction.excel_cells)
written to the workbook (extraction.xlsx_book).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from domain.catalogue import ColumnType
from domain.validation import OutputColumn
from export_contract.request import ExcelOptions
from extraction.excel_cells import CellPlan, column_letter, render_rows
from extraction.xlsx_book import SheetLayout, Styles, XlsxBook

_NUMBER_FORMATS = {
    ColumnType.DATE: "yyyy-mm-dd",
    ColumnType.TIMESTAMPTZ: "yyyy-mm-dd hh:mm:ss.000",
    ColumnType.BIGINT: "0",
}


class SheetWriter:
    """Puts rows on sheets: a new sheet for each sheet key, and another once a sheet is full."""

    def __init__(
        self,
        book: XlsxBook,
        styles: Styles,
        options: ExcelOptions,
        columns: Sequence[OutputColumn],
        sheet_rows: int,
    ) -> None:
        self.book = book
        self.options = options
        self.plans = [
            CellPlan(c.column.type, column_letter(i), _style(c, styles))
            for i, c in enumerate(columns)
        ]
        self.names = SheetNames()
        self.cut_cells = 0
        self.rows_per_sheet = sheet_rows - (1 if options.include_headers else 0)
        self.layout = SheetLayout(
            len(columns), options.include_headers, options.freeze_headers, options.auto_filter
        )
        headers = [
            f"{c.output_name} (UTC)" if c.column.type is ColumnType.TIMESTAMPTZ else c.output_name
            for c in columns
        ]
        header_plans = [CellPlan(ColumnType.TEXT, p.letter, Styles.BOLD) for p in self.plans]
        self.header = bytes(render_rows([pa.array([h]) for h in headers], header_plans, 1).xml)
        self.key: str | None = None
        self.rows_in_sheet = 0

    def write_by_key(self, columns: list[pa.Array], keys: pa.Array) -> None:
        """Rows ordered by their sheet key: each run of one key goes to that key's sheet."""
        count = len(keys)
        if not count:
            return
        changed = pc.not_equal(keys.slice(1), keys.slice(0, count - 1))
        starts = [0, *(i + 1 for i in pc.indices_nonzero(changed).to_pylist())]
        for start, end in zip(starts, [*starts[1:], count], strict=True):
            self.write([c.slice(start, end - start) for c in columns], keys[start].as_py())

    def write(self, columns: Sequence[pa.Array], key: str) -> None:
        """Rows of one sheet key (the sheet name when there is no sheetBy)."""
        if self.key is None or key != self.key:
            self._new_sheet(key)
        start, count = 0, len(columns[0])
        while start < count:
            if self.rows_in_sheet == self.rows_per_sheet:
                self._new_sheet(key)  # the same name, numbered: "Data (2)"
            take = min(self.rows_per_sheet - self.rows_in_sheet, count - start)
            first = self.rows_in_sheet + 1 + (1 if self.options.include_headers else 0)
            rendered = render_rows([c.slice(start, take) for c in columns], self.plans, first)
            self.book.write_rows(rendered.xml, take)
            self.cut_cells += rendered.cut_cells
            self.rows_in_sheet += take
            start += take

    def finish(self) -> None:
        """After the last rows: an export without rows still gets a sheet with its header."""
        if self.key is None:
            self._new_sheet(self.options.sheet_name)

    def _new_sheet(self, key: str) -> None:
        self.book.start_sheet(self.names.next(key), self.layout)
        if self.options.include_headers:
            self.book.write_rows(self.header, 1)
        self.key, self.rows_in_sheet = key, 0


class SheetNames:
    """Unique, valid sheet names: forbidden characters replaced, at most 31 characters, and
    " (2)", " (3)", ... for a name that is used again (a sheet that overflowed)."""

    # Excel's forbidden characters, and control characters, which XML cannot hold.
    FORBIDDEN = str.maketrans({ch: "_" for ch in "[]:*?/\\" + "".join(map(chr, range(32)))})

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


def _style(column: OutputColumn, styles: Styles) -> int:
    if column.column.type is ColumnType.NUMERIC:
        scale = column.column.scale or 0
        return styles.number("0." + "0" * scale if scale else "0")
    code = _NUMBER_FORMATS.get(column.column.type)
    return styles.number(code) if code else 0
