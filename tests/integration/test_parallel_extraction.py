"""One file read by several COPY streams at once: the file is still exactly what one psql
`\\copy` writes, compressed or not, split by size or not, in either key order."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from config.settings import Settings
from export_client.kafka_client import ExportClient
from export_contract.models import ExportCompletionNotice
from tests.integration.conftest import (
    TENANT_A,
    USER_A,
    body_without_headers,
    psql_csv,
)
from tests.integration.test_health import metric, worker_url

COLUMNS = ["id", "trade_date", "executed_at", "symbol", "quantity", "price", "notional", "notes"]
# About 50,000 of tenant A's rows: one chunk, which the local stack reads with three streams.
LAST_ID = 150_000
SOURCE = (
    f"SELECT {', '.join(COLUMNS)} FROM analytics.fact_trades"
    f" WHERE tenant_id = '{TENANT_A}' AND id <= {LAST_ID}"
)
DECOMPRESS = {"GZIP": ["gzip", "-dc"], "ZSTD": ["zstd", "-dcq"]}


def streams_so_far() -> float:
    return metric(worker_url("/metrics"), "export_copy_streams_total") or 0.0


def export(client: ExportClient, **request: Any) -> tuple[ExportCompletionNotice, float]:
    """The export's notice, and how many COPY streams the worker opened for it."""
    body = {
        "name": "one file, several streams",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": c} for c in COLUMNS],
            "filters": [{"column": "id", "operator": "<=", "value": LAST_ID}],
            **request.pop("query", {}),
        },
        "format": "CSV",
        **request,
    }
    before = streams_so_far()
    job_id = client.request_export(TENANT_A, USER_A, body)
    notice = client.wait_for_completion(job_id, timeout=120)
    assert notice.status.value == "COMPLETED", notice.error_message
    return notice, streams_so_far() - before


def stored(settings: Settings, notice: ExportCompletionNotice) -> list[Path]:
    folder = settings.store_dir / TENANT_A / notice.job_id
    paths = [folder / f.name for f in notice.files]
    for f, path in zip(notice.files, paths, strict=True):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256
        assert path.stat().st_size == f.bytes
    leftovers = [p.name for p in folder.iterdir() if p.name.endswith((".partial", ".spool"))]
    assert not leftovers and not list(folder.glob("*.segment-*")), "spools were left behind"
    return paths


def source_rows(settings: Settings) -> int:
    with psycopg.connect(settings.admin_database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM ({SOURCE}) s").fetchone()
    assert row is not None
    return int(row[0])


def decompressed(path: Path, compression: str) -> bytes:
    """The file as the stock command-line tool reads it."""
    if compression == "NONE":
        return path.read_bytes()
    command = [*DECOMPRESS[compression], str(path)]
    return subprocess.run(command, check=True, capture_output=True).stdout


@pytest.mark.parametrize("compression", ["NONE", "GZIP", "ZSTD"])
def test_one_file_read_by_three_streams_is_byte_for_byte_psqls_copy(
    client: ExportClient, settings: Settings, compression: str
) -> None:
    notice, streams = export(client, compression=compression)

    assert streams == 3, "the chunk should be read by three streams"
    [path] = stored(settings, notice)
    expected = psql_csv(settings, SOURCE + " ORDER BY id", force_quote=["symbol", "notes"])
    header = (",".join(COLUMNS) + "\n").encode()
    assert decompressed(path, compression) == header + expected
    assert notice.files[0].rows == notice.total_rows == source_rows(settings)


def test_descending_keys_come_out_in_order_across_streams(
    client: ExportClient, settings: Settings
) -> None:
    notice, streams = export(
        client,
        query={"orderBy": [{"column": "id", "direction": "DESC"}]},
        formatOptions={"csv": {"includeHeaders": False, "delimiter": ";"}},
    )

    assert streams == 3
    [path] = stored(settings, notice)
    expected = psql_csv(
        settings, SOURCE + " ORDER BY id DESC", force_quote=["symbol", "notes"], delimiter=";"
    )
    assert path.read_bytes() == expected


@pytest.mark.parametrize("compression", ["NONE", "GZIP"])
def test_size_limited_files_from_several_streams_hold_every_row_once_in_order(
    client: ExportClient, settings: Settings, compression: str
) -> None:
    limit = 400_000
    notice, streams = export(client, maxFileBytes=limit, compression=compression)

    assert streams == 3
    paths = stored(settings, notice)
    suffix = ".gz" if compression == "GZIP" else ""
    assert [p.name for p in paths] == [
        f"part-00001-{n:03d}.csv{suffix}" for n in range(1, len(paths) + 1)
    ]
    contents = [decompressed(p, compression) for p in paths]
    assert len(contents) > 3 and all(len(c) <= limit for c in contents)
    header = (",".join(COLUMNS) + "\n").encode()
    assert all(c.startswith(header) for c in contents)
    plain = [p.with_name(p.name + ".plain") for p in paths]
    for target, content in zip(plain, contents, strict=True):
        target.write_bytes(content)
    try:
        body = body_without_headers(plain)
    finally:
        for target in plain:
            target.unlink()
    expected = psql_csv(settings, SOURCE + " ORDER BY id", force_quote=["symbol", "notes"])
    assert body == expected
    assert sum(f.rows for f in notice.files) == notice.total_rows


def row_to_json_lines(settings: Settings, pretty: bool) -> list[str]:
    """What PostgreSQL's row_to_json writes for each source row in key order, in UTC as the
    service's sessions are."""
    statement = f"SELECT row_to_json(r, {str(pretty).lower()})::text FROM ({SOURCE} ORDER BY id) r"
    with psycopg.connect(settings.admin_database_url, options="-c TimeZone=UTC") as conn:
        return [row[0] for row in conn.execute(statement)]


@pytest.mark.parametrize("export_format", ["NDJSON", "JSON", "PRETTY JSON"])
def test_json_from_several_streams_is_row_to_json_joined_once(
    client: ExportClient, settings: Settings, export_format: str
) -> None:
    pretty = export_format == "PRETTY JSON"
    notice, streams = export(
        client,
        format="NDJSON" if export_format == "NDJSON" else "JSON",
        formatOptions={"json": {"pretty": pretty}},
    )

    assert streams == 3
    [path] = stored(settings, notice)
    objects = row_to_json_lines(settings, pretty)
    data = path.read_bytes()
    if export_format == "NDJSON":
        assert data == "".join(o + "\n" for o in objects).encode()
    elif not pretty:
        assert data == ("[\n" + ",\n".join(objects) + "\n]\n").encode()
    else:
        assert json.loads(data) == [json.loads(o) for o in objects]
