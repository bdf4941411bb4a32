"""Webhooks: where one may point, how its notice is signed, and what an answer means."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from delivery import secrets
from delivery.failures import DeliveryError
from delivery.to_webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookPost,
    notice_body,
    outcome_of,
    post_notice,
    signature,
)
from delivery.webhook_gate import webhook_problems
from domain.delivery import delivery_due
from domain.validation import RequestInvalid, validate_request
from domain.webhook_rules import WebhookPolicy, check_webhook_target
from export_contract.request import ExportStatus
from tests.unit.builders import export_request, request_payload

HOOKS = "https://hooks.example.com/exports"
POLICY = WebhookPolicy(allowed_url_prefixes=(HOOKS,))
PUBLIC = "93.184.215.14"


def resolver(*addresses: str) -> Any:
    calls: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        calls.append((host, port))
        if not addresses:
            raise OSError("no such host")
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def webhook(url: str, **fields: Any) -> dict[str, Any]:
    return {"method": "WEBHOOK", "webhook": {"url": url, **fields}}


def shape_errors(config: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(RequestInvalid) as caught:
        validate_request(request_payload(delivery=config))
    return {e.field: e.reason for e in caught.value.errors}


def test_a_webhook_request_passes_its_own_checks() -> None:
    request, _ = validate_request(request_payload(delivery=webhook(f"{HOOKS}/daily?team=ops")))
    assert request.delivery is not None and request.delivery.webhook is not None
    assert request.delivery.webhook.secret == "default"


@pytest.mark.parametrize(
    ("config", "field", "reason"),
    [
        ({"method": "WEBHOOK"}, "delivery.webhook", "required"),
        (webhook("ftp://hooks.example.com/x"), "delivery.webhook.url", "https://"),
        (webhook("https://user:pw@hooks.example.com/x"), "delivery.webhook.url", "password"),
        (webhook("https://hooks.example.com/x#top"), "delivery.webhook.url", "fragment"),
        (webhook("https://hooks.example.com/a/../b"), "delivery.webhook.url", "'..'"),
        (webhook("https://hooks.example.com/a/%2e%2e/b"), "delivery.webhook.url", "'..'"),
        (webhook("https://hooks.example.com/a b"), "delivery.webhook.url", "spaces"),
        (webhook("https:///nohost"), "delivery.webhook.url", "host"),
        (webhook("https://hooks.example.com:99999/"), "delivery.webhook.url", "URL"),
        (webhook("https://hooks.example.com/" + "a" * 2100), "delivery.webhook.url", "2048"),
        (webhook(HOOKS, secret="../key"), "delivery.webhook.secret", "secret name"),
    ],
)
def test_malformed_webhooks_are_refused_by_field(
    config: dict[str, Any], field: str, reason: str
) -> None:
    errors = shape_errors(config)
    assert reason in errors[field], errors


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/exports", "https://"),
        ("https://hooks.example.com/exportsmith", "allows"),
        ("https://hooks.example.com.evil.test/exports", "allows"),
        ("https://hooks.example.com:8443/exports", "allows"),
        ("https://other.example.com/exports", "allows"),
    ],
)
async def test_only_urls_under_the_tenants_prefixes_are_allowed(url: str, reason: str) -> None:
    errors = await check_webhook_target(url, POLICY, resolver(PUBLIC))
    assert [e.field for e in errors] == ["delivery.webhook.url"]
    assert reason in errors[0].reason


async def test_a_url_under_a_prefix_with_a_public_address_is_allowed() -> None:
    resolve = resolver(PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert await check_webhook_target(f"{HOOKS}/daily?x=1", POLICY, resolve) == []
    assert resolve.calls == [("hooks.example.com", 443)]


async def test_no_prefixes_configured_means_no_webhooks() -> None:
    errors = await check_webhook_target(HOOKS, WebhookPolicy(), resolver(PUBLIC))
    assert "allows no webhook URLs" in errors[0].reason


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "192.168.0.9", "169.254.169.254", "::1", "::ffff:10.0.0.1"]
)
async def test_private_addresses_are_refused_unless_allowed(address: str) -> None:
    errors = await check_webhook_target(HOOKS, POLICY, resolver(PUBLIC, address))
    assert "private, loopback or link-local" in errors[0].reason and address in errors[0].reason
    allowing = WebhookPolicy(allowed_url_prefixes=(HOOKS,), allow_private_addresses=True)
    assert await check_webhook_target(HOOKS, allowing, resolver(address)) == []


async def test_a_host_that_does_not_resolve_is_refused() -> None:
    errors = await check_webhook_target(HOOKS, POLICY, resolver())
    assert "does not resolve" in errors[0].reason


def test_the_tenants_policy_and_key_come_from_the_secrets_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    tenant = {
        "webhookSecrets": {"default": {"signingKey": "k1"}},
        "webhooks": {"allowedUrlPrefixes": [HOOKS], "allowHttp": True},
    }
    path.write_text(json.dumps({"tenants": {"t1": tenant}}))
    assert secrets.webhook_policy(path, "t1") == WebhookPolicy((HOOKS,), allow_http=True)
    assert secrets.webhook_policy(path, "t2") == WebhookPolicy()
    assert secrets.webhook_policy(None, "t1") == WebhookPolicy()
    assert secrets.webhook_signing_key(path, "t1", "default") == b"k1"
    with pytest.raises(DeliveryError, match="no webhook signing secret named 'other'") as caught:
        secrets.webhook_signing_key(path, "t1", "other")
    assert caught.value.permanent


async def test_the_gate_reads_the_tenants_policy(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    policy = {"allowedUrlPrefixes": [HOOKS], "allowPrivateAddresses": False}
    path.write_text(json.dumps({"tenants": {"t1": {"webhooks": policy}}}))
    request = export_request(delivery=webhook(HOOKS))
    assert await webhook_problems(path, "t1", request, resolver(PUBLIC)) == []
    refused = await webhook_problems(path, "t1", request, resolver("127.0.0.1"))
    assert [e.field for e in refused] == ["delivery.webhook.url"]
    assert await webhook_problems(path, "t1", export_request(), resolver("127.0.0.1")) == []


def test_the_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    body = b'{"jobId":"j"}'
    expected = hmac.new(b"key", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(b"key", "1700000000", body) == f"sha256={expected}"
    assert signature(b"other", "1700000000", body) != f"sha256={expected}"
    assert signature(b"key", "1700000001", body) != f"sha256={expected}"


def test_the_body_is_the_notice_and_its_links() -> None:
    body = json.loads(notice_body({"jobId": "j", "status": "COMPLETED"}, {"self": "http://x/j"}))
    assert body == {"jobId": "j", "status": "COMPLETED", "links": {"self": "http://x/j"}}


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (503, False), (429, False), (408, False), (400, True), (404, True), (410, True)],
)
def test_answers_are_failures_worth_retrying_or_not(status: int, permanent: bool) -> None:
    failure = outcome_of(status)
    assert failure is not None and failure.permanent is permanent
    assert str(status) in failure.reason


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed(status: int) -> None:
    failure = outcome_of(status)
    assert failure is not None and failure.permanent and "redirect" in failure.reason


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_a_delivery(status: int) -> None:
    assert outcome_of(status) is None


POST = WebhookPost(
    url=f"{HOOKS}/in?team=ops", body=b'{"jobId":"j"}', notice_id="j", signing_key=b"key"
)


async def test_the_post_goes_to_the_address_checked_with_the_hosts_name() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    where = await post_notice(POST, POLICY, resolver(PUBLIC), httpx.MockTransport(answer))
    assert where == f"{HOOKS}/in"
    (request,) = seen
    assert str(request.url) == f"https://{PUBLIC}/exports/in?team=ops"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.content == POST.body
    timestamp = request.headers[TIMESTAMP_HEADER]
    assert request.headers[SIGNATURE_HEADER] == signature(b"key", timestamp, POST.body)


async def test_a_redirect_answer_is_a_permanent_failure() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/"})

    transport = httpx.MockTransport(answer)
    with pytest.raises(DeliveryError, match="redirect") as caught:
        await post_notice(POST, POLICY, resolver(PUBLIC), transport)
    assert caught.value.permanent


async def test_an_address_that_became_private_is_refused_at_sending() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    transport = httpx.MockTransport(answer)
    with pytest.raises(DeliveryError, match="private") as caught:
        await post_notice(POST, POLICY, resolver("10.0.0.5"), transport)
    assert caught.value.permanent


async def test_an_unreachable_receiver_is_worth_another_attempt() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    transport = httpx.MockTransport(answer)
    with pytest.raises(DeliveryError, match="could not be reached") as caught:
        await post_notice(POST, POLICY, resolver(PUBLIC), transport)
    assert not caught.value.permanent


@pytest.mark.parametrize(
    "outcome", [ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED]
)
def test_every_outcome_is_posted(outcome: ExportStatus) -> None:
    assert delivery_due(export_request(delivery=webhook(HOOKS)), outcome)
