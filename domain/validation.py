"""Checks a request against the catalogue and what is built, and resolves it for the SQL builder.

Every rejection names the field (in the request's own spelling) and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from domain.catalogue import CATALOGUE, Column, ColumnType, Source
from domain.delivery_rules import check_delivery
from domain.field_errors import FieldError, RequestInvalid
from export_contract.request import ExportFormat, ExportRequest, Scalar

MAX_ROWS_PER_FILE = 10_000_000
MIN_FILE_BYTES = 64 * 1024
MAX_FILE_BYTES = 1 << 40
# Sizes that keep a request sane.
NAME_MAX = 255
DESCRIPTION_MAX = 4000
IDENTIFIER_MAX = 63
COLUMNS_MAX = 200
FILTERS_MAX = 50
ORDER_MAX = 10
MAX_IN_VALUES = 1000


class Operator(str, Enum):
    EQ = "="
    NE = "<>"
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "IN"
    NOT_IN = "NOT IN"
    LIKE = "LIKE"
    BETWEEN = "BETWEEN"
    IS_NULL = "IS NULL"
    IS_NOT_NULL = "IS NOT NULL"


# Spellings clients use for each operator; anything else is rejected.
OPERATOR_SPELLINGS: dict[str, Operator] = {
    **{op.value: op for op in Operator},
    "!=": Operator.NE,
    "==": Operator.EQ,
    "eq": Operator.EQ,
    "ne": Operator.NE,
    "neq": Operator.NE,
    "lt": Operator.LT,
    "lte": Operator.LE,
    "gt": Operator.GT,
    "gte": Operator.GE,
    "in": Operator.IN,
    "not_in": Operator.NOT_IN,
    "like": Operator.LIKE,
    "between": Operator.BETWEEN,
    "is_null": Operator.IS_NULL,
    "is_not_null": Operator.IS_NOT_NULL,
}


@dataclass(frozen=True)
class OutputColumn:
    column: Column
    output_name: str


@dataclass(frozen=True)
class ResolvedFilter:
    column: Column
    operator: Operator
    values: tuple[Any, ...]


@dataclass(frozen=True)
class ResolvedOrder:
    column: Column
    descending: bool


@dataclass(frozen=True)
class ResolvedQuery:
    """A request mapped onto catalogue objects: the only input the SQL builder takes."""

    source: Source
    columns: tuple[OutputColumn, ...]
    filters: tuple[ResolvedFilter, ...]
    order: tuple[ResolvedOrder, ...]
    date_range: tuple[date, date] | None
    # Excel's one-sheet-per-value column; rows are ordered by it first.
    sheet_by: Column | None = None
    # An incremental schedule's run: only rows with keys above this (the last successful
    # run's mark). The upper bound is the run's own high-water mark, as for any export.
    key_above: int | None = None

    @property
    def ordered_by_key(self) -> bool:
        """True when rows come in key order (or no order was asked), so key ranges chunk it."""
        return not self.order or (
            len(self.order) == 1 and self.order[0].column.name == self.source.key_column
        )

    @property
    def key_descending(self) -> bool:
        return bool(self.order) and self.order[0].descending


def parse_request(payload: Mapping[str, Any]) -> ExportRequest:
    """Structural checks (types, required fields, enums), with errors named by field."""
    try:
        return ExportRequest.model_validate(payload)
    except ValidationError as exc:
        raise RequestInvalid([from_pydantic(e) for e in exc.errors()]) from None


def from_pydantic(error: Mapping[str, Any]) -> FieldError:
    """A pydantic error as a field (camelCase, dotted, with [i] for list items) and reason."""
    path = ""
    for part in error["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in {"bool", "int", "float", "str", "list[...]"} or "[" in str(part):
            continue  # pydantic's union branch names say nothing to a client
        else:
            path += f".{part}" if path else str(part)
    return FieldError(path or "(body)", error["msg"])


def resolve(request: ExportRequest) -> ResolvedQuery:
    """Check the request against the catalogue and its options; raise RequestInvalid."""
    errors = _nul_characters(request.model_dump(by_alias=True, exclude_none=True))
    if errors:
        raise RequestInvalid(errors)  # PostgreSQL text cannot hold NUL: nothing else is safe
    errors = _check_sizes(request) + check_format_options(request) + check_delivery(request)
    query = request.query_definition
    source = CATALOGUE.get(query.source)
    if source is None:
        known = ", ".join(sorted(CATALOGUE))
        errors.append(
            FieldError("queryDefinition.source", f"unknown source '{query.source}'; one of {known}")
        )
        raise RequestInvalid(errors)

    columns = _resolve_columns(source, request, errors)
    filters = tuple(
        f for i, spec in enumerate(query.filters) if (f := _resolve_filter(source, i, spec, errors))
    )
    order = _resolve_order(source, request, errors)
    date_range = None
    if query.date_range is not None:
        if query.date_range.start > query.date_range.end:
            errors.append(FieldError("queryDefinition.dateRange", "start is after end"))
        date_range = (query.date_range.start, query.date_range.end)
    sheet_by = None
    sheet_column = (
        request.excel_options().sheet_by if request.format is ExportFormat.EXCEL else None
    )
    if sheet_column is not None:
        sheet_by = source.column(sheet_column)
        if sheet_by is None:
            errors.append(
                FieldError("formatOptions.excel.sheetBy", _unknown_column(source, sheet_column))
            )
        elif not order or order[0].column != sheet_by:
            order = (ResolvedOrder(sheet_by, False), *(o for o in order if o.column != sheet_by))
    if errors:
        raise RequestInvalid(errors)
    return ResolvedQuery(source, columns, filters, order, date_range, sheet_by)


def validate_request(payload: Mapping[str, Any]) -> tuple[ExportRequest, ResolvedQuery]:
    """Parse and resolve in one step: what the API and the command agent call."""
    request = parse_request(payload)
    return request, resolve(request)


def _nul_characters(value: object, path: str = "") -> list[FieldError]:
    """Every string in the request that holds a NUL character, by its field."""
    if isinstance(value, str):
        return (
            [FieldError(path or "(body)", "must not contain NUL characters")]
            if "\x00" in value
            else []
        )
    if isinstance(value, dict):
        return [
            e for k, v in value.items() for e in _nul_characters(v, f"{path}.{k}" if path else k)
        ]
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in _nul_characters(v, f"{path}[{i}]")]
    return []


def _check_sizes(request: ExportRequest) -> list[FieldError]:
    query = request.query_definition
    errors = []
    if not request.name.strip():
        errors.append(FieldError("name", "must not be empty"))
    if len(request.name) > NAME_MAX:
        errors.append(FieldError("name", f"at most {NAME_MAX} characters"))
    if request.description and len(request.description) > DESCRIPTION_MAX:
        errors.append(FieldError("description", f"at most {DESCRIPTION_MAX} characters"))
    if not query.columns:
        errors.append(FieldError("queryDefinition.columns", "name at least one column"))
    for field, items, most in (
        ("queryDefinition.columns", query.columns, COLUMNS_MAX),
        ("queryDefinition.filters", query.filters, FILTERS_MAX),
        ("queryDefinition.orderBy", query.order_by or [], ORDER_MAX),
    ):
        if len(items) > most:
            errors.append(FieldError(field, f"at most {most} entries"))
    for i, column in enumerate(query.columns):
        if column.alias is not None and not 1 <= len(column.alias) <= IDENTIFIER_MAX:
            errors.append(
                FieldError(
                    f"queryDefinition.columns[{i}].alias", f"1 to {IDENTIFIER_MAX} characters"
                )
            )
    rows = request.max_rows_per_file
    if rows is not None and not 1 <= rows <= MAX_ROWS_PER_FILE:
        errors.append(FieldError("maxRowsPerFile", f"must be between 1 and {MAX_ROWS_PER_FILE:,}"))
    size = request.max_file_bytes
    if size is not None and not MIN_FILE_BYTES <= size <= MAX_FILE_BYTES:
        errors.append(
            FieldError("maxFileBytes", f"must be between {MIN_FILE_BYTES:,} and {MAX_FILE_BYTES:,}")
        )
    return errors


NUMBER_FORMAT = re.compile(r"0(\.0{1,18})?")
SHEET_NAME_FORBIDDEN = set("[]:*?/\\")
COMPRESSIONS = {"NONE", "GZIP", "ZSTD"}
MAX_ROW_GROUP = 1_048_576
PARQUET_COMPRESSIONS = {"SNAPPY", "GZIP", "ZSTD", "NONE"}


def check_format_options(request: ExportRequest) -> list[FieldError]:
    """The options of the chosen format; options of other formats are ignored."""
    errors: list[FieldError] = []
    if request.compression not in COMPRESSIONS:
        errors.append(FieldError("compression", f"one of {', '.join(sorted(COMPRESSIONS))}"))
    elif request.compression != "NONE" and request.format in (
        ExportFormat.PARQUET,
        ExportFormat.EXCEL,
    ):
        errors.append(
            FieldError("compression", f"{request.format.value} files compress inside; use NONE")
        )
    if request.format is ExportFormat.CSV:
        errors += _check_csv_options(request)
    elif request.format in (ExportFormat.JSON, ExportFormat.NDJSON):
        date_format = request.json_options().date_format
        if date_format not in ("ISO", "EPOCH"):
            errors.append(FieldError("formatOptions.json.dateFormat", "ISO or EPOCH"))
    elif request.format is ExportFormat.PARQUET:
        opts = request.parquet_options()
        if opts.compression not in PARQUET_COMPRESSIONS:
            errors.append(
                FieldError(
                    "formatOptions.parquet.compression",
                    f"one of {', '.join(sorted(PARQUET_COMPRESSIONS))}",
                )
            )
        if not 1000 <= opts.row_group_size <= MAX_ROW_GROUP:
            errors.append(
                FieldError(
                    "formatOptions.parquet.rowGroupSize",
                    f"between 1,000 and {MAX_ROW_GROUP:,} (a row group is held in memory)",
                )
            )
    elif request.format is ExportFormat.EXCEL:
        name = request.excel_options().sheet_name
        if not 1 <= len(name) <= 25 or SHEET_NAME_FORBIDDEN & set(name):
            errors.append(
                FieldError(
                    "formatOptions.excel.sheetName",
                    "1 to 25 characters, none of [ ] : * ? / \\ (Excel's rule, with room"
                    " for an overflow suffix)",
                )
            )
    return errors


def _check_csv_options(request: ExportRequest) -> list[FieldError]:
    opts = request.csv_options()
    where = "formatOptions.csv"
    errors = []
    if len(opts.delimiter) != 1:
        errors.append(FieldError(f"{where}.delimiter", "must be exactly one character"))
    elif opts.delimiter in '\r\n"':
        errors.append(
            FieldError(f"{where}.delimiter", "cannot be a newline, carriage return or quote")
        )
    if opts.date_format != "ISO" and (
        not 1 <= len(opts.date_format) <= 64 or any(ord(ch) < 32 for ch in opts.date_format)
    ):
        errors.append(
            FieldError(
                f"{where}.dateFormat",
                "ISO, or a PostgreSQL to_char pattern of 1 to 64 characters",
            )
        )
    if opts.number_format is not None and not NUMBER_FORMAT.fullmatch(opts.number_format):
        errors.append(
            FieldError(
                f"{where}.numberFormat",
                "a fixed-decimals pattern such as 0, 0.00 or 0.000000 (up to 18 decimals)",
            )
        )
    marker = opts.null_marker
    if len(marker) > 16 or any(ch in marker for ch in '\r\n"') or opts.delimiter in marker:
        errors.append(
            FieldError(
                f"{where}.nullMarker",
                "at most 16 characters, without newlines, quotes or the delimiter",
            )
        )
    return errors


def _resolve_columns(
    source: Source, request: ExportRequest, errors: list[FieldError]
) -> tuple[OutputColumn, ...]:
    out: list[OutputColumn] = []
    seen: set[str] = set()
    for i, spec in enumerate(request.query_definition.columns):
        where = f"queryDefinition.columns[{i}]"
        column = source.column(spec.name)
        if column is None:
            errors.append(FieldError(f"{where}.name", _unknown_column(source, spec.name)))
            continue
        if spec.format is not None:
            errors.append(
                FieldError(f"{where}.format", "per-column formats are not available yet; omit it")
            )
        name = spec.alias or spec.name
        if any(ord(ch) < 32 for ch in name):
            errors.append(FieldError(f"{where}.alias", "cannot contain control characters"))
        if name in seen:
            errors.append(FieldError(f"{where}.alias", f"output column '{name}' appears twice"))
        seen.add(name)
        out.append(OutputColumn(column, name))
    return tuple(out)


def _resolve_order(
    source: Source, request: ExportRequest, errors: list[FieldError]
) -> tuple[ResolvedOrder, ...]:
    out: list[ResolvedOrder] = []
    for i, spec in enumerate(request.query_definition.order_by or []):
        column = source.column(spec.column)
        if column is None:
            errors.append(
                FieldError(
                    f"queryDefinition.orderBy[{i}].column", _unknown_column(source, spec.column)
                )
            )
        elif any(o.column == column for o in out):
            errors.append(FieldError(f"queryDefinition.orderBy[{i}].column", "listed twice"))
        else:
            out.append(ResolvedOrder(column, spec.direction == "DESC"))
    return tuple(out)


def _unknown_column(source: Source, name: str) -> str:
    return f"unknown column '{name}' in {source.name}; one of {', '.join(source.column_names)}"


def _resolve_filter(
    source: Source, index: int, spec: Any, errors: list[FieldError]
) -> ResolvedFilter | None:
    where = f"queryDefinition.filters[{index}]"
    column = source.column(spec.column)
    if column is None:
        errors.append(FieldError(f"{where}.column", _unknown_column(source, spec.column)))
        return None
    operator = OPERATOR_SPELLINGS.get(spec.operator.strip())
    if operator is None:
        operator = OPERATOR_SPELLINGS.get(spec.operator.strip().upper())
    if operator is None:
        allowed = ", ".join(op.value for op in Operator)
        errors.append(
            FieldError(
                f"{where}.operator", f"unsupported operator '{spec.operator}'; one of {allowed}"
            )
        )
        return None
    try:
        values = _filter_values(column, operator, spec.value)
    except ValueError as exc:
        errors.append(FieldError(f"{where}.value", str(exc)))
        return None
    return ResolvedFilter(column, operator, values)


def _filter_values(column: Column, operator: Operator, value: Any) -> tuple[Any, ...]:
    if operator in (Operator.IS_NULL, Operator.IS_NOT_NULL):
        if value is not None:
            raise ValueError(f"must be null or absent for {operator.value}")
        return ()
    if operator in (Operator.IN, Operator.NOT_IN):
        if not isinstance(value, list) or not value:
            raise ValueError(f"must be a non-empty list for {operator.value}")
        if len(value) > MAX_IN_VALUES:
            raise ValueError(f"at most {MAX_IN_VALUES} values for {operator.value}")
        return tuple(coerce_value(column, v) for v in value)
    if operator is Operator.BETWEEN:
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError("must be a list of two values [low, high] for BETWEEN")
        return tuple(coerce_value(column, v) for v in value)
    if isinstance(value, list) or value is None:
        raise ValueError(f"must be a single value for {operator.value}")
    if operator is Operator.LIKE and column.type is not ColumnType.TEXT:
        raise ValueError(f"LIKE applies to text columns, and {column.name} is {column.type.value}")
    return (coerce_value(column, value),)


def coerce_value(column: Column, value: Scalar) -> Any:
    """Turn a JSON value into the Python value that binds to the column's type, or raise."""
    kind = column.type
    try:
        if isinstance(value, bool):
            raise ValueError
        if kind is ColumnType.BIGINT:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            number = int(value)
            if not -(2**63) <= number < 2**63:
                raise ValueError
            return number
        if kind is ColumnType.NUMERIC:
            decimal = Decimal(str(value))
            if not decimal.is_finite():
                raise ValueError
            return decimal
        if not isinstance(value, str):
            raise ValueError
        if kind is ColumnType.DATE:
            return date.fromisoformat(value)
        if kind is ColumnType.TIMESTAMPTZ:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError
            return moment
        if kind is ColumnType.UUID:
            return UUID(value)
        return value
    except (ValueError, InvalidOperation, ArithmeticError):
        expected = {
            ColumnType.BIGINT: "an integer",
            ColumnType.NUMERIC: "a number",
            ColumnType.DATE: "a date (YYYY-MM-DD)",
            ColumnType.TIMESTAMPTZ: "a timestamp with time zone (ISO 8601)",
            ColumnType.UUID: "a UUID",
            ColumnType.TEXT: "a string",
        }[kind]
        raise ValueError(f"{value!r} is not {expected}, as column {column.name} needs") from None
