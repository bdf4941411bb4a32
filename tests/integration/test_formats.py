"""Every format round-trips tricky rows: each output is read back with the tool its users
would use and compared value by value with the source rows."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from config.settings import Settings
from domain.validation import ResolvedQuery, validate_request
from export_client.kafka_client import ExportClient
from export_contract.models import ExportCompletionNotice
from export_contract.plan import ChunkPlan, plan_by_key
from extraction.chunk_work import ChunkWork
from extraction.excel_extractor import CUT_MARKER, extract_excel
from extraction.progress import ExtractionStopped, ProgressPolicy
from tests.integration.conftest import AdminDatabase

# A tenant of its own, so these rows never touch the demo tenants' data.
TENANT = "44444444-4444-4444-8444-444444444444"
USER = "0c0c0c0c-0000-4000-8000-00000000000c"
BIG_ID = 9_007_199_254_740_993  # 2**53 + 1: a double cannot hold it
COLUMNS = ["id", "trade_date", "executed_at", "symbol", "quantity", "price", "notional", "notes"]
LONG_TEXT = "é" * 40_000

NOTES = [
    None,
    "",
    "comma, here",
    "quote \"x\" and 'y'",
    "new\nline\r\nand crlf",
    "tab\there",
    "emoji 😀🚀 and 日本語",
    "x" * 10_000,
    "back\\slash \\N",
    LONG_TEXT,
    "NULL",
]
# Instants either side of daylight-saving changes in New York, London and Berlin.
MOMENTS = [
    "2026-03-08 01:59:59.999999-05",
    "2026-03-08 03:00:00-04",
    "2026-03-29 00:59:59+00",
    "2026-03-29 03:00:00.000001+02",
    "2026-10-25 02:30:00+02",
    "2026-10-25 02:30:00+01",
    "2026-11-01 01:30:00-04",
    "2026-11-01 01:30:00-05",
    "1999-12-31 23:59:59.5+00",
    "2038-01-19 03:14:08+00",
    "1970-01-01 00:00:00+00",
]


@pytest.fixture(scope="module")
def tricky_rows(admin_db: AdminDatabase) -> Iterator[list[tuple[Any, ...]]]:
    admin_db.execute("DELETE FROM analytics.fact_trades WHERE tenant_id = %s", [TENANT])
    for i, (note, moment) in enumerate(zip(NOTES, MOMENTS, strict=True)):
        admin_db.execute(
            "INSERT INTO analytics.fact_trades (id, tenant_id, trade_date, executed_at, symbol,"
            " side, quantity, price, notional, notes) VALUES (%s, %s, %s, %s, %s, 'BUY', %s, %s,"
            " %s, %s)",
            [
                BIG_ID + i,
                TENANT,
                date(1999 + i, 12, 31 - i),
                moment,
                ["ÄÖÜ", "A,B", '"Q"'][i % 3],
                Decimal("-12345678901234.5678") if i % 2 else Decimal(i),
                Decimal("-123456789012.345678") if i % 3 else Decimal("0.000001"),
                None if i % 4 == 0 else Decimal("-123456789012345678.123456"),
                note,
            ],
        )
    rows = admin_db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM analytics.fact_trades WHERE tenant_id = %s ORDER BY id",
        [TENANT],
    ).fetchall()
    yield rows
    admin_db.execute("DELETE FROM analytics.fact_trades WHERE tenant_id = %s", [TENANT])


def export(client: ExportClient, export_format: str, **extra: Any) -> ExportCompletionNotice:
    request = {
        "name": f"tricky {export_format}",
        "queryDefinition": {"source": "fact_trades", "columns": [{"name": c} for c in COLUMNS]},
        "format": export_format,
        "maxRowsPerFile": 4,
        **extra,
    }
    notice = client.wait_for_completion(client.request_export(TENANT, USER, request), timeout=120)
    assert notice.status.value == "COMPLETED", notice.error_message
    assert [f.rows for f in notice.files] == [4, 4, 3]
    return notice


def paths(settings: Settings, notice: ExportCompletionNotice) -> list[Path]:
    return [settings.store_dir / TENANT / notice.job_id / f.name for f in notice.files]


def excel_work(
    settings: Settings, query: ResolvedQuery, chunk: ChunkPlan, target: Path, policy: ProgressPolicy
) -> ChunkWork:
    """One chunk written by the Excel writer straight into `target`, as a worker runs it."""
    return ChunkWork(
        settings.reader_database_url, TENANT, query, chunk, lambda _: target, lambda _: None, policy
    )


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("+00", "+00:00") if text.endswith("+00") else text)


def test_csv_round_trips_through_pythons_csv_module(
    client: ExportClient, settings: Settings, tricky_rows: list[tuple[Any, ...]]
) -> None:
    notice = export(
        client,
        "CSV",
        compression="GZIP",
        formatOptions={"csv": {"delimiter": ";", "nullMarker": "\\N", "quoteStrings": True}},
    )
    records: list[list[str]] = []
    for path in paths(settings, notice):
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        assert rows[0] == COLUMNS
        records += rows[1:]
    assert len(records) == len(tricky_rows)
    for got, want in zip(records, tricky_rows, strict=True):
        parsed = [None if v == "\\N" else v for v in got]
        assert int(parsed[0]) == want[0]
        assert date.fromisoformat(parsed[1]) == want[1]
        assert moment(parsed[2]) == want[2]
        assert parsed[3] == want[3]
        assert [None if v is None else Decimal(v) for v in parsed[4:7]] == list(want[4:7])
        # The text "\N" is quoted by quoteStrings, so the csv module cannot tell it from NULL;
        # the row holding it is checked through the raw bytes below.
        if want[7] is None or "\\N" not in want[7]:
            assert parsed[7] == want[7]
    raw = gzip.decompress(paths(settings, notice)[2].read_bytes())
    assert b';\\N;"back\\slash \\N"\n' in raw


@pytest.mark.parametrize("export_format", ["NDJSON", "JSON"])
def test_json_round_trips_with_exact_numbers(
    client: ExportClient,
    settings: Settings,
    tricky_rows: list[tuple[Any, ...]],
    export_format: str,
) -> None:
    notice = export(
        client,
        export_format,
        compression="ZSTD",
        formatOptions={"json": {"pretty": export_format == "JSON"}},
    )
    objects: list[dict[str, Any]] = []
    for path in paths(settings, notice):
        text = (
            zstandard.ZstdDecompressor()
            .decompressobj(read_across_frames=True)
            .decompress(path.read_bytes())
        )
        if export_format == "NDJSON":
            objects += [json.loads(line, parse_float=Decimal) for line in text.splitlines()]
        else:
            objects += json.loads(text, parse_float=Decimal)
    assert len(objects) == len(tricky_rows)
    for got, want in zip(objects, tricky_rows, strict=True):
        assert list(got) == COLUMNS
        assert got["id"] == want[0]
        assert date.fromisoformat(got["trade_date"]) == want[1]
        assert datetime.fromisoformat(got["executed_at"]) == want[2]
        assert got["symbol"] == want[3]
        assert [got["quantity"], got["price"], got["notional"]] == list(want[4:7])
        assert got["notes"] == want[7]


def test_json_epoch_dates_are_exact_seconds(
    client: ExportClient, settings: Settings, tricky_rows: list[tuple[Any, ...]]
) -> None:
    notice = export(client, "NDJSON", formatOptions={"json": {"dateFormat": "EPOCH"}})
    lines = b"".join(p.read_bytes() for p in paths(settings, notice)).splitlines()
    for line, want in zip(lines, tricky_rows, strict=True):
        got = json.loads(line, parse_float=Decimal)
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        micros = (want[2] - epoch) // timedelta(microseconds=1)
        assert Decimal(got["executed_at"]) == Decimal(micros) / 10**6
        assert Decimal(got["trade_date"]) == (want[1] - date(1970, 1, 1)).days * 86400


def test_parquet_keeps_exact_types(
    client: ExportClient, settings: Settings, tricky_rows: list[tuple[Any, ...]]
) -> None:
    notice = export(
        client, "PARQUET", formatOptions={"parquet": {"compression": "ZSTD", "rowGroupSize": 1000}}
    )
    tables = [pq.read_table(p) for p in paths(settings, notice)]
    schema = tables[0].schema
    assert schema.field("quantity").type == pa.decimal128(18, 4)
    assert schema.field("price").type == pa.decimal128(18, 6)
    assert schema.field("notional").type == pa.decimal128(24, 6)
    assert schema.field("executed_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("trade_date").type == pa.date32()
    assert schema.field("id").type == pa.int64()
    rows = [r for t in tables for r in t.to_pylist()]
    for got, want in zip(rows, tricky_rows, strict=True):
        assert tuple(got[c] for c in COLUMNS) == want
    # Dictionary pages for text and dates, whose values repeat; plain ones for keys,
    # timestamps and measures.
    group = pq.ParquetFile(paths(settings, notice)[0]).metadata.row_group(0)
    encoded = {
        group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)
    }
    for name in ("symbol", "trade_date"):
        assert "RLE_DICTIONARY" in encoded[name], name
    for name in ("id", "executed_at", "price"):
        assert "RLE_DICTIONARY" not in encoded[name], name


def test_excel_has_typed_cells_and_notes_cut_text(
    client: ExportClient, settings: Settings, tricky_rows: list[tuple[Any, ...]]
) -> None:
    notice = export(client, "EXCEL", formatOptions={"excel": {"sheetName": "Trades"}})
    cells: list[tuple[Any, ...]] = []
    for path in paths(settings, notice):
        sheet = openpyxl.load_workbook(path, read_only=True)["Trades"]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == ("id", "trade_date", "executed_at (UTC)", *COLUMNS[3:])
        cells += rows[1:]
    for got, want in zip(cells, tricky_rows, strict=True):
        # Past 2**53 a double cannot hold an id, so such ids are text cells, digit for digit.
        assert got[0] == (str(want[0]) if want[0] > 2**53 else want[0])
        assert got[1] == datetime.combine(want[1], datetime.min.time())
        assert abs(got[2] - want[2].astimezone(UTC).replace(tzinfo=None)).total_seconds() < 0.001
        assert got[3] == want[3]
        for value, source in zip(got[4:7], want[4:7], strict=True):
            assert (value is None and source is None) or value == pytest.approx(float(source))
        if want[7] == LONG_TEXT:
            assert got[7].endswith(CUT_MARKER) and len(got[7]) == 32_767
        else:
            # OOXML writes a carriage return as _x000D_; Excel decodes it, openpyxl does not.
            text = got[7].replace("_x000D_", "\r") if isinstance(got[7], str) else got[7]
            assert text == want[7]
    manifest = json.loads(
        (settings.store_dir / TENANT / notice.job_id / "manifest.json").read_text()
    )
    assert any("cut" in note for note in manifest["notes"])
    # Dates and times are date cells with their formats; the header is bold, frozen, filtered.
    sheet = openpyxl.load_workbook(paths(settings, notice)[0])["Trades"]
    assert [c.number_format for c in sheet[3][:7]] == [
        "General", "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss.000", "General", "0.0000", "0.000000",
        "0.000000",
    ]  # fmt: skip
    assert all(c.font.b for c in sheet[1]) and sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:H5"


def test_an_excel_file_continues_on_further_sheets(
    settings: Settings, tricky_rows: list[tuple[Any, ...]], tmp_path: Path
) -> None:
    request, query = validate_request(
        {
            "name": "sheets",
            "format": "EXCEL",
            "queryDefinition": {"source": "fact_trades", "columns": [{"name": "id"}]},
            "formatOptions": {"excel": {"sheetName": "Data"}},
        }
    )
    chunk = plan_by_key(len(tricky_rows), [], BIG_ID + 100, False, 100)[0]
    result = extract_excel(
        excel_work(settings, query, chunk, tmp_path / "x.xlsx", ProgressPolicy()),
        request.excel_options(),
        sheet_rows=5,
    )
    book = openpyxl.load_workbook(result.path, read_only=True)
    assert book.sheetnames == ["Data", "Data (2)", "Data (3)"]
    ids = [
        row[0]
        for name in book.sheetnames
        for row in list(book[name].iter_rows(values_only=True))[1:]
    ]
    assert ids == [str(r[0]) for r in tricky_rows]
    assert result.rows == len(tricky_rows) and "Data (2), Data (3)" in result.notes[0]


def test_an_excel_file_without_headers_holds_uuids_as_text(
    settings: Settings, tricky_rows: list[tuple[Any, ...]], tmp_path: Path
) -> None:
    request, query = validate_request(
        {
            "name": "no headers",
            "format": "EXCEL",
            "queryDefinition": {
                "source": "fact_trades",
                "columns": [{"name": "tenant_id"}, {"name": "id"}, {"name": "notes"}],
            },
            "formatOptions": {"excel": {"includeHeaders": False}},
        }
    )
    chunk = plan_by_key(len(tricky_rows), [], BIG_ID + 100, False, 100)[0]
    result = extract_excel(
        excel_work(settings, query, chunk, tmp_path / "x.xlsx", ProgressPolicy()),
        request.excel_options(),
        sheet_rows=5,
    )
    book = openpyxl.load_workbook(result.path)
    assert book.sheetnames == ["Data", "Data (2)", "Data (3)"]
    assert book["Data"].freeze_panes is None and book["Data"].auto_filter.ref is None
    rows = [row for name in book.sheetnames for row in book[name].iter_rows(values_only=True)]
    for got, want in zip(rows, tricky_rows, strict=True):
        assert got[:2] == (TENANT, str(want[0]))
        text = got[2].replace("_x000D_", "\r") if isinstance(got[2], str) else got[2]
        assert text == want[7] or (want[7] == LONG_TEXT and text.endswith(CUT_MARKER))
    assert result.rows == len(tricky_rows) and result.sha256 and len(result.notes) == 2


def test_a_stopped_excel_export_leaves_no_file_behind(
    settings: Settings, tricky_rows: list[tuple[Any, ...]], tmp_path: Path
) -> None:
    request, query = validate_request(
        {
            "name": "stopped",
            "format": "EXCEL",
            "queryDefinition": {"source": "fact_trades", "columns": [{"name": c} for c in COLUMNS]},
        }
    )
    chunk = plan_by_key(len(tricky_rows), [], BIG_ID + 100, False, 100)[0]
    with pytest.raises(ExtractionStopped, match="cancelled"):
        policy = ProgressPolicy(stop_check=lambda _stored: "cancelled")
        extract_excel(
            excel_work(settings, query, chunk, tmp_path / "x.xlsx", policy),
            request.excel_options(),
        )
    assert list(tmp_path.iterdir()) == []


def test_excel_puts_each_value_of_a_column_on_its_own_sheet(
    client: ExportClient, settings: Settings, tricky_rows: list[tuple[Any, ...]]
) -> None:
    request = {
        "name": "a sheet per symbol",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id"}, {"name": "symbol"}],
        },
        "format": "EXCEL",
        "formatOptions": {"excel": {"sheetBy": "symbol"}},
    }
    notice = client.wait_for_completion(client.request_export(TENANT, USER, request), 120)
    assert notice.status.value == "COMPLETED", notice.error_message
    book = openpyxl.load_workbook(paths(settings, notice)[0], read_only=True)
    symbols = sorted({r[3] for r in tricky_rows})
    assert book.sheetnames == symbols
    for name in book.sheetnames:
        rows = list(book[name].iter_rows(values_only=True))[1:]
        assert {r[1] for r in rows} == {name}
        expected = [str(r[0]) for r in tricky_rows if r[3] == name]
        assert [r[0] for r in rows] == expected


def test_the_manifest_lists_every_file_with_its_checksum(
    client: ExportClient, settings: Settings, tricky_rows: list[tuple[Any, ...]]
) -> None:
    notice = export(client, "CSV", compression="ZSTD")
    folder = settings.store_dir / TENANT / notice.job_id
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "CSV" and manifest["compression"] == "ZSTD"
    assert [c["name"] for c in manifest["schema"]] == COLUMNS
    assert manifest["schema"][4] == {
        "name": "quantity",
        "sourceColumn": "quantity",
        "type": "numeric",
        "precision": 18,
        "scale": 4,
    }
    assert manifest["totalRows"] == len(tricky_rows)
    assert manifest["snapshot"]["highWaterMark"] == BIG_ID + len(tricky_rows) - 1
    assert [(f["name"], f["sha256"]) for f in manifest["files"]] == [
        (f.name, f.sha256) for f in notice.files
    ]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["manifest.json", *(f.name for f in notice.files)]
    )
