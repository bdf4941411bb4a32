"""Delivery on real servers over TCP: moto's S3 server, an asyncssh SFTP server, an aiosmtpd
SMTP server. Each test reads the delivered bytes back from the server and compares them with
the manifest's checksums (and the source rows, where the export is CSV)."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import httpx
import pytest

from config.settings import Settings
from domain.signed_links import make_link
from export_client.kafka_client import ExportClient
from export_contract.models import ExportCompletionNotice
from tests.integration.conftest import TENANT_A, USER_A, api_client, psql_csv, stack

ROOT = Path(__file__).resolve().parents[2]
# The stack keeps this tenant's exports in its S3 store (EXPORT_STORE_BY_TENANT).
TENANT_S3 = "33333333-3333-4333-8333-333333333333"
USER_S3 = "0c0c0c0c-0000-4000-8000-00000000000c"
COLUMNS = ["id", "trade_date", "symbol", "quantity", "price", "notes"]
# Some 10,000 rows per tenant in four files.
ID_LIMIT = 30_000
ROWS_PER_FILE = 2_600


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests through `make test`")
    return value


def trades_request(delivery: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "Delivered trades",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": c} for c in COLUMNS],
            "filters": [{"column": "id", "operator": "<=", "value": ID_LIMIT}],
            "orderBy": [{"column": "id"}],
        },
        "format": "CSV",
        "maxRowsPerFile": ROWS_PER_FILE,
        "delivery": delivery,
        **extra,
    }


def source_csv(settings: Settings, tenant: str) -> bytes:
    return psql_csv(
        settings,
        f"SELECT {', '.join(COLUMNS)} FROM analytics.fact_trades"
        f" WHERE tenant_id = '{tenant}' AND id <= {ID_LIMIT} ORDER BY id",
        force_quote=["symbol", "notes"],
    )


def rows_of(files: list[bytes]) -> bytes:
    """The files' rows in order, each header line dropped."""
    return b"".join(data[data.index(b"\n") + 1 :] for data in files)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def s3_client() -> Any:
    return boto3.client(
        "s3",
        endpoint_url=env("EXPORT_S3_ENDPOINT_URL"),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def job_view(settings: Settings, tenant: str, user: str, job_id: str) -> dict[str, Any]:
    return api_client(settings, tenant, user).get(f"/v1/exports/{job_id}").json()


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def assert_as_exported(
    notice: ExportCompletionNotice, manifest: dict[str, Any], delivered: list[bytes], source: bytes
) -> None:
    """Delivered files: the manifest's checksums, and together the source's rows in order."""
    checksums = {f["name"]: f["sha256"] for f in manifest["files"]}
    assert {f.name: sha256(d) for f, d in zip(notice.files, delivered, strict=True)} == checksums
    assert rows_of(delivered) == source


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@contextmanager
def sftp_server(port: int, root: Path, host_key: str) -> Iterator[None]:
    """An extra SFTP server (same users and keys as the stack's) for the duration."""
    keys = Path(env("STACK_SFTP_KEYS"))
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "stack/sftp_server.py"), "serve", "--port", str(port)]
        + ["--root", str(root), "--host-key", str(keys / host_key), "--keys", str(keys)],
    )
    try:
        wait_for(lambda: _listening(port), 20, f"the SFTP server on port {port}")
        yield
    finally:
        process.terminate()
        process.wait(10)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
    except OSError:
        return False
    return True


def received_mail(job_id: str, timeout: float = 60) -> EmailMessage:
    maildir = Path(env("STACK_MAILDIR"))

    def find() -> EmailMessage | None:
        for path in sorted(maildir.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["X-Export-Job-Id"] == job_id:
                assert isinstance(message, EmailMessage)
                return message
        return None

    found: EmailMessage = wait_for(find, timeout, f"the mail of job {job_id}")
    return found


def assert_delivered(notice: ExportCompletionNotice) -> None:
    assert notice.status.value == "COMPLETED", notice.error_message
    assert notice.delivery_status == "DELIVERED", notice.delivery_error


# S3 store and customer S3


def test_s3_store_and_customer_bucket_hold_every_row(
    client: ExportClient, settings: Settings
) -> None:
    delivery = {"method": "S3", "s3": {"bucket": "customer-exports", "key": "acme/daily"}}
    job_id = client.request_export(TENANT_S3, USER_S3, trades_request(delivery))
    notice = client.wait_for_completion(job_id, timeout=120)
    assert_delivered(notice)
    assert len(notice.files) == 4

    s3 = s3_client()
    store_prefix = f"exports/{TENANT_S3}/{job_id}/"
    stored = s3.list_objects_v2(Bucket=env("EXPORT_S3_BUCKET"), Prefix=store_prefix)
    assert sorted(o["Key"].removeprefix(store_prefix) for o in stored["Contents"]) == sorted(
        [f.name for f in notice.files] + ["manifest.json"]
    )
    staging = settings.worker_data_dir / "staging" / TENANT_S3 / job_id
    assert not staging.exists() or list(staging.iterdir()) == []

    def customer_object(name: str) -> bytes:
        body: bytes = s3.get_object(Bucket="customer-exports", Key=f"acme/daily/{name}")[
            "Body"
        ].read()
        return body

    manifest = json.loads(customer_object("manifest.json"))
    delivered = [customer_object(f.name) for f in notice.files]
    assert_as_exported(notice, manifest, delivered, source_csv(settings, TENANT_S3))


def test_a_missing_customer_bucket_fails_at_once_and_the_export_stays_downloadable(
    client: ExportClient, settings: Settings
) -> None:
    delivery = {"method": "S3", "s3": {"bucket": "no-such-bucket", "key": "x"}}
    job_id = client.request_export(TENANT_S3, USER_S3, trades_request(delivery))
    notice = client.wait_for_completion(job_id, timeout=120)
    assert notice.status.value == "COMPLETED"
    assert notice.delivery_status == "FAILED"
    assert "attempt 1: S3 bucket no-such-bucket: the bucket does not exist" in (
        notice.delivery_error or ""
    )
    view = job_view(settings, TENANT_S3, USER_S3, job_id)
    assert (view["deliveryStatus"], view["deliveryAttempts"]) == ("FAILED", 1)
    archive = httpx.get(notice.download_url or "", timeout=60)
    assert archive.status_code == 200 and archive.content[:2] == b"PK"


def test_s3_stored_files_download_through_presigned_redirects_with_range(
    client: ExportClient, settings: Settings
) -> None:
    request = trades_request({"method": "DOWNLOAD"}, maxRowsPerFile=100_000)
    job_id = client.request_export(TENANT_S3, USER_S3, request)
    notice = client.wait_for_completion(job_id, timeout=120)
    (only,) = notice.files
    link = notice.download_url or ""
    assert f"/v1/links/{job_id}/{only.name}" in link

    redirect = httpx.get(link, timeout=30)
    assert redirect.status_code == 307
    presigned = redirect.headers["location"]
    assert presigned.startswith(env("EXPORT_S3_ENDPOINT_URL")) and "X-Amz-Signature" in presigned
    whole = httpx.get(presigned, timeout=30)
    assert whole.status_code == 200 and sha256(whole.content) == only.sha256
    assert whole.content[whole.content.index(b"\n") + 1 :] == source_csv(settings, TENANT_S3)

    part = httpx.get(link, headers={"Range": "bytes=100-199"}, follow_redirects=True, timeout=30)
    assert part.status_code == 206 and part.content == whole.content[100:200]

    token_download = api_client(settings, TENANT_S3, USER_S3).get(f"/v1/exports/{job_id}/download")
    assert token_download.status_code == 307

    query = parse_qs(urlsplit(link).query)
    past = int(time.time()) - 1
    expired = make_link(settings.api_url, settings.link_secret, TENANT_S3, job_id, only.name, past)
    assert httpx.get(expired, timeout=30).status_code == 410
    tampered = link.replace(urlencode({"expires": query["expires"][0]}), "expires=9999999999")
    assert httpx.get(tampered, timeout=30).status_code == 403


# SFTP


def sftp_delivery(port: int, path: str, secret: str = "default") -> dict[str, Any]:
    return {
        "method": "SFTP",
        "sftp": {
            "host": "127.0.0.1",
            "port": port,
            "username": "acme",
            "path": path,
            "secret": secret,
        },
    }


def assert_sftp_folder_holds(
    folder: Path, notice: ExportCompletionNotice, settings: Settings
) -> None:
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f.name for f in notice.files] + ["manifest.json"])  # no .partial
    manifest = json.loads((folder / "manifest.json").read_text())
    delivered = [(folder / f.name).read_bytes() for f in notice.files]
    assert_as_exported(notice, manifest, delivered, source_csv(settings, TENANT_A))


def test_sftp_delivers_every_file_with_key_and_with_password(
    client: ExportClient, settings: Settings
) -> None:
    port = int(env("STACK_SFTP_PORT"))
    root = Path(env("STACK_SFTP_ROOT")) / "acme"
    for secret in ("default", "password"):
        folder = f"drop/{secret}/{time.time_ns()}"
        job_id = client.request_export(
            TENANT_A, USER_A, trades_request(sftp_delivery(port, folder, secret))
        )
        notice = client.wait_for_completion(job_id, timeout=120)
        assert_delivered(notice)
        assert_sftp_folder_holds(root / folder, notice, settings)


def test_sftp_with_an_unknown_host_key_fails_without_uploading(
    client: ExportClient, settings: Settings, tmp_path: Path
) -> None:
    port = int(env("STACK_SFTP_SPARE_PORT"))
    with sftp_server(port, tmp_path, "impostor_host_key"):
        job_id = client.request_export(TENANT_A, USER_A, trades_request(sftp_delivery(port, "in")))
        notice = client.wait_for_completion(job_id, timeout=120)
    assert notice.status.value == "COMPLETED" and notice.delivery_status == "FAILED"
    assert "host key" in (notice.delivery_error or "")
    assert not any(tmp_path.rglob("*")), "nothing may be uploaded to an unverified host"
    assert job_view(settings, TENANT_A, USER_A, job_id)["deliveryAttempts"] == 1
    download = api_client(settings, TENANT_A, USER_A).get(f"/v1/exports/{job_id}/archive")
    assert download.status_code == 200


def test_sftp_server_that_comes_up_late_still_gets_the_export(
    client: ExportClient, settings: Settings, tmp_path: Path
) -> None:
    port = int(env("STACK_SFTP_SPARE_PORT"))
    job_id = client.request_export(TENANT_A, USER_A, trades_request(sftp_delivery(port, "late")))
    wait_for(
        lambda: job_view(settings, TENANT_A, USER_A, job_id).get("deliveryAttempts", 0) >= 1,
        120,
        "a failed first attempt",
    )
    with sftp_server(port, tmp_path, "host_key"):
        notice = client.wait_for_completion(job_id, timeout=60)
    assert_delivered(notice)
    view = job_view(settings, TENANT_A, USER_A, job_id)
    assert view["deliveryAttempts"] >= 2 and view["deliveredTo"].startswith("sftp://acme@")
    assert_sftp_folder_holds(tmp_path / "acme" / "late", notice, settings)


def test_sftp_server_that_stays_down_ends_in_delivery_failed(
    client: ExportClient, settings: Settings
) -> None:
    port = free_port()
    job_id = client.request_export(TENANT_A, USER_A, trades_request(sftp_delivery(port, "x")))
    notice = client.wait_for_completion(job_id, timeout=120)
    assert notice.status.value == "COMPLETED" and notice.delivery_status == "FAILED"
    assert "refused the connection" in (notice.delivery_error or "")
    view = job_view(settings, TENANT_A, USER_A, job_id)
    assert view["deliveryAttempts"] == settings.delivery_max_attempts
    assert httpx.get(notice.download_url or "", timeout=60).status_code == 200


def test_sftp_private_key_not_in_config_fails_at_once(client: ExportClient) -> None:
    port = int(env("STACK_SFTP_PORT"))
    delivery = sftp_delivery(port, "x", secret="nobody-configured-this")
    notice = client.wait_for_completion(
        client.request_export(TENANT_A, USER_A, trades_request(delivery)), timeout=120
    )
    assert notice.delivery_status == "FAILED"
    assert "no SFTP secret named 'nobody-configured-this'" in (notice.delivery_error or "")


# Email


def email_delivery(**fields: Any) -> dict[str, Any]:
    return {"method": "EMAIL", "email": {"recipients": ["analyst@example.com"], **fields}}


def test_email_attaches_files_within_the_limit(client: ExportClient, settings: Settings) -> None:
    delivery = email_delivery(attachFile=True, subject="Daily trades")
    job_id = client.request_export(TENANT_A, USER_A, trades_request(delivery))
    notice = client.wait_for_completion(job_id, timeout=120)
    assert_delivered(notice)
    mail = received_mail(job_id)
    assert mail["Subject"] == "Daily trades" and mail["X-Envelope-To"] == "analyst@example.com"
    assert mail["X-Received-Over-TLS"] == "yes", "the server offers STARTTLS, so it must be used"
    attachments = {a.get_filename(): a.get_payload(decode=True) for a in mail.iter_attachments()}
    assert {name: sha256(data) for name, data in attachments.items()} == {
        f.name: f.sha256 for f in notice.files
    }
    assert rows_of([attachments[f.name] for f in notice.files]) == source_csv(settings, TENANT_A)


def test_email_over_the_attachment_limit_carries_the_link(client: ExportClient) -> None:
    delivery = email_delivery(attachFile=True, includeLink=False, maxAttachmentSize=50_000)
    job_id = client.request_export(TENANT_A, USER_A, trades_request(delivery))
    notice = client.wait_for_completion(job_id, timeout=120)
    assert_delivered(notice)
    mail = received_mail(job_id)
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert list(mail.iter_attachments()) == []
    assert "over the 50,000-byte attachment limit" in text
    link = next(line for line in text.splitlines() if line.startswith("http"))
    archive = httpx.get(link, timeout=60)
    assert archive.status_code == 200 and archive.content[:2] == b"PK"


def test_smtp_server_down_at_first_still_gets_the_mail(
    client: ExportClient, settings: Settings
) -> None:
    stack("stop-smtp")
    try:
        job_id = client.request_export(TENANT_A, USER_A, trades_request(email_delivery()))
        wait_for(
            lambda: job_view(settings, TENANT_A, USER_A, job_id).get("deliveryAttempts", 0) >= 1,
            120,
            "a failed first attempt",
        )
    finally:
        stack("start-smtp")
    notice = client.wait_for_completion(job_id, timeout=120)
    assert_delivered(notice)
    assert (
        "Download" in (received_mail(job_id).get_body(("plain",)) or EmailMessage()).get_content()
    )


def test_cancelled_export_sends_a_short_mail(client: ExportClient, settings: Settings) -> None:
    request = trades_request(email_delivery(), format="EXCEL", maxRowsPerFile=10_000)
    request["queryDefinition"]["filters"] = []
    # Sorted by a text column, every small chunk sorts all the rows again: still running
    # when the cancel arrives, however fast Excel gets.
    request["queryDefinition"]["orderBy"] = [{"column": "notes", "direction": "DESC"}]
    job_id = client.request_export(TENANT_A, USER_A, request)
    client.cancel_export(TENANT_A, USER_A, job_id)
    notice = client.wait_for_completion(job_id, timeout=120)
    assert notice.status.value == "CANCELLED" and notice.delivery_status == "DELIVERED"
    mail = received_mail(job_id)
    assert mail["Subject"] == "Your export 'Delivered trades' was cancelled"
