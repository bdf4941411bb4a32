"""The one way every extraction opens its database session: read only, one snapshot, the
tenant set for row-level security, and the request's settings.

The planner and the estimate use psycopg's async connections, the text formats psycopg's
blocking COPY, Parquet and Excel ADBC's Arrow batches; each has its opener here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import IsolationLevel

if TYPE_CHECKING:
    from adbc_driver_postgresql.dbapi import Cursor as ArrowCursor

# The tenant for row-level security; output settings that make text output stable
# (timestamps in UTC and ISO style, whatever the server's defaults are); and the request's
# values, which statements read back with current_setting (extraction.sql_builder).
# `set_config(..., true)` is the parameterised form of SET LOCAL: every value is bound,
# none is written into the statement.
_SETTINGS = (
    "SELECT set_config('app.tenant_id', {tenant}, true),"
    " set_config('TimeZone', 'UTC', true),"
    " set_config('DateStyle', 'ISO, YMD', true),"
    " set_config('IntervalStyle', 'iso_8601', true),"
    " (SELECT count(set_config(key, value, true)) FROM json_each_text({request}::json))"
)
# psycopg's placeholders, and ADBC's (PostgreSQL's own, by position).
SESSION_SETTINGS = _SETTINGS.format(tenant="%(tenant)s", request="%(request)s")
SESSION_SETTINGS_POSITIONAL = _SETTINGS.format(tenant="$1", request="$2")


def session_parameters(tenant_id: str, request: Mapping[str, str]) -> dict[str, str]:
    """The values SESSION_SETTINGS binds: the tenant, and the request's settings as JSON."""
    return {"tenant": tenant_id, "request": json.dumps(dict(request))}


async def read_only_snapshot(conn: psycopg.AsyncConnection[Any]) -> None:
    """Make an async connection's transactions read only, each on one snapshot."""
    await conn.set_isolation_level(IsolationLevel.REPEATABLE_READ)
    await conn.set_read_only(True)


async def enter_tenant(
    conn: psycopg.AsyncConnection[Any], tenant_id: str, request: Mapping[str, str]
) -> None:
    """Apply the session settings inside the transaction the caller has begun."""
    await conn.execute(SESSION_SETTINGS, session_parameters(tenant_id, request))


@contextmanager
def copy_session(
    conninfo: str, tenant_id: str, request: Mapping[str, str]
) -> Iterator[psycopg.Cursor[Any]]:
    """A blocking cursor in a read-only, repeatable-read transaction, for COPY."""
    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute(SESSION_SETTINGS, session_parameters(tenant_id, request))
            yield cursor


@contextmanager
def arrow_session(
    conninfo: str, tenant_id: str, request: Mapping[str, str], batch_bytes: int
) -> Iterator[ArrowCursor]:
    """An ADBC cursor in a read-only, repeatable-read transaction, whose record batches are
    about `batch_bytes` each. ADBC is imported here, when first used: with pyarrow it adds
    some 80 MB to a worker that may only ever write CSV."""
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(conninfo) as conn, conn.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        session = session_parameters(tenant_id, request)
        cursor.execute(
            SESSION_SETTINGS_POSITIONAL, parameters=(session["tenant"], session["request"])
        )
        cursor.fetchall()
        cursor.adbc_statement.set_options(
            **{"adbc.postgresql.batch_size_hint_bytes": str(batch_bytes)}
        )
        yield cursor
        conn.rollback()
