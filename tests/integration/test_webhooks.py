"""Webhook delivery on the real stack: a receiver started by the test (stack/webhook_receiver.py
on the port the stack's tenants allow) checks each notice's signature and keeps what arrived;
the test checks the signature again itself, and the notice against the source rows."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from config.settings import Settings
from export_client.kafka_client import ExportClient
from tests.integration.conftest import ROOT, TENANT_A, USER_A, api_client
from tests.integration.test_delivery import env, rows_of, source_csv, trades_request, wait_for

# Its configuration refuses private and loopback addresses (the stack's setup says so).
PUBLIC_ONLY_TENANT = "44444444-4444-4444-8444-444444444444"
PUBLIC_ONLY_USER = "0d0d0d0d-0000-4000-8000-00000000000d"


def signing_key(tenant: str) -> bytes:
    config = json.loads(Path(env("EXPORT_DELIVERY_SECRETS")).read_text())
    key: str = config["tenants"][tenant]["webhookSecrets"]["default"]["signingKey"]
    return key.encode()


@contextmanager
def receiver(folder: Path, fail_first: int = 0) -> Iterator[str]:
    """A webhook receiver for the duration; yields its URL."""
    port = env("STACK_WEBHOOK_TEST_PORT")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "stack/webhook_receiver.py"), "--port", port]
        + ["--folder", str(folder), "--signing-key", signing_key(TENANT_A).decode()]
        + ["--fail-first", str(fail_first)]
    )
    try:
        wait_for(lambda: _answers(port), 20, f"the webhook receiver on port {port}")
        yield f"http://127.0.0.1:{port}/exports/in?team=ops"
    finally:
        process.terminate()
        process.wait(10)


def _answers(port: str) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    except httpx.HTTPError:
        return False
    return True


def received(folder: Path) -> list[dict[str, Any]]:
    records = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    return sorted(records, key=lambda r: int(r["attempt"]))


def webhook(url: str) -> dict[str, Any]:
    return {"method": "WEBHOOK", "webhook": {"url": url}}


def assert_signed(record: dict[str, Any], key: bytes) -> None:
    """The signature as a receiver would check it, computed here, not by the receiver."""
    headers = {k.lower(): v for k, v in record["headers"].items()}
    timestamp = headers["x-export-timestamp"]
    assert abs(int(timestamp) - time.time()) < 300, "the timestamp is the time of sending"
    digest = hmac.new(key, f"{timestamp}.{record['body']}".encode(), hashlib.sha256).hexdigest()
    assert headers["x-export-signature"] == f"sha256={digest}"
    assert record["signatureValid"]


def test_the_receiver_gets_a_signed_notice_of_the_exported_rows(
    client: ExportClient, settings: Settings, tmp_path: Path
) -> None:
    with receiver(tmp_path) as url:
        job_id = client.request_export(TENANT_A, USER_A, trades_request(webhook(url)))
        notice = client.wait_for_completion(job_id, timeout=120)
        assert notice.status.value == "COMPLETED", notice.error_message
        assert notice.delivery_status == "DELIVERED", notice.delivery_error
    (record,) = received(tmp_path)
    assert record["path"] == "/exports/in?team=ops"
    assert_signed(record, signing_key(TENANT_A))
    headers = {k.lower(): v for k, v in record["headers"].items()}
    assert headers["x-export-notice-id"] == job_id
    assert headers["content-type"] == "application/json"

    body = json.loads(record["body"])
    source = source_csv(settings, TENANT_A)
    assert body["totalRows"] == notice.total_rows == sum(f["rows"] for f in body["files"]) > 0
    assert (body["jobId"], body["status"], body["deliveryMethod"]) == (
        job_id,
        "COMPLETED",
        "WEBHOOK",
    )
    assert body["tenantId"] == TENANT_A and body["userId"] == USER_A
    assert [(f["name"], f["rows"], f["sha256"]) for f in body["files"]] == [
        (f.name, f.rows, f.sha256) for f in notice.files
    ]
    assert body["links"]["self"] == f"{settings.api_url}/v1/exports/{job_id}"
    assert body["links"]["download"] == notice.download_url
    # The link the notice carries downloads every row of the source, in order.
    download = httpx.get(body["links"]["download"], timeout=60)
    assert download.status_code == 200, download.text
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        files = [archive.read(f["name"]) for f in body["files"]]
    assert rows_of(files) == source


def test_a_receiver_failing_twice_gets_three_attempts(
    client: ExportClient, settings: Settings, tmp_path: Path
) -> None:
    with receiver(tmp_path, fail_first=2) as url:
        job_id = client.request_export(TENANT_A, USER_A, trades_request(webhook(url)))
        notice = client.wait_for_completion(job_id, timeout=120)
        assert notice.delivery_status == "DELIVERED", notice.delivery_error
    records = received(tmp_path)
    assert [r["answered"] for r in records] == [503, 503, 204]
    key = signing_key(TENANT_A)
    for record in records:
        assert_signed(record, key)
        assert json.loads(record["body"])["jobId"] == job_id
    view = api_client(settings, TENANT_A, USER_A).get(f"/v1/exports/{job_id}").json()
    assert view["deliveryAttempts"] == 3


def test_a_url_resolving_to_a_private_address_is_refused_unless_allowed(
    client: ExportClient, settings: Settings, tmp_path: Path
) -> None:
    port = env("STACK_WEBHOOK_TEST_PORT")
    # Allowed by prefix for every stack tenant; `localhost` resolves to a loopback address.
    request = trades_request(webhook(f"http://localhost:{port}/exports/in"))

    refused = api_client(settings, PUBLIC_ONLY_TENANT, PUBLIC_ONLY_USER).post(
        "/v1/exports", json=request
    )
    assert refused.status_code == 400, refused.text
    (detail,) = refused.json()["details"]
    assert detail["field"] == "delivery.webhook.url"
    assert "loopback" in detail["reason"] and "does not allow" in detail["reason"]

    # Published straight to Kafka, past the API: the command agent refuses it as well.
    job_id = client.request_export(PUBLIC_ONLY_TENANT, PUBLIC_ONLY_USER, request)
    rejected = client.wait_for_completion(job_id, timeout=60)
    assert (rejected.status.value, rejected.error_code) == ("FAILED", "INVALID_REQUEST")
    assert (rejected.error_message or "").startswith("delivery.webhook.url: the host 'localhost'")

    # The same URL for a tenant whose configuration allows loopback addresses.
    with receiver(tmp_path):
        allowed = api_client(settings, TENANT_A, USER_A).post("/v1/exports", json=request)
        assert allowed.status_code == 202, allowed.text
        notice = client.wait_for_completion(allowed.json()["id"], timeout=120)
        assert notice.delivery_status == "DELIVERED", notice.delivery_error
    assert len(received(tmp_path)) == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:1/elsewhere", "allows"),
        ("ftp://127.0.0.1/x", "https://"),
        ("http://user:secret@127.0.0.1/x", "password"),
    ],
)
def test_urls_the_tenant_does_not_allow_are_refused_with_the_field(
    settings: Settings, url: str, reason: str
) -> None:
    answer = api_client(settings, TENANT_A, USER_A).post(
        "/v1/exports", json=trades_request(webhook(url))
    )
    assert answer.status_code == 400, answer.text
    (detail,) = answer.json()["details"]
    assert detail["field"] == "delivery.webhook.url" and reason in detail["reason"]
