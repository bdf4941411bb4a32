"""COPY rows read straight from libpq: the bytes psql writes, errors as psycopg raises them,
and a connection still usable after a COPY left early or failed."""

from __future__ import annotations

import hashlib

import psycopg
import pytest
from psycopg import errors

from config.settings import Settings
from extraction.copy_out import CopyOut
from tests.integration.conftest import psql_csv

SELECT = (
    "SELECT id, tenant_id, executed_at, symbol, quantity, price, notional, notes"
    " FROM analytics.fact_trades"
    " WHERE id <= 200000 ORDER BY id"
)


def connect(settings: Settings, autocommit: bool = False) -> psycopg.Connection[tuple[object]]:
    return psycopg.connect(
        settings.admin_database_url,
        autocommit=autocommit,
        options="-c TimeZone=UTC -c DateStyle=ISO,YMD",
    )


def test_rows_are_the_bytes_psql_writes(settings: Settings) -> None:
    digest, rows = hashlib.sha256(), 0
    with (
        connect(settings) as conn,
        CopyOut(conn, f"COPY ({SELECT}) TO STDOUT (FORMAT csv)".encode()) as copy,
    ):
        for row in copy:
            digest.update(row)
            rows += 1
    expected = psql_csv(settings, SELECT, [])
    assert rows == 200_000  # ids are dense; some notes hold line breaks, so no line count
    assert digest.hexdigest() == hashlib.sha256(expected).hexdigest()


@pytest.mark.parametrize("autocommit", [False, True])
def test_leaving_early_cancels_and_the_connection_goes_on(
    settings: Settings, autocommit: bool
) -> None:
    statement = b"COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 50000000) g) TO STDOUT"
    with connect(settings, autocommit) as conn:
        # As in an extractor, the session is set up first (which opens the transaction).
        conn.execute("SELECT set_config('application_name', 'copy-out test', true)")
        taken = []
        with pytest.raises(RuntimeError, match="enough"), CopyOut(conn, statement) as rows:
            for row in rows:
                taken.append(bytes(row))
                if len(taken) == 3:
                    raise RuntimeError("enough")
        assert taken[0] == b"1\t" + b"x" * 100 + b"\n"
        if not autocommit:
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
            conn.rollback()
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)


def test_an_error_midway_is_raised_as_psycopg_raises_it(settings: Settings) -> None:
    statement = b"COPY (SELECT pg_sleep(0.01), g FROM generate_series(1, 1000) g) TO STDOUT"
    timeout = pytest.raises(errors.QueryCanceled, match="statement timeout")
    with connect(settings) as conn:
        conn.execute("SET LOCAL statement_timeout = '200ms'")
        taken = 0
        with timeout, CopyOut(conn, statement) as rows:
            for _ in rows:
                taken += 1
        assert 0 < taken < 1000
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_an_error_at_the_start_is_raised_before_any_row(settings: Settings) -> None:
    statement = b"COPY (SELECT no_such_column FROM analytics.fact_trades) TO STDOUT"
    with connect(settings) as conn:
        with (
            pytest.raises(errors.UndefinedColumn, match="no_such_column"),
            CopyOut(conn, statement),
        ):
            pass
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)
