"""Request validation: every rejection names the field and the reason."""

from __future__ import annotations

from typing import Any

import pytest

from domain.validation import Operator, RequestInvalid, validate_request
from tests.unit.builders import request_payload


def errors_of(payload: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(RequestInvalid) as caught:
        validate_request(payload)
    return {e.field: e.reason for e in caught.value.errors}


def with_query(**changes: Any) -> dict[str, Any]:
    payload = request_payload()
    payload["queryDefinition"] = {**payload["queryDefinition"], **changes}
    return payload


def test_a_valid_request_resolves_onto_the_catalogue() -> None:
    request, query = validate_request(request_payload())
    assert request.name == "trades"
    assert [c.output_name for c in query.columns] == ["id", "Price", "notes"]
    assert query.filters[0].operator is Operator.EQ
    assert query.filters[0].values == ("AAPL",)


def test_sql_looking_column_names_are_rejected_by_name() -> None:
    errors = errors_of(with_query(columns=[{"name": "id; DROP TABLE analytics.fact_trades"}]))
    assert "unknown column" in errors["queryDefinition.columns[0].name"]


def test_an_unknown_source_is_rejected() -> None:
    errors = errors_of(with_query(source="pg_authid"))
    assert "unknown source 'pg_authid'" in errors["queryDefinition.source"]


@pytest.mark.parametrize("operator", ["OR 1=1", "~", "SIMILAR TO", "= ANY", ";"])
def test_operators_outside_the_allowlist_are_rejected(operator: str) -> None:
    errors = errors_of(with_query(filters=[{"column": "id", "operator": operator, "value": 1}]))
    assert "unsupported operator" in errors["queryDefinition.filters[0].operator"]


def test_operator_spellings_map_to_one_operator() -> None:
    _, query = validate_request(
        with_query(
            filters=[
                {"column": "id", "operator": "gte", "value": 5},
                {"column": "symbol", "operator": "in", "value": ["AAPL", "MSFT"]},
                {"column": "notes", "operator": "is_null"},
            ]
        )
    )
    assert [f.operator for f in query.filters] == [Operator.GE, Operator.IN, Operator.IS_NULL]


def test_filter_values_must_fit_the_column_type() -> None:
    errors = errors_of(
        with_query(
            filters=[
                {"column": "price", "operator": ">", "value": "cheap"},
                {"column": "trade_date", "operator": "=", "value": "yesterday"},
                {"column": "executed_at", "operator": ">", "value": "2026-01-01T00:00:00"},
                {"column": "id", "operator": "=", "value": True},
            ]
        )
    )
    assert "is not a number" in errors["queryDefinition.filters[0].value"]
    assert "is not a date" in errors["queryDefinition.filters[1].value"]
    assert "time zone" in errors["queryDefinition.filters[2].value"]
    assert "is not an integer" in errors["queryDefinition.filters[3].value"]


def test_numeric_filter_values_keep_every_digit() -> None:
    _, query = validate_request(
        with_query(filters=[{"column": "price", "operator": "=", "value": "123456789012.123456"}])
    )
    assert str(query.filters[0].values[0]) == "123456789012.123456"


def test_in_and_between_need_lists() -> None:
    errors = errors_of(
        with_query(
            filters=[
                {"column": "id", "operator": "IN", "value": 3},
                {"column": "id", "operator": "BETWEEN", "value": [1]},
            ]
        )
    )
    assert "non-empty list" in errors["queryDefinition.filters[0].value"]
    assert "two values" in errors["queryDefinition.filters[1].value"]


def test_a_delivery_method_needs_its_settings() -> None:
    errors = errors_of(request_payload(delivery={"method": "SFTP"}))
    assert errors["delivery.sftp"] == "required when delivery.method is SFTP"


@pytest.mark.parametrize("export_format", ["CSV", "JSON", "NDJSON", "PARQUET", "EXCEL"])
def test_every_format_is_accepted(export_format: str) -> None:
    request, _ = validate_request(request_payload(format=export_format))
    assert request.format.value == export_format


def test_options_of_the_chosen_format_are_checked() -> None:
    errors = errors_of(
        request_payload(
            format="PARQUET",
            compression="GZIP",
            formatOptions={"parquet": {"compression": "LZ4", "rowGroupSize": 10}},
        )
    )
    assert errors["compression"] == "PARQUET files compress inside; use NONE"
    assert "one of" in errors["formatOptions.parquet.compression"]
    assert "between" in errors["formatOptions.parquet.rowGroupSize"]
    errors = errors_of(request_payload(format="JSON", formatOptions={"json": {"dateFormat": "US"}}))
    assert errors["formatOptions.json.dateFormat"] == "ISO or EPOCH"
    errors = errors_of(
        request_payload(format="EXCEL", formatOptions={"excel": {"sheetName": "a/b"}})
    )
    assert "formatOptions.excel.sheetName" in errors


def test_csv_number_formats_and_null_markers_are_checked() -> None:
    errors = errors_of(
        request_payload(formatOptions={"csv": {"numberFormat": "#,##0.00", "nullMarker": "a,b"}})
    )
    assert "fixed-decimals" in errors["formatOptions.csv.numberFormat"]
    assert "delimiter" in errors["formatOptions.csv.nullMarker"]
    request, _ = validate_request(
        request_payload(
            formatOptions={
                "csv": {
                    "numberFormat": "0.000",
                    "nullMarker": "\\N",
                    "dateFormat": "DD.MM.YYYY",
                    "byteOrderMark": True,
                }
            }
        )
    )
    assert request.csv_options().number_format == "0.000"


def test_unknown_compression_is_rejected() -> None:
    assert (
        errors_of(request_payload(compression="LZMA"))["compression"] == "one of GZIP, NONE, ZSTD"
    )


@pytest.mark.parametrize("delimiter", ["\n", '"', ";;", ""])
def test_bad_csv_delimiters_are_rejected(delimiter: str) -> None:
    errors = errors_of(request_payload(formatOptions={"csv": {"delimiter": delimiter}}))
    assert "formatOptions.csv.delimiter" in errors


def test_tab_is_a_valid_delimiter() -> None:
    request, _ = validate_request(request_payload(formatOptions={"csv": {"delimiter": "\t"}}))
    assert request.csv_options().delimiter == "\t"


def test_unknown_fields_and_wrong_types_are_named() -> None:
    errors = errors_of(request_payload(fromat="CSV", maxRowsPerFile="many"))
    assert "fromat" in errors
    assert "maxRowsPerFile" in errors


def test_sizes_are_bounded() -> None:
    errors = errors_of(request_payload(name="x" * 256, maxRowsPerFile=0))
    assert errors["name"] == "at most 255 characters"
    assert "between 1 and" in errors["maxRowsPerFile"]


def test_duplicate_output_names_are_rejected() -> None:
    errors = errors_of(with_query(columns=[{"name": "id"}, {"name": "price", "alias": "id"}]))
    assert "appears twice" in errors["queryDefinition.columns[1].alias"]


def test_date_range_must_be_ordered() -> None:
    errors = errors_of(with_query(dateRange={"start": "2026-02-01", "end": "2026-01-01"}))
    assert errors["queryDefinition.dateRange"] == "start is after end"


def test_excel_sheets_by_a_column_order_rows_by_it_first() -> None:
    payload = request_payload(format="EXCEL", formatOptions={"excel": {"sheetBy": "symbol"}})
    payload["queryDefinition"]["orderBy"] = [{"column": "price", "direction": "DESC"}]
    _, query = validate_request(payload)
    assert query.sheet_by is not None and query.sheet_by.name == "symbol"
    assert [(o.column.name, o.descending) for o in query.order] == [
        ("symbol", False),
        ("price", True),
    ]
    assert not query.ordered_by_key
    errors = errors_of(request_payload(format="EXCEL", formatOptions={"excel": {"sheetBy": "x"}}))
    assert "unknown column 'x'" in errors["formatOptions.excel.sheetBy"]


def test_nul_characters_are_rejected_wherever_they_are() -> None:
    payload = request_payload()
    payload["queryDefinition"]["filters"] = [
        {"column": "symbol", "operator": "=", "value": "a\x00"}
    ]
    assert errors_of(payload) == {
        "queryDefinition.filters[0].value": "must not contain NUL characters"
    }
