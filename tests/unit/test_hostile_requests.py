"""Property tests: thousands of invalid or malicious requests, each rejected with a field and a
reason, or accepted and turned into SQL whose identifiers all come from the catalogue.

What reaches SQL from an accepted request is only ever a quoted literal (filter values, date
bounds, CSV options) or a quoted identifier for an alias: the tests check that every
identifier-like field carrying SQL is rejected, and that accepted values appear in the SQL only
as psycopg-quoted literals.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from domain.catalogue import CATALOGUE
from domain.field_errors import RequestInvalid
from domain.validation import validate_request
from export_contract.plan import ChunkPlan
from export_contract.request import CsvOptions
from extraction import sql_builder
from tests.unit.builders import TENANT, request_payload

INJECTIONS = [
    "id; DROP TABLE analytics.fact_trades; --",
    "id) UNION SELECT * FROM pg_authid --",
    "' OR '1'='1",
    '"; DELETE FROM export_service.export_jobs; --',
    "price/*comment*/",
    "pg_sleep(10)",
    "1=1",
    "tenant_id",
    "*",
    "analytics.fact_trades",
    "../../etc/passwd",
    "\x00",
    "\r\nBcc: victim@example.com",
    "${jndi:ldap://x}",
    "Robert'); DROP TABLE students;--",
    "ID",
    "id ",
    "",
]
hostile_text = st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=80))
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
json_value = st.one_of(json_scalar, st.lists(json_scalar, max_size=5))


@st.composite
def hostile_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request with one part replaced by something hostile or malformed."""
    payload = request_payload()
    query = dict(payload["queryDefinition"])
    where = draw(
        st.sampled_from(
            [
                "source",
                "column",
                "alias",
                "filter_column",
                "operator",
                "value",
                "order",
                "direction",
                "date_range",
                "delimiter",
                "format",
                "s3_key",
                "sftp_path",
                "sftp_host",
                "recipient",
                "subject",
                "extra_field",
                "wrong_type",
            ]
        )
    )
    text = draw(hostile_text)
    match where:
        case "source":
            query["source"] = text
        case "column":
            query["columns"] = [*query["columns"], {"name": text}]
        case "alias":
            query["columns"] = [{"name": "id", "alias": text}]
        case "filter_column":
            query["filters"] = [{"column": text, "operator": "=", "value": 1}]
        case "operator":
            query["filters"] = [{"column": "id", "operator": text, "value": 1}]
        case "value":
            column = draw(st.sampled_from(["id", "symbol", "price", "trade_date", "executed_at"]))
            operator = draw(st.sampled_from(["=", "<>", "IN", "BETWEEN", "LIKE", ">=", "IS NULL"]))
            value = draw(json_value)
            query["filters"] = [{"column": column, "operator": operator, "value": value}]
        case "order":
            query["orderBy"] = [{"column": text}]
        case "direction":
            query["orderBy"] = [{"column": "id", "direction": text}]
        case "date_range":
            start, end = draw(st.dates()), draw(st.dates())
            query["dateRange"] = {"start": start.isoformat(), "end": end.isoformat()}
        case "delimiter":
            payload["formatOptions"] = {"csv": {"delimiter": text, "nullMarker": text}}
        case "format":
            payload["format"] = text
        case "s3_key":
            payload["delivery"] = {"method": "S3", "s3": {"bucket": "b-ok", "key": text}}
        case "sftp_path":
            payload["delivery"] = {
                "method": "SFTP",
                "sftp": {"host": "h", "username": "u", "path": text},
            }
        case "sftp_host":
            payload["delivery"] = {
                "method": "SFTP",
                "sftp": {"host": text, "username": "u", "path": "in"},
            }
        case "recipient":
            payload["delivery"] = {"method": "EMAIL", "email": {"recipients": [text]}}
        case "subject":
            payload["delivery"] = {
                "method": "EMAIL",
                "email": {"recipients": ["a@example.com"], "subject": text},
            }
        case "extra_field":
            query[text or "x"] = "y"
        case "wrong_type":
            key = draw(st.sampled_from(["columns", "filters", "source", "orderBy"]))
            query[key] = draw(json_value)
    payload["queryDefinition"] = query
    return payload


KNOWN_NAMES = {
    name
    for source in CATALOGUE.values()
    for name in (source.schema, source.table, *source.column_names)
}


# Literals and identifiers, scanned left to right so neither is read inside the other.
QUOTED = re.compile(r"'(?:[^']|'')*'|\"((?:[^\"]|\"\")*)\"")


def literals_of(statement: str) -> set[str]:
    """The 'literals' of a statement ("quoted" identifiers skipped)."""
    return {
        m.group(0)[1:-1].replace("''", "'")
        for m in QUOTED.finditer(statement)
        if m.group(1) is None
    }


def identifiers_of(statement: str) -> set[str]:
    """The "quoted" identifiers of a statement ('literals' skipped)."""
    return {
        m.group(1).replace('""', '"') for m in QUOTED.finditer(statement) if m.group(1) is not None
    }


@settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(hostile_payloads())
def test_hostile_requests_are_rejected_by_field_or_become_safe_sql(payload: dict[str, Any]) -> None:
    try:
        request, query = validate_request(payload)
    except RequestInvalid as exc:
        assert exc.errors, "a rejection names at least one field"
        for error in exc.errors:
            assert error.field and error.reason
        return
    chunk = ChunkPlan(index=1, first_row=0, row_count=10, key_min=1, key_max=99)
    csv = request.csv_options() if request.format_options else CsvOptions()
    statements = [
        sql_builder.copy_chunk_csv(query, TENANT, chunk, csv),
        sql_builder.select_chunk(query, TENANT, chunk),
        sql_builder.count_rows(query, TENANT, 99),
    ]
    aliases = {c.output_name for c in query.columns}
    # The only literals: the tenant (from the token), the names of the settings that carry the
    # request's values, a fixed pattern, and the COPY options that cannot be parameters.
    literals = {TENANT, "YYYY-MM", csv.delimiter, csv.null_marker}
    literals |= set(sql_builder.request_settings(query, csv))
    for statement in statements:
        text = statement.as_string(None)
        # Every identifier is the catalogue's, or an output name quoted as one.
        assert identifiers_of(text) <= KNOWN_NAMES | aliases | {"tenant_id"}
        assert literals_of(text) <= literals, "no value of the request is written in SQL"
        for bad in ("DROP TABLE", "pg_authid", "pg_sleep", "DELETE FROM"):
            for found in re.finditer(re.escape(bad), text, flags=re.IGNORECASE):
                assert _inside_quotes(text, found.start()), f"{bad!r} outside a quoted literal"


def _inside_quotes(text: str, position: int) -> bool:
    """Whether `position` lies inside a '...' literal or a "..." identifier."""
    single = double = False
    for char in text[:position]:
        if char == "'" and not double:
            single = not single
        elif char == '"' and not single:
            double = not double
    return single or double


def test_huge_requests_are_rejected_with_a_reason() -> None:
    cases = {
        "name": request_payload(name="x" * (1 << 20)),
        "columns": request_payload(
            queryDefinition={"source": "fact_trades", "columns": [{"name": "id"}] * 10_000}
        ),
        "filters": request_payload(
            queryDefinition={
                "source": "fact_trades",
                "columns": [{"name": "id"}],
                "filters": [{"column": "id", "operator": "=", "value": 1}] * 100_000,
            }
        ),
    }
    for what, payload in cases.items():
        try:
            validate_request(payload)
        except RequestInvalid as exc:
            assert exc.errors[0].reason, what
        else:
            raise AssertionError(f"a request with huge {what} was accepted")


def test_a_reversed_date_range_is_rejected() -> None:
    payload = request_payload()
    payload["queryDefinition"]["dateRange"] = {"start": "2026-02-01", "end": "2026-01-01"}
    try:
        validate_request(payload)
    except RequestInvalid as exc:
        assert any(e.field.startswith("queryDefinition.dateRange") for e in exc.errors)
    else:
        raise AssertionError("a reversed date range was accepted")


def test_literals_are_quoted_by_psycopg() -> None:
    literal = sql.Literal("Robert'); DROP TABLE students;--").as_string(None)
    assert literal == "'Robert''); DROP TABLE students;--'"
