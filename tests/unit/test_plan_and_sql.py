"""Chunk plans cover every row once; SQL takes no value from a request as text."""

from __future__ import annotations

import pytest
from psycopg import sql

from domain.catalogue import ColumnType
from domain.validation import validate_request
from export_contract.plan import plan_by_key, plan_by_offset
from export_contract.request import ExportFormat
from extraction import sql_builder
from extraction.formats import chunk_file_name
from tests.unit.builders import TENANT, request_payload


def rows_of(chunks: list, keys: list[int]) -> list[list[int]]:
    out = []
    for c in chunks:
        lo = c.key_min if c.key_min is not None else -(2**63)
        hi = c.key_max if c.key_max is not None else 2**63
        out.append([k for k in keys if lo <= k <= hi])
    return out


@pytest.mark.parametrize("total", [0, 1, 9, 10, 11, 30, 31])
@pytest.mark.parametrize("descending", [False, True])
def test_key_chunks_hold_every_row_once_in_order(total: int, descending: bool) -> None:
    keys = sorted({3 * i + 1 for i in range(total)}, reverse=descending)
    boundaries = [keys[i] for i in range(9, total, 10)]
    chunks = plan_by_key(total, boundaries, 1000, descending, 10)
    parts = [sorted(p, reverse=descending) for p in rows_of(chunks, keys)]
    assert [k for p in parts for k in p] == keys
    assert all(len(p) <= 10 for p in parts)
    assert [c.row_count for c in chunks] == [len(p) for p in parts]
    assert [c.first_row for c in chunks] == [10 * i for i in range(len(chunks))]


def test_offset_chunks_page_through_the_rows() -> None:
    chunks = plan_by_offset(25, 10, 99)
    assert [(c.first_row, c.row_count) for c in chunks] == [(0, 10), (10, 10), (20, 5)]
    assert [chunk_file_name(c.index, ExportFormat.NDJSON) for c in chunks] == [
        "part-00001.ndjson",
        "part-00002.ndjson",
        "part-00003.ndjson",
    ]


def test_an_empty_export_still_has_one_chunk() -> None:
    assert len(plan_by_offset(0, 10, 0)) == 1
    assert len(plan_by_key(0, [], 0, False, 10)) == 1


def render(statement: sql.Composable) -> str:
    return statement.as_string(None)


def test_request_values_travel_as_settings_and_names_as_identifiers() -> None:
    payload = request_payload()
    hostile = "x'); DROP TABLE t; --"
    payload["queryDefinition"]["filters"] = [
        {"column": "notes", "operator": "LIKE", "value": hostile},
        {"column": "id", "operator": "IN", "value": [1, 2]},
        {"column": "price", "operator": "BETWEEN", "value": ["1.5", 2]},
    ]
    payload["queryDefinition"]["dateRange"] = {"start": "2024-01-01", "end": "2024-01-31"}
    payload["queryDefinition"]["columns"] = [{"name": "notes", "alias": 'a"b'}]
    _, query = validate_request(payload)
    chunk = plan_by_key(1, [], 5, False, 10)[0]
    text = render(sql_builder.select_chunk(query, TENANT, chunk))
    assert "DROP" not in text and "2024" not in text and "1.5" not in text
    assert "\"notes\" LIKE (SELECT current_setting('export.filter_0')::text)" in text
    assert '"id" = ANY(ARRAY(SELECT v::bigint' in text
    assert "current_setting('export.filter_2_low')::numeric" in text
    assert sql_builder.request_settings(query) == {
        "export.filter_0": hostile,
        "export.filter_1": '["1", "2"]',
        "export.filter_2_low": "1.5",
        "export.filter_2_high": "2",
        "export.date_from": "2024-01-01",
        "export.date_to": "2024-01-31",
    }
    assert '"notes" AS "a""b"' in text
    assert f"\"tenant_id\" = '{TENANT}'" in text
    assert '"analytics"."fact_trades"' in text


def test_other_orders_page_with_the_key_as_tie_breaker() -> None:
    payload = request_payload()
    payload["queryDefinition"]["orderBy"] = [{"column": "price", "direction": "DESC"}]
    _, query = validate_request(payload)
    chunk = plan_by_offset(30, 10, 99)[1]
    text = render(sql_builder.select_chunk(query, TENANT, chunk))
    assert text.endswith('ORDER BY "price" DESC, "id" ASC OFFSET 10 LIMIT 10')


def test_arrow_readers_get_the_chosen_types_as_text_under_their_own_names() -> None:
    payload = request_payload()
    payload["queryDefinition"]["columns"] = [
        {"name": "id"},
        {"name": "price", "alias": "px"},
        {"name": "tenant_id"},
    ]
    _, query = validate_request(payload)
    chunk = plan_by_key(1, [], 5, False, 10)[0]
    render_numeric = sql_builder.as_text(ColumnType.NUMERIC)
    text = render(sql_builder.select_chunk(query, TENANT, chunk, render=render_numeric))
    assert text.startswith('SELECT "id" AS "id", "price"::text AS "px", "tenant_id" AS "tenant_id"')
    render_both = sql_builder.as_text(ColumnType.NUMERIC, ColumnType.UUID)
    text = render(sql_builder.select_chunk(query, TENANT, chunk, render=render_both))
    assert '"price"::text AS "px", "tenant_id"::text AS "tenant_id" FROM' in text


def test_copy_forces_quotes_on_text_columns_only() -> None:
    request, query = validate_request(request_payload())
    chunk = plan_by_key(1, [], 5, False, 10)[0]
    text = render(sql_builder.copy_chunk_csv(query, TENANT, chunk, request.csv_options()))
    assert text.endswith(
        "(FORMAT csv, HEADER true, DELIMITER ',', NULL '', FORCE_QUOTE (\"notes\"))"
    )
