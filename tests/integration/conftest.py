"""Integration tests run against the real stack that `make test` starts: Kafka, PostgreSQL,
a worker and the API. Nothing here is mocked."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from api.dev_token import DEMO_TENANTS, mint
from config.settings import Settings
from export_client.kafka_client import ExportClient

ROOT = Path(__file__).resolve().parents[2]
# Where the stack keeps its processes' pid files and logs.
PIDS = ROOT / ".stack/pids"
LOGS = ROOT / ".stack/logs"
TENANT_A, TENANT_B, TENANT_C = DEMO_TENANTS
USER_A = "0a0a0a0a-0000-4000-8000-00000000000a"
USER_B = "0b0b0b0b-0000-4000-8000-00000000000b"
# A tenant of its own with 3,000,000 trades, made by the big_tenant fixture.
BIG_TENANT = "55555555-5555-4555-8555-555555555555"
BIG_ROWS = 3_000_000
BIG_FIRST_ID = 10**12
# A small export of tenant A's orders (33 rows), and the rows it must hold.
SMALL_ORDERS_WHERE = f"tenant_id = '{TENANT_A}' AND id < 100"
SMALL_ORDERS = {
    "name": "a small export",
    "queryDefinition": {
        "source": "fact_orders",
        "columns": [{"name": "id"}],
        "filters": [{"column": "id", "operator": "<", "value": 100}],
        "orderBy": [{"column": "id"}],
    },
    "format": "CSV",
}


# Run last: they restart the broker, and after a restart a worker's copy of the limits topic
# was once seen minutes behind, so that the quota tests' overrides did not apply in time.
RUN_LAST = ("test_health.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: Path(str(item.fspath)).name in RUN_LAST)


@pytest.fixture(scope="session")
def settings() -> Settings:
    settings = Settings.from_env()
    try:
        httpx.get(f"{settings.api_url}/healthz", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.fail(f"the API is not running at {settings.api_url} ({exc}); run `make test`")
    return settings


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[ExportClient]:
    export_client = ExportClient(settings.kafka_bootstrap_servers)
    yield export_client
    export_client.close()


class AdminDatabase:
    """The tests' own connection as the database owner, opened again if PostgreSQL restarted
    meanwhile (the health test stops it)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn = psycopg.connect(url, autocommit=True)

    def execute(self, query: Any, params: Any = None) -> psycopg.Cursor[Any]:
        try:
            return self._conn.execute(query, params)
        except psycopg.OperationalError:
            # A restart ended the connection; it shows only at the next statement.
            if not (self._conn.closed or self._conn.broken):
                raise
        self._conn = psycopg.connect(self._url, autocommit=True)
        return self._conn.execute(query, params)

    def close(self) -> None:
        self._conn.close()


@pytest.fixture(scope="session")
def admin_db(settings: Settings) -> Iterator[AdminDatabase]:
    database = AdminDatabase(settings.admin_database_url)
    yield database
    database.close()


def api_client(
    settings: Settings, tenant: str, user: str, roles: list[str] | None = None
) -> httpx.Client:
    token = mint(tenant, user, roles, secret=settings.jwt_secret)
    return httpx.Client(
        base_url=settings.api_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )


def stack(*args: str, env: dict[str, str] | None = None) -> None:
    """Run scripts/stack.sh (restart services, stop or start one server) and wait for it."""
    subprocess.run(
        [str(ROOT / "scripts/stack.sh"), *args],
        check=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )


def wait_for_stack(settings: Settings, workers: int = 1, timeout: float = 120) -> None:
    """Until the API and each worker answer /readyz with 200: `restart-services` returns
    once the processes are started, before they have joined the group and read their tables."""
    urls = [f"{settings.api_url}/readyz"] + [
        f"http://127.0.0.1:{settings.worker_http_port + n}/readyz" for n in range(workers)
    ]
    wait_until_ready(urls, timeout)


def wait_until_ready(urls: list[str], timeout: float) -> None:
    """Until every URL answers 200, within `timeout` seconds for them all."""
    deadline = time.monotonic() + timeout
    for url in urls:
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"not ready within {timeout} s: {url}"
            time.sleep(0.2)


def wait_for_job(
    api: httpx.Client, job_id: str, states: set[str] | None = None, timeout: float = 120
) -> dict[str, Any]:
    """The job's view once the read model has it and, if `states` are given, once its status
    is one of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(f"/v1/exports/{job_id}")
        if response.status_code == 200 and (states is None or response.json()["status"] in states):
            view: dict[str, Any] = response.json()
            return view
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {states or 'the read model'}")


def psql_csv(
    settings: Settings, select: str, force_quote: list[str], delimiter: str = ","
) -> bytes:
    """What psql's \\copy writes for a query: the reference an export is compared with."""
    quoted_delimiter = "E'\\t'" if delimiter == "\t" else f"'{delimiter}'"
    options = ["FORMAT csv", f"DELIMITER {quoted_delimiter}"]
    if force_quote:
        options.append(f"FORCE_QUOTE ({', '.join(force_quote)})")
    command = f"\\copy ({select}) TO STDOUT ({', '.join(options)})"
    env = {**os.environ, "PGOPTIONS": "-c TimeZone=UTC -c DateStyle=ISO,YMD"}
    return subprocess.run(
        ["psql", "-X", "-q", settings.admin_database_url, "-c", command],
        check=True,
        capture_output=True,
        env=env,
    ).stdout


def body_without_headers(paths: list[Path]) -> bytes:
    """The files' rows concatenated in order, each file's header line dropped."""
    out = bytearray()
    for path in paths:
        data = path.read_bytes()
        out += data[data.index(b"\n") + 1 :]
    return bytes(out)


@pytest.fixture(scope="session")
def big_tenant(admin_db: AdminDatabase) -> Iterator[None]:
    """3,000,000 trades of one tenant, made once per session and removed at its end (the
    seed counts whole tables, so they must not stay)."""
    admin_db.execute("DELETE FROM analytics.fact_trades WHERE tenant_id = %s", [BIG_TENANT])
    admin_db.execute(
        "INSERT INTO analytics.fact_trades (id, tenant_id, trade_date, executed_at, symbol, side,"
        " quantity, price, notional, notes)"
        " SELECT %(first)s + i, %(tenant)s, date '2026-01-02' + (i / 10000)::int,"
        " timestamptz '2026-01-02 09:30:00+00' + i * interval '1 second', 'AAPL', 'BUY',"
        " i %% 1000, 100.5, i * 1.5, 'note ' || i"
        " FROM generate_series(1, %(rows)s) AS i",
        {"first": BIG_FIRST_ID, "tenant": BIG_TENANT, "rows": BIG_ROWS},
    )
    admin_db.execute("ANALYZE analytics.fact_trades")
    yield
    admin_db.execute("DELETE FROM analytics.fact_trades WHERE tenant_id = %s", [BIG_TENANT])
