"""A command sent to Kafka produces CSV files whose rows are exactly the source rows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from config.settings import Settings
from export_client.kafka_client import ExportClient
from tests.integration.conftest import TENANT_A, TENANT_B, USER_A, body_without_headers, psql_csv

COLUMNS = ["id", "trade_date", "executed_at", "symbol", "quantity", "price", "notional", "notes"]


def files_of(notice_files: list, settings: Settings, job_id: str) -> list[Path]:
    return [settings.store_dir / TENANT_A / job_id / f.name for f in notice_files]


def test_export_matches_psql_copy_row_for_row_across_chunks(
    client: ExportClient, settings: Settings
) -> None:
    request = {
        "name": "AAPL trades in the first quarter",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": c} for c in COLUMNS],
            "filters": [{"column": "symbol", "operator": "=", "value": "AAPL"}],
            "dateRange": {"start": "2026-01-01", "end": "2026-03-31"},
        },
        "format": "CSV",
        "maxRowsPerFile": 3000,
    }
    job_id = client.request_export(TENANT_A, USER_A, request)
    notice = client.wait_for_completion(job_id, timeout=120)

    assert notice.status.value == "COMPLETED", notice.error_message
    expected = psql_csv(
        settings,
        f"SELECT {', '.join(COLUMNS)} FROM analytics.fact_trades WHERE tenant_id = '{TENANT_A}'"
        " AND symbol = 'AAPL' AND trade_date BETWEEN '2026-01-01' AND '2026-03-31' ORDER BY id",
        force_quote=["symbol", "notes"],
    )
    paths = files_of(notice.files, settings, job_id)
    assert len(paths) > 1, "the filter should give several chunks of 3,000 rows"
    assert body_without_headers(paths) == expected
    assert all(p.read_bytes().startswith((",".join(COLUMNS) + "\n").encode()) for p in paths)
    assert notice.total_rows == sum(f.rows for f in notice.files)
    assert all(f.rows <= 3000 for f in notice.files)
    for f, path in zip(notice.files, paths, strict=True):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256
        assert path.stat().st_size == f.bytes
    assert not list(paths[0].parent.glob("*.partial"))


def test_options_and_an_order_by_another_column_are_kept(
    client: ExportClient, settings: Settings
) -> None:
    request = {
        "name": "orders by price, tab separated",
        "queryDefinition": {
            "source": "fact_orders",
            "columns": [
                {"name": "id", "alias": "Order Id"},
                {"name": "limit_price"},
                {"name": "status"},
                {"name": "notes", "alias": "Notes, free text"},
            ],
            "filters": [
                {"column": "status", "operator": "IN", "value": ["OPEN", "FILLED"]},
                {"column": "id", "operator": "<=", "value": 60000},
            ],
            "orderBy": [{"column": "limit_price", "direction": "DESC"}],
        },
        "format": "CSV",
        "formatOptions": {
            "csv": {"delimiter": "\t", "quoteStrings": False, "includeHeaders": True}
        },
        "maxRowsPerFile": 2500,
    }
    job_id = client.request_export(TENANT_A, USER_A, request)
    notice = client.wait_for_completion(job_id, timeout=120)

    assert notice.status.value == "COMPLETED", notice.error_message
    select = (
        'SELECT id AS "Order Id", limit_price, status, notes AS "Notes, free text"'
        f" FROM analytics.fact_orders WHERE tenant_id = '{TENANT_A}'"
        " AND status IN ('OPEN', 'FILLED') AND id <= 60000 ORDER BY limit_price DESC, id"
    )
    reference = psql_csv(settings, select, force_quote=[], delimiter="\t")
    paths = files_of(notice.files, settings, job_id)
    assert len(paths) > 1
    assert body_without_headers(paths) == reference
    assert paths[0].read_bytes().startswith(b"Order Id\tlimit_price\tstatus\tNotes, free text\n")


def test_no_filter_reaches_another_tenants_rows(client: ExportClient, settings: Settings) -> None:
    request = {
        "name": "trying to read tenant B",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id"}, {"name": "tenant_id"}],
            "filters": [{"column": "tenant_id", "operator": "=", "value": TENANT_B}],
        },
        "format": "CSV",
    }
    job_id = client.request_export(TENANT_A, USER_A, request)
    notice = client.wait_for_completion(job_id, timeout=120)

    assert notice.status.value == "COMPLETED"
    assert notice.total_rows == 0
    data = body_without_headers(files_of(notice.files, settings, job_id))
    assert data == b""


def test_every_row_of_a_tenant_export_belongs_to_the_tenant(
    client: ExportClient, settings: Settings
) -> None:
    request = {
        "name": "tenant column check",
        "queryDefinition": {
            "source": "fact_quotes",
            "columns": [{"name": "tenant_id"}, {"name": "id"}],
            "filters": [{"column": "id", "operator": "BETWEEN", "value": [1, 30000]}],
        },
        "format": "CSV",
    }
    job_id = client.request_export(TENANT_A, USER_A, request)
    notice = client.wait_for_completion(job_id, timeout=120)

    lines = body_without_headers(files_of(notice.files, settings, job_id)).splitlines()
    assert len(lines) == 10000
    assert {line.split(b",")[0] for line in lines} == {TENANT_A.encode()}


def test_files_close_at_max_file_bytes_and_still_hold_every_row(
    client: ExportClient, settings: Settings
) -> None:
    request = {
        "name": "size-limited files",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": c} for c in COLUMNS],
            "filters": [{"column": "id", "operator": "<=", "value": 30000}],
        },
        "format": "CSV",
        "maxRowsPerFile": 6000,
        "maxFileBytes": 100_000,
    }
    job_id = client.request_export(TENANT_A, USER_A, request)
    notice = client.wait_for_completion(job_id, timeout=120)

    assert notice.status.value == "COMPLETED", notice.error_message
    paths = files_of(notice.files, settings, job_id)
    assert len(paths) > 10
    assert all(p.stat().st_size <= 100_000 for p in paths)
    assert paths[0].name == "part-00001-001.csv" and paths[-1].name.startswith("part-00002-")
    assert all(p.read_bytes().startswith((",".join(COLUMNS) + "\n").encode()) for p in paths)
    expected = psql_csv(
        settings,
        f"SELECT {', '.join(COLUMNS)} FROM analytics.fact_trades WHERE tenant_id = '{TENANT_A}'"
        " AND id <= 30000 ORDER BY id",
        force_quote=["symbol", "notes"],
    )
    assert body_without_headers(paths) == expected
    assert sum(f.rows for f in notice.files) == notice.total_rows == 10000


def test_size_limited_json_files_are_each_a_valid_array(
    client: ExportClient, settings: Settings
) -> None:
    request = {
        "name": "size-limited JSON",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id"}, {"name": "notes"}],
            "filters": [{"column": "id", "operator": "<=", "value": 30000}],
        },
        "format": "JSON",
        "maxFileBytes": 65_536,
    }
    job_id = client.request_export(TENANT_A, USER_A, request)
    notice = client.wait_for_completion(job_id, timeout=120)

    assert notice.status.value == "COMPLETED", notice.error_message
    paths = files_of(notice.files, settings, job_id)
    assert len(paths) > 3
    assert all(p.stat().st_size <= 65_536 for p in paths)
    ids = [row["id"] for p in paths for row in json.loads(p.read_bytes())]
    assert ids == list(range(3, 30001, 3))
