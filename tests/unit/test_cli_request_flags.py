"""Flags and request files into the API's ExportRequest JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from cli.request_flags import (
    FlagError,
    RequestFlags,
    build_request,
    flag_for_field,
    parse_delivery,
    parse_filter,
)


def flags(**values: Any) -> RequestFlags:
    return RequestFlags(**{"source": "fact_orders", "columns": ["id"], **values})


def test_every_flag_of_a_typical_submit_builds_the_whole_request() -> None:
    request = build_request(
        flags(
            columns=["id,symbol:ticker", "quantity"],
            filters=["id<100", "symbol IN AAPL,MSFT"],
            date_from="2024-01-01",
            date_to="2024-03-31",
            order=["id:desc"],
            format="csv",
            compression="gzip",
            name="orders",
            delivery="email:a@b.c",
        )
    )
    assert request == {
        "name": "orders",
        "queryDefinition": {
            "source": "fact_orders",
            "columns": [
                {"name": "id"},
                {"name": "symbol", "alias": "ticker"},
                {"name": "quantity"},
            ],
            "filters": [
                {"column": "id", "operator": "<", "value": "100"},
                {"column": "symbol", "operator": "IN", "value": ["AAPL", "MSFT"]},
            ],
            "orderBy": [{"column": "id", "direction": "DESC"}],
            "dateRange": {"start": "2024-01-01", "end": "2024-03-31"},
        },
        "format": "CSV",
        "compression": "GZIP",
        "delivery": {"method": "EMAIL", "email": {"recipients": ["a@b.c"]}},
    }


def test_defaults_are_csv_and_a_name_from_the_source() -> None:
    request = build_request(flags())
    assert (request["format"], request["name"]) == ("CSV", "fact_orders export")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id<100", {"operator": "<", "value": "100"}),
        ("id <= 100", {"operator": "<=", "value": "100"}),
        ("id>=5", {"operator": ">=", "value": "5"}),
        ("id != 5", {"operator": "<>", "value": "5"}),
        ("id == 5", {"operator": "=", "value": "5"}),
        ("id<>5", {"operator": "<>", "value": "5"}),
        ("id = 'a b'", {"operator": "=", "value": "a b"}),
        ("id in 1, 2,3", {"operator": "IN", "value": ["1", "2", "3"]}),
        ('id NOT  IN "a,b",c', {"operator": "NOT IN", "value": ["a,b", "c"]}),
        ("id like %AA%", {"operator": "LIKE", "value": "%AA%"}),
        ("id BETWEEN 10,20", {"operator": "BETWEEN", "value": ["10", "20"]}),
        ("id between 10 and 20", {"operator": "BETWEEN", "value": ["10", "20"]}),
        ("id IS NULL", {"operator": "IS NULL"}),
        ("id is not null", {"operator": "IS NOT NULL"}),
    ],
)
def test_filters(text: str, expected: dict[str, Any]) -> None:
    assert parse_filter(text) == {"column": "id", **expected}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<100", "does not start with a column"),
        ("id", "no operator"),
        ("id ~ 3", "no operator"),
        ("id <", "no value"),
        ("id IN", "no value"),
        ("id IS NULL 3", "takes no value"),
        ("id BETWEEN 1,2,3", "two values"),
    ],
)
def test_bad_filters_name_the_flag(text: str, problem: str) -> None:
    with pytest.raises(FlagError, match=problem) as caught:
        parse_filter(text)
    assert caught.value.flag == "--filter"


@pytest.mark.parametrize(
    ("values", "flag"),
    [
        ({"source": None}, "--source/--columns"),
        ({"columns": []}, "--source/--columns"),
        ({"date_from": "2024-01-01"}, "--date-from/--date-to"),
        ({"date_from": "2024-01-01", "date_to": "2024-13-01"}, "--date-to"),
        ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "--date-from/--date-to"),
        ({"order": ["id:sideways"]}, "--order"),
        ({"format": "xml"}, "--format"),
        ({"compression": "lz4"}, "--compression"),
        ({"options": ["delimiter"]}, "--option"),
        ({"delivery": "pigeon:home"}, "--delivery"),
    ],
)
def test_bad_flags_raise_flag_errors(values: dict[str, Any], flag: str) -> None:
    with pytest.raises(FlagError) as caught:
        build_request(flags(**values))
    assert caught.value.flag == flag


def test_format_options_go_under_the_formats_key_with_types() -> None:
    request = build_request(
        flags(
            format="ndjson",
            options=["date_format=EPOCH", "pretty=true"],
        )
    )
    assert request["formatOptions"] == {"json": {"dateFormat": "EPOCH", "pretty": True}}
    csv = build_request(flags(options=["delimiter=\\t", "include-headers=no", "nullMarker='1'"]))
    assert csv["formatOptions"] == {
        "csv": {"delimiter": "\t", "includeHeaders": False, "nullMarker": "1"}
    }
    parquet = build_request(flags(format="parquet", options=["rowGroupSize=1000"]))
    assert parquet["formatOptions"] == {"parquet": {"rowGroupSize": 1000}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("download", {"method": "DOWNLOAD"}),
        ("email:a@b.c, d@e.f", {"method": "EMAIL", "email": {"recipients": ["a@b.c", "d@e.f"]}}),
        (
            "s3://bucket/some/key.csv",
            {"method": "S3", "s3": {"bucket": "bucket", "key": "some/key.csv"}},
        ),
        (
            "sftp://me@host:2222/in/x",
            {
                "method": "SFTP",
                "sftp": {"host": "host", "username": "me", "path": "in/x", "port": 2222},
            },
        ),
        (
            "sftp://me@host/x",
            {"method": "SFTP", "sftp": {"host": "host", "username": "me", "path": "x"}},
        ),
        (
            "webhook:https://hooks.example.com/in?team=a",
            {"method": "WEBHOOK", "webhook": {"url": "https://hooks.example.com/in?team=a"}},
        ),
    ],
)
def test_delivery(value: str, expected: dict[str, Any]) -> None:
    assert parse_delivery(value) == expected


def test_a_request_file_is_the_base_and_flags_replace_its_fields(tmp_path: Path) -> None:
    base = {
        "name": "from the file",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id"}],
            "filters": [{"column": "id", "operator": "<", "value": 5}],
        },
        "format": "PARQUET",
    }
    path = tmp_path / "req.json"
    path.write_text(json.dumps(base))
    assert build_request(RequestFlags(file=str(path))) == base
    changed = build_request(RequestFlags(file=str(path), filters=["id>1"], format="csv"))
    assert changed["queryDefinition"]["filters"] == [
        {"column": "id", "operator": ">", "value": "1"}
    ]
    assert (changed["format"], changed["name"]) == ("CSV", "from the file")


def test_a_request_from_stdin() -> None:
    stdin = io.StringIO('{"name": "n", "queryDefinition": {"source": "s", "columns": []}}')
    assert build_request(RequestFlags(file="-"), stdin)["name"] == "n"


@pytest.mark.parametrize("text", ["not json", "[1, 2]"])
def test_a_bad_request_file_is_a_flag_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "req.json"
    path.write_text(text)
    with pytest.raises(FlagError) as caught:
        build_request(RequestFlags(file=str(path)))
    assert caught.value.flag == "--file"


def test_a_missing_request_file_is_a_flag_error(tmp_path: Path) -> None:
    with pytest.raises(FlagError, match="cannot read"):
        build_request(RequestFlags(file=str(tmp_path / "absent.json")))


@pytest.mark.parametrize(
    ("field", "flag"),
    [
        ("queryDefinition.columns[0].name", "--columns"),
        ("queryDefinition.filters[1].value", "--filter"),
        ("queryDefinition.dateRange.start", "--date-from/--date-to"),
        ("formatOptions.csv.delimiter", "--option"),
        ("format", "--format"),
        ("delivery.email.recipients", "--delivery"),
        ("formatting", None),
        ("(body)", None),
    ],
)
def test_api_fields_map_to_flags(field: str, flag: str | None) -> None:
    assert flag_for_field(field) == flag
