"""Webhook delivery: POST the job's completion notice, signed, to the tenant's URL.

The receiver checks `X-Export-Signature: sha256=<hex>`, the HMAC-SHA256 under the tenant's
signing key of `<X-Export-Timestamp>.<body>`; the timestamp (Unix seconds) lets it refuse
old notices replayed. `X-Export-Notice-Id` (the job id) is the same on every attempt, so a
receiver that answered too slowly and is asked again can tell it has the notice already.

The URL is checked again here against the tenant's configuration and the addresses its host
resolves to now, and the request goes to the address checked (the TLS name stays the host's),
so a name that resolves elsewhere by the time of sending cannot send it elsewhere.
Redirects are not followed: a redirect could point anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any

import httpx

from delivery.failures import DeliveryError, permanent, transient
from domain.webhook_rules import (
    Resolver,
    Target,
    WebhookPolicy,
    address_problem,
    policy_problem,
    target_of,
)

SIGNATURE_HEADER = "X-Export-Signature"
TIMESTAMP_HEADER = "X-Export-Timestamp"
NOTICE_ID_HEADER = "X-Export-Notice-Id"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Answers worth asking again: the receiver is busy, overloaded or restarting.
RETRYABLE_STATUSES = {408, 425, 429}


@dataclass(frozen=True)
class WebhookPost:
    url: str
    body: bytes
    notice_id: str
    signing_key: bytes


def notice_body(notice: Mapping[str, Any], links: Mapping[str, str | None]) -> bytes:
    """The completion notice's fields (camelCase, as on the completion topic) and the links."""
    return json.dumps({**notice, "links": dict(links)}, separators=(",", ":")).encode()


def signature(signing_key: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(signing_key, timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def outcome_of(status: int) -> DeliveryError | None:
    """None for a 2xx answer; otherwise why the attempt failed, and whether to try again."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return permanent(f"the receiver answered HTTP {status}, a redirect, which is not followed")
    if status in RETRYABLE_STATUSES or status >= 500:
        return transient(f"the receiver answered HTTP {status}")
    return permanent(f"the receiver refused the notice: HTTP {status}")


async def post_notice(
    post: WebhookPost,
    policy: WebhookPolicy,
    resolve: Resolver,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """Send one attempt; returns where it went (the URL without its query)."""
    problem = policy_problem(post.url, policy)
    if problem:
        raise permanent(f"delivery.webhook.url {problem}")
    target = target_of(post.url)
    try:
        addresses = list(await resolve(target.host, target.port))
    except OSError as exc:
        raise transient(f"the host {target.host!r} does not resolve: {exc}") from exc
    problem = address_problem(target.host, addresses, policy)
    if problem:
        raise permanent(problem)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "export-service-webhook",
        "Host": _host_header(target),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(post.signing_key, timestamp, post.body),
        NOTICE_ID_HEADER: post.notice_id,
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    async with httpx.AsyncClient(
        timeout=TIMEOUT, follow_redirects=False, trust_env=False, transport=transport
    ) as client:
        request = client.build_request(
            "POST",
            _pinned_url(target, addresses[0]),
            content=post.body,
            headers=headers,
            extensions=extensions,
        )
        try:
            # The answer's body is never read: only its status counts.
            response = await client.send(request, stream=True)
            await response.aclose()
        except httpx.TimeoutException as exc:
            raise transient(f"the receiver did not answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise transient(f"the receiver could not be reached: {exc}") from exc
    failure = outcome_of(response.status_code)
    if failure:
        raise failure
    return post.url.split("?", 1)[0]


def _pinned_url(target: Target, address: str) -> str:
    literal = f"[{address}]" if ip_address(address.split("%", 1)[0]).version == 6 else address
    return f"{target.scheme}://{literal}:{target.port}{target.path_and_query}"


def _host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    return target.host if target.port == default else f"{target.host}:{target.port}"
