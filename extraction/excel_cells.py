"""Arrow columns to the rows of an xlsx sheet's XML, a batch at a time.

Each cell's XML is assembled by Arrow's compute kernels, column by column, and a batch's rows
are joined into one buffer: Python handles batches, not cells. The cells are the ones the
xlsxwriter writer made: numbers and dates as number cells with a format (dates as Excel
serial days, timestamps in UTC), text as inline strings escaped as Excel does, and a NULL as
no cell at all, while an empty text stays an empty text cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from domain.catalogue import ColumnType

CELL_LIMIT = 32_767
CUT_MARKER = "…[cut]"
# A double holds every integer up to 2**53; past it an id is written as text.
EXACT_INTEGER = 2**53
_DAY_US = 86_400_000_000
# Excel counts days from 1899-12-31 (serial 1 is 1900-01-01) and, as Lotus 1-2-3 did, takes
# 1900 for a leap year: from serial 60 on, every date is one day later than the count.
_EPOCH_DAYS = 25_568  # 1970-01-01 less 1899-12-31
_LEAP_BUG = 59
# The dates Python and Excel agree on (0001-01-01 to 9999-12-31), in days from 1970-01-01;
# beyond them (BC dates, 'infinity') the export fails, as it did with psycopg's dates.
_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896
_CONTROL = "[\\x00-\\x08\\x0b-\\x1f\\x{FFFE}\\x{FFFF}]"
_ESCAPE_LIKE = "_x[0-9a-fA-F]{4}_"


@dataclass(frozen=True)
class CellPlan:
    """How one column's values become cells: its kind, its column letter and its style."""

    kind: ColumnType
    letter: str
    style: int = 0


@dataclass(frozen=True)
class RenderedRows:
    """A batch's rows as XML (a view of Arrow's buffer) and how many texts were cut."""

    xml: memoryview
    cut_cells: int


def column_letter(index: int) -> str:
    """Excel's name of the 0-based column `index`: A, ..., Z, AA, ..."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def render_rows(
    columns: Sequence[pa.Array], plans: Sequence[CellPlan], first_row: int
) -> RenderedRows:
    """The XML of rows `first_row`, `first_row` + 1, ... (1-based) holding `columns`."""
    count = len(columns[0])
    numbers = pc.cast(pa.array(range(first_row, first_row + count), pa.int64()), pa.string())
    cells: list[pa.Array] = []
    cut = 0
    for values, plan in zip(columns, plans, strict=True):
        cell, cut_here = _column_cells(values, plan, numbers)
        cells.append(pc.fill_null(cell, ""))
        cut += cut_here
    rows = pc.binary_join_element_wise('<row r="', numbers, '">', *cells, "</row>", "")
    offsets = memoryview(rows.buffers()[1]).cast("i")
    start, end = offsets[rows.offset], offsets[rows.offset + count]
    return RenderedRows(memoryview(rows.buffers()[2])[start:end], cut)


def _column_cells(values: pa.Array, plan: CellPlan, numbers: pa.Array) -> tuple[pa.Array, int]:
    match plan.kind:
        case ColumnType.BIGINT:
            digits = pc.cast(values, pa.string())
            cells = _number_cells(digits, plan, numbers)
            inexact = pc.or_(pc.greater(values, EXACT_INTEGER), pc.less(values, -EXACT_INTEGER))
            if pc.any(inexact).as_py():
                cells = pc.if_else(inexact, _text_cells(digits, plan.letter, 0, numbers), cells)
            return cells, 0
        case ColumnType.NUMERIC:
            # Excel stores doubles: past 15 significant digits a number rounds, as in any xlsx.
            number = pc.cast(values, pa.float64())
            cells = _number_cells(pc.cast(number, pa.string()), plan, numbers)
            odd = pc.invert(pc.is_finite(number))
            if pc.any(odd).as_py():  # NaN and infinities are no Excel numbers: kept as text
                cells = pc.if_else(odd, _text_cells(values, plan.letter, 0, numbers), cells)
            return cells, 0
        case ColumnType.DATE:
            return _number_cells(_date_serials(values), plan, numbers), 0
        case ColumnType.TIMESTAMPTZ:
            return _number_cells(_timestamp_serials(values), plan, numbers), 0
    texts, cut = cut_long_texts(pc.cast(values, pa.string()))
    return _text_cells(texts, plan.letter, plan.style, numbers), cut


def _number_cells(text: pa.Array, plan: CellPlan, numbers: pa.Array) -> pa.Array:
    style = f' s="{plan.style}"' if plan.style else ""
    return pc.binary_join_element_wise(
        f'<c r="{plan.letter}', numbers, f'"{style}><v>', text, "</v></c>", ""
    )


def _text_cells(text: pa.Array, letter: str, style: int, numbers: pa.Array) -> pa.Array:
    escaped = escape_texts(text)
    styled = f' s="{style}"' if style else ""
    plain = f'"{styled} t="inlineStr"><is><t>'
    preserve = f'"{styled} t="inlineStr"><is><t xml:space="preserve">'
    # Without xml:space="preserve", XML readers drop a text's leading and trailing spaces.
    spaced = pc.match_substring_regex(escaped, r"^\s|\s$")
    middle: pa.Array | str = plain
    if pc.any(spaced).as_py():
        middle = pc.if_else(spaced, preserve, plain)
    return pc.binary_join_element_wise(
        f'<c r="{letter}', numbers, middle, escaped, "</t></is></c>", ""
    )


def escape_texts(text: pa.Array) -> pa.Array:
    """Text as XML character data, escaped as xlsxwriter and Excel do: control characters as
    _xHHHH_ (and a literal _xHHHH_ as _x005F_xHHHH_), then &, < and >."""
    if pc.any(pc.match_substring_regex(text, _ESCAPE_LIKE)).as_py():
        text = pc.replace_substring_regex(text, f"({_ESCAPE_LIKE})", r"_x005F\1")
    if pc.any(pc.match_substring_regex(text, _CONTROL)).as_py():
        for code in [*range(0x09), *range(0x0B, 0x20), 0xFFFE, 0xFFFF]:
            text = pc.replace_substring(text, chr(code), f"_x{code:04X}_")
    for plain, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        if pc.any(pc.match_substring(text, plain)).as_py():
            text = pc.replace_substring(text, plain, escaped)
    return text


def cut_long_texts(text: pa.Array) -> tuple[pa.Array, int]:
    """Texts past Excel's limit cut, with the marker, and how many were cut. Only texts of
    more than half the limit in code points can be past it in UTF-16 units, so few are
    looked at one by one."""
    maybe = pc.greater(pc.utf8_length(text), CELL_LIMIT // 2)
    if not pc.any(maybe).as_py():
        return text, 0
    long = pc.filter(text, maybe).to_pylist()
    over = [value is not None and _utf16_units(value) > CELL_LIMIT for value in long]
    if not any(over):
        return text, 0
    mask = pc.replace_with_mask(maybe, maybe, pa.array(over, pa.bool_()))
    cut = [_cut(value) for value, is_over in zip(long, over, strict=True) if is_over]
    return pc.replace_with_mask(text, mask, pa.array(cut, pa.string())), len(cut)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _cut(text: str) -> str:
    """Text cut to Excel's limit (counted in UTF-16 units, as Excel does), with the marker."""
    keep = CELL_LIMIT - len(CUT_MARKER)
    while _utf16_units(text[:keep]) > CELL_LIMIT - len(CUT_MARKER):
        keep -= 1
    return text[:keep] + CUT_MARKER


def _date_serials(values: pa.Array) -> pa.Array:
    days = pc.cast(pc.cast(values, pa.int32()), pa.int64())
    _check_range(days, _FIRST_DAY, _LAST_DAY, "date")
    excel = pc.add(days, _EPOCH_DAYS)
    return pc.cast(pc.add(excel, pc.cast(pc.greater(excel, _LEAP_BUG), pa.int64())), pa.string())


def _timestamp_serials(values: pa.Array) -> pa.Array:
    """UTC timestamps as Excel serials: days and their fraction, to the microsecond."""
    micros = pc.cast(values.cast(pa.timestamp("us", tz="UTC")), pa.int64())
    _check_range(micros, _FIRST_DAY * _DAY_US, (_LAST_DAY + 1) * _DAY_US - 1, "timestamp")
    # Exact up to 2255 (2**53 microseconds); past that a double keeps some 30 microseconds,
    # as the serial itself does there.
    exact = pc.cast(micros, pa.float64(), safe=False)
    excel = pc.add(pc.divide(exact, float(_DAY_US)), float(_EPOCH_DAYS))
    leap = pc.cast(pc.greater(excel, float(_LEAP_BUG)), pa.float64())
    return pc.cast(pc.add(excel, leap), pa.string())


def _check_range(values: pa.Array, low: int, high: int, what: str) -> None:
    bounds = pc.min_max(values)
    smallest, largest = bounds["min"].as_py(), bounds["max"].as_py()
    if smallest is not None and (smallest < low or largest > high):
        raise ValueError(f"a {what} outside the years 1 to 9999 cannot be an Excel date")
