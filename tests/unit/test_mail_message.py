"""The mail an export sends: link or attachments, and why; never an injected header."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from delivery.mail_message import MailFacts, build_message
from export_contract.models import ExportFile
from export_contract.request import EmailDelivery, ExportStatus

FILES = [
    ExportFile(chunk_index=i, name=f"part-0000{i}.csv", path=f"/p{i}", rows=2, bytes=6, sha256="0")
    for i in (1, 2)
]


def facts(outcome: ExportStatus = ExportStatus.COMPLETED, name: str = "trades") -> MailFacts:
    return MailFacts(
        job_id="job-1",
        export_name=name,
        outcome=outcome,
        files=FILES if outcome is ExportStatus.COMPLETED else [],
        download_url="http://api/v1/links/job-1/export.zip?sig=x",
        expires_at=datetime(2026, 12, 3, tzinfo=UTC),
        error_message="chunk 1 failed: boom",
    )


def read(file: ExportFile) -> bytes:
    return f"{file.name}!".encode()


def test_small_exports_are_attached_byte_for_byte() -> None:
    settings = EmailDelivery(recipients=["a@example.com"], attach_file=True, include_link=False)
    message = build_message(facts(), settings, "exports@example.com", read)
    attachments = {a.get_filename(): a.get_payload(decode=True) for a in message.iter_attachments()}
    assert attachments == {f.name: read(f) for f in FILES}
    assert "http://api" not in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_over_the_limit_the_mail_carries_the_link_and_says_why() -> None:
    settings = EmailDelivery(
        recipients=["a@example.com"], attach_file=True, include_link=False, max_attachment_size=11
    )
    calls: list[ExportFile] = []
    message = build_message(facts(), settings, "x@example.com", lambda f: calls.append(f) or b"")
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert list(message.iter_attachments()) == [] and calls == []
    assert "over the 11-byte attachment limit" in body
    assert "http://api/v1/links/job-1/export.zip" in body


def test_a_failed_export_sends_a_short_failure_mail() -> None:
    settings = EmailDelivery(recipients=["a@example.com", "b@example.com"])
    message = build_message(facts(ExportStatus.FAILED), settings, "x@example.com", read)
    assert message["Subject"] == "Your export 'trades' failed"
    assert message["To"] == "a@example.com, b@example.com"
    assert "chunk 1 failed: boom" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_an_export_name_with_line_breaks_cannot_add_headers() -> None:
    settings = EmailDelivery(recipients=["a@example.com"])
    message = build_message(facts(name="x\r\nBcc: victim@example.com"), settings, "s@e.com", read)
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"]


def test_a_subject_with_a_line_break_is_refused_by_the_message_itself() -> None:
    # Validation rejects it first; this is the second wall.
    settings = EmailDelivery(recipients=["a@example.com"], subject="x\r\nBcc: v@example.com")
    with pytest.raises(ValueError):
        build_message(facts(), settings, "s@example.com", read)
