"""Delivery settings are checked at the door: paths, hosts, addresses, subjects."""

from __future__ import annotations

from typing import Any

import pytest

from domain.validation import RequestInvalid, validate_request
from tests.unit.builders import request_payload


def delivery_errors(config: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(RequestInvalid) as caught:
        validate_request(request_payload(delivery=config))
    return {e.field: e.reason for e in caught.value.errors}


def s3(**fields: Any) -> dict[str, Any]:
    return {"method": "S3", "s3": {"bucket": "customer-exports", "key": "in/daily", **fields}}


def sftp(**fields: Any) -> dict[str, Any]:
    return {
        "method": "SFTP",
        "sftp": {"host": "sftp.example.com", "username": "acme", "path": "/in", **fields},
    }


def email(**fields: Any) -> dict[str, Any]:
    return {"method": "EMAIL", "email": {"recipients": ["ops@example.com"], **fields}}


@pytest.mark.parametrize("config", [s3(), sftp(), email(), sftp(path="drop/today"), s3(key="")])
def test_sane_settings_pass(config: dict[str, Any]) -> None:
    validate_request(request_payload(delivery=config))


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("../other-tenant", "'..'"),
        ("in/../../x", "'..'"),
        ("/etc/passwd", "relative"),
        ("in\\x", "'/'"),
        ("in\nx", "control"),
        ("./in", "'.'"),
    ],
)
def test_s3_keys_cannot_leave_their_prefix(key: str, reason: str) -> None:
    assert reason in delivery_errors(s3(key=key))["delivery.s3.key"]


def test_bad_bucket_region_and_profile_names_are_rejected() -> None:
    errors = delivery_errors(s3(bucket="Bad_Bucket", region="us-east-1; rm", profile="../x"))
    assert set(errors) == {"delivery.s3.bucket", "delivery.s3.region", "delivery.s3.profile"}


@pytest.mark.parametrize("path", ["../../root", "/in/../..", "in\x00x", "a/./b"])
def test_sftp_paths_cannot_climb(path: str) -> None:
    assert "delivery.sftp.path" in delivery_errors(sftp(path=path))


@pytest.mark.parametrize("host", ["-oProxyCommand=x", "a b", "host;rm", "", "a" * 300])
def test_sftp_hosts_must_be_host_names(host: str) -> None:
    assert "delivery.sftp.host" in delivery_errors(sftp(host=host))


def test_sftp_port_and_username_are_checked() -> None:
    errors = delivery_errors(sftp(port=70000, username="root\nx"))
    assert {"delivery.sftp.port", "delivery.sftp.username"} <= set(errors)


@pytest.mark.parametrize(
    "recipient",
    [
        "ops@example.com\r\nBcc: victim@example.com",
        "Ops <ops@example.com>",
        "ops@example.com, other@example.com",
        "no-at-sign",
        "a@b",
        "a..b@example.com",
        "",
    ],
)
def test_recipients_must_be_plain_addresses(recipient: str) -> None:
    assert "delivery.email.recipients[0]" in delivery_errors(email(recipients=[recipient]))


@pytest.mark.parametrize(
    "subject",
    # NEL and the separators were found by the hostile-request test: the mail library split
    # the header at them and refused to send, after the request had been accepted.
    ["Hi\r\nBcc: victim@example.com", "x\ny", "tab\there", "a\x85b", "a\u2028b", "a\u2029b"],
)
def test_subjects_cannot_carry_headers(subject: str) -> None:
    assert "line breaks" in delivery_errors(email(subject=subject))["delivery.email.subject"]


def test_recipient_count_and_attachment_size_are_bounded() -> None:
    errors = delivery_errors(
        email(recipients=[f"u{i}@example.com" for i in range(51)], maxAttachmentSize=1 << 30)
    )
    assert {"delivery.email.recipients", "delivery.email.maxAttachmentSize"} <= set(errors)
