"""An ExportRequest (the API's camelCase JSON) from command-line flags and/or a JSON file.

Values go to the API as text: it converts them to each column's type and names the field
when one does not fit, so the CLI needs no copy of the catalogue.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TextIO

FORMATS = ("CSV", "EXCEL", "JSON", "NDJSON", "PARQUET")
FORMAT_ALIASES = {"XLSX": "EXCEL", "JSONL": "NDJSON"}
COMPRESSIONS = ("NONE", "GZIP", "ZSTD")
# The key each format's options sit under in formatOptions.
OPTIONS_KEYS = {
    "CSV": "csv",
    "EXCEL": "excel",
    "JSON": "json",
    "NDJSON": "json",
    "PARQUET": "parquet",
}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SYMBOLIC_OPERATORS = ("<=", ">=", "<>", "!=", "==", "=", "<", ">")
# Longest first, so that NOT IN is not read as IN.
WORD_OPERATORS = ("IS NOT NULL", "IS NULL", "NOT IN", "IN", "LIKE", "BETWEEN")
# Which flag sets which field of the request, for error messages that name the field.
FIELD_FLAGS = (
    ("queryDefinition.source", "--source"),
    ("queryDefinition.columns", "--columns"),
    ("queryDefinition.filters", "--filter"),
    ("queryDefinition.orderBy", "--order"),
    ("queryDefinition.dateRange", "--date-from/--date-to"),
    ("formatOptions", "--option"),
    ("format", "--format"),
    ("compression", "--compression"),
    ("delivery", "--delivery"),
    ("name", "--name"),
    ("description", "--description"),
    ("maxRowsPerFile", "--max-rows-per-file"),
    ("maxFileBytes", "--max-file-bytes"),
)

FILTER_HELP = (
    "A condition COLUMN OP VALUE, repeatable (all must hold). OP: = <> != < <= > >= LIKE,"
    " IN / NOT IN with a comma list, BETWEEN low,high (or low AND high), IS NULL,"
    " IS NOT NULL. Quote a value holding commas with \"...\". E.g. 'id<100',"
    " 'symbol IN AAPL,MSFT', 'price BETWEEN 10,20', 'notes IS NULL'."
)


class FlagError(ValueError):
    """A flag that cannot be turned into a request; the CLI exits 2 with it."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag
        self.message = message


@dataclass
class RequestFlags:
    file: str | None = None
    source: str | None = None
    columns: list[str] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)
    date_from: str | None = None
    date_to: str | None = None
    order: list[str] = field(default_factory=list)
    format: str | None = None
    compression: str | None = None
    options: list[str] = field(default_factory=list)
    name: str | None = None
    description: str | None = None
    max_rows_per_file: int | None = None
    max_file_bytes: int | None = None
    delivery: str | None = None


def build_request(flags: RequestFlags, stdin: TextIO | None = None) -> dict[str, Any]:
    """The request the flags describe; with --file, the file's request with each field that
    a flag sets replaced by the flag's value."""
    request = load_request_file(flags.file, stdin) if flags.file else {}
    if not flags.file and not (flags.source and flags.columns):
        raise FlagError("--source/--columns", "give both --source and --columns, or --file")
    query = request.setdefault("queryDefinition", {})
    if not isinstance(query, dict):
        raise FlagError("--file", "queryDefinition must be a JSON object")
    if flags.source:
        query["source"] = flags.source
    if flags.columns:
        query["columns"] = parse_columns(flags.columns)
    if flags.filters:
        query["filters"] = [parse_filter(text) for text in flags.filters]
    if flags.order:
        query["orderBy"] = parse_order(flags.order)
    if flags.date_from or flags.date_to:
        query["dateRange"] = parse_date_range(flags.date_from, flags.date_to)
    if flags.format or not flags.file:
        request["format"] = parse_format(flags.format or "CSV")
    if flags.compression:
        request["compression"] = parse_choice("--compression", flags.compression, COMPRESSIONS)
    if flags.options:
        add_options(request, flags.options)
    if flags.name:
        request["name"] = flags.name
    elif "name" not in request:
        request["name"] = f"{query.get('source', 'data')} export"
    if flags.description:
        request["description"] = flags.description
    if flags.max_rows_per_file is not None:
        request["maxRowsPerFile"] = flags.max_rows_per_file
    if flags.max_file_bytes is not None:
        request["maxFileBytes"] = flags.max_file_bytes
    if flags.delivery:
        request["delivery"] = parse_delivery(flags.delivery)
    return request


def load_request_file(path: str, stdin: TextIO | None = None) -> dict[str, Any]:
    try:
        if path == "-":
            text = (stdin or sys.stdin).read()
        else:
            with open(path, encoding="utf-8") as source:
                text = source.read()
    except OSError as exc:
        raise FlagError("--file", f"cannot read {path}: {exc.strerror}") from None
    try:
        request = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FlagError("--file", f"{path} is not JSON ({exc})") from None
    if not isinstance(request, dict):
        raise FlagError("--file", f"{path} must hold one JSON object, the request")
    return request


def split_list(values: list[str]) -> list[str]:
    """Comma lists, from one flag or several: ['a,b', 'c'] -> ['a', 'b', 'c']."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def parse_columns(values: list[str]) -> list[dict[str, str]]:
    """`name` or `name:alias` each."""
    columns = []
    for item in split_list(values):
        name, _, alias = item.partition(":")
        column = {"name": name.strip()}
        if alias.strip():
            column["alias"] = alias.strip()
        columns.append(column)
    return columns


def parse_order(values: list[str]) -> list[dict[str, str]]:
    """`column`, `column:asc` or `column:desc` each."""
    order = []
    for item in split_list(values):
        column, _, direction = item.partition(":")
        direction = direction.strip().upper() or "ASC"
        if direction not in ("ASC", "DESC"):
            raise FlagError("--order", f"{item!r}: the direction is asc or desc")
        order.append({"column": column.strip(), "direction": direction})
    return order


def parse_filter(text: str) -> dict[str, Any]:
    match = IDENTIFIER.match(text.strip())
    if match is None:
        raise FlagError("--filter", f"{text!r} does not start with a column name")
    column = match.group()
    rest = text.strip()[match.end() :].lstrip()
    for symbol in SYMBOLIC_OPERATORS:
        if rest.startswith(symbol):
            value = rest[len(symbol) :].strip()
            if not value:
                raise FlagError("--filter", f"{text!r} has no value after {symbol}")
            operator = {"==": "=", "!=": "<>"}.get(symbol, symbol)
            return {"column": column, "operator": operator, "value": _unquote(value)}
    upper = " ".join(rest.upper().split())
    for word in WORD_OPERATORS:
        if upper == word or upper.startswith(word + " "):
            return _word_filter(text, column, word, _after_words(rest, word))
    raise FlagError(
        "--filter",
        f"{text!r}: no operator after {column!r}; one of"
        f" {' '.join(SYMBOLIC_OPERATORS)} {', '.join(WORD_OPERATORS)}",
    )


def _word_filter(text: str, column: str, operator: str, value: str) -> dict[str, Any]:
    if operator in ("IS NULL", "IS NOT NULL"):
        if value:
            raise FlagError("--filter", f"{text!r}: {operator} takes no value")
        return {"column": column, "operator": operator}
    if not value:
        raise FlagError("--filter", f"{text!r} has no value after {operator}")
    if operator in ("IN", "NOT IN"):
        return {"column": column, "operator": operator, "value": _csv_values(value)}
    if operator == "BETWEEN":
        halves = re.split(r"\s+AND\s+", value, flags=re.IGNORECASE)
        bounds = [_unquote(h) for h in halves] if len(halves) == 2 else _csv_values(value)
        if len(bounds) != 2:
            raise FlagError("--filter", f"{text!r}: BETWEEN takes two values, low,high")
        return {"column": column, "operator": operator, "value": bounds}
    return {"column": column, "operator": operator, "value": _unquote(value)}


def _after_words(rest: str, operator: str) -> str:
    """What follows an operator of one or more words, however they were spaced or cased."""
    words = len(operator.split())
    parts = rest.split(maxsplit=words)
    return parts[words].strip() if len(parts) > words else ""


def _csv_values(text: str) -> list[str]:
    row = next(csv.reader([text], skipinitialspace=True), [])
    return [value.strip() for value in row]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_date_range(date_from: str | None, date_to: str | None) -> dict[str, str]:
    if not (date_from and date_to):
        raise FlagError("--date-from/--date-to", "give both ends of the date range")
    for flag, value in (("--date-from", date_from), ("--date-to", date_to)):
        try:
            date.fromisoformat(value)
        except ValueError:
            raise FlagError(flag, f"{value!r} is not a date (YYYY-MM-DD)") from None
    if date_from > date_to:
        raise FlagError("--date-from/--date-to", f"{date_from} is after {date_to}")
    return {"start": date_from, "end": date_to}


def parse_format(value: str) -> str:
    upper = FORMAT_ALIASES.get(value.upper(), value.upper())
    return parse_choice("--format", upper, FORMATS)


def parse_choice(flag: str, value: str, choices: tuple[str, ...]) -> str:
    if value.upper() not in choices:
        raise FlagError(flag, f"{value!r} is not one of {', '.join(choices)}")
    return value.upper()


def add_options(request: dict[str, Any], options: list[str]) -> None:
    """`key=value` each, into formatOptions under the format's key: true/false are booleans,
    whole numbers integers, anything else text (quote a value to keep it text)."""
    fmt = str(request.get("format", "CSV")).upper()
    key = OPTIONS_KEYS.get(fmt)
    if key is None:
        raise FlagError("--option", f"format {fmt!r} has no options")
    format_options = request.setdefault("formatOptions", {}) or {}
    request["formatOptions"] = format_options
    section = format_options.setdefault(key, {}) or {}
    format_options[key] = section
    for option in options:
        name, sep, raw = option.partition("=")
        if not sep or not name.strip():
            raise FlagError("--option", f"{option!r} is not key=value")
        section[_camel(name.strip())] = _option_value(raw)


def _camel(name: str) -> str:
    head, *tail = re.split(r"[-_]", name)
    return head + "".join(part[:1].upper() + part[1:] for part in tail)


def _option_value(raw: str) -> str | bool | int:
    if raw.lower() in ("true", "yes", "on"):
        return True
    if raw.lower() in ("false", "no", "off"):
        return False
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if raw in ("\\t", "tab", "TAB"):
        return "\t"
    return _unquote(raw) if raw.strip() else raw


def parse_delivery(value: str) -> dict[str, Any]:
    """download | email:a@b.c[,d@e.f] | s3://bucket/key | sftp://user@host[:port]/path |
    webhook:https://host/path"""
    method, _, target = value.partition(":")
    method = method.strip().lower()
    target = target.strip()
    if method == "download" and not target:
        return {"method": "DOWNLOAD"}
    if method == "email" and target:
        return {"method": "EMAIL", "email": {"recipients": split_list([target])}}
    if method == "s3" and target:
        bucket, _, key = target.removeprefix("//").partition("/")
        if bucket and key:
            return {"method": "S3", "s3": {"bucket": bucket, "key": key}}
    if method == "sftp" and target:
        match = re.fullmatch(r"//([^@/]+)@([^:/]+)(?::(\d+))?/(.+)", target)
        if match:
            user, host, port, path = match.groups()
            sftp: dict[str, Any] = {"host": host, "username": user, "path": path}
            if port:
                sftp["port"] = int(port)
            return {"method": "SFTP", "sftp": sftp}
    if method == "webhook" and target:
        return webhook_delivery(target)
    raise FlagError(
        "--delivery",
        f"{value!r}: one of download, email:ADDRESS[,ADDRESS], s3://BUCKET/KEY,"
        " sftp://USER@HOST[:PORT]/PATH, webhook:URL",
    )


def webhook_delivery(url: str) -> dict[str, Any]:
    """A signed completion notice POSTed to `url` (checked by the service)."""
    return {"method": "WEBHOOK", "webhook": {"url": url}}


def flag_for_field(field_path: str) -> str | None:
    """The flag that sets an API field path, e.g. queryDefinition.filters[1].value -> --filter."""
    for prefix, flag in FIELD_FLAGS:
        if field_path == prefix or field_path.startswith((prefix + ".", prefix + "[")):
            return flag
    return None
