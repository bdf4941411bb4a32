"""The contract on its own: requests validate with the field named, commands survive the
codec byte for byte, and job ids are derived from the command."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from export_contract import codec
from export_contract.ids import job_id_for
from export_contract.models import CancelExport, ExportCompletionNotice, RequestExport
from export_contract.request import ExportFormat, ExportRequest, ExportStatus

TENANT = "11111111-1111-4111-8111-111111111111"
USER = "0d0d0d0d-0000-4000-8000-000000000001"
ISSUED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
REQUEST = {
    "name": "morning trades",
    "queryDefinition": {
        "source": "fact_trades",
        "columns": [{"name": "id"}, {"name": "price", "alias": "Price"}],
        "filters": [{"column": "symbol", "operator": "=", "value": "AAPL"}],
    },
    "format": "CSV",
    "formatOptions": {"csv": {"delimiter": ";", "includeHeaders": True}},
}


def test_a_request_export_survives_the_codec_unchanged() -> None:
    command = RequestExport(
        command_id="cmd-1",
        tenant_id=TENANT,
        user_id=USER,
        roles=["exports:create"],
        issued_at=ISSUED,
        request=ExportRequest.model_validate(REQUEST),
    )
    data = codec.encode(command)
    assert data[:2] == codec.MAGIC
    decoded = codec.decode(data)
    assert decoded == command
    assert isinstance(decoded, RequestExport)
    assert decoded.request.format is ExportFormat.CSV
    assert decoded.request.csv_options().delimiter == ";"


def test_a_cancel_and_a_completion_notice_survive_the_codec() -> None:
    cancel = CancelExport(
        command_id="cmd-2",
        tenant_id=TENANT,
        user_id=USER,
        roles=["exports:create"],
        issued_at=ISSUED,
        job_id=job_id_for(TENANT, "cmd-1"),
        reason="not needed",
    )
    notice = ExportCompletionNotice(
        job_id=job_id_for(TENANT, "cmd-1"),
        command_id="cmd-1",
        tenant_id=TENANT,
        user_id=USER,
        status=ExportStatus.COMPLETED,
        occurred_at=ISSUED,
        total_rows=42,
        files=[],
    )
    assert codec.decode(codec.encode(cancel)) == cancel
    assert codec.decode(codec.encode(notice)) == notice


def test_a_bad_request_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        ExportRequest.model_validate({**REQUEST, "format": "DOCX"})
    assert [error["loc"] for error in refused.value.errors()] == [("format",)]


def test_bytes_that_are_not_a_message_do_not_decode() -> None:
    with pytest.raises(codec.UndecodableMessage, match="single-object"):
        codec.decode(b"{'json': 'not avro'}")
    with pytest.raises(codec.UndecodableMessage, match="unknown schema fingerprint"):
        codec.decode(codec.MAGIC + b"\x00" * 8 + b"body")


def test_a_command_names_its_job_before_the_service_answers() -> None:
    first = job_id_for(TENANT, "cmd-1")
    assert first == job_id_for(TENANT, "cmd-1")
    assert first != job_id_for(TENANT, "cmd-2")
    assert first != job_id_for("22222222-2222-4222-8222-222222222222", "cmd-1")
