"""Where a webhook may point: the URL's shape, the tenant's allowed URLs, and the addresses
its host resolves to.

A webhook makes the service send a request wherever a user says, so every part of the
target is checked: only http(s), no credentials in the URL, only under a prefix the
tenant's configuration allows, and never to a private, loopback or link-local address
unless that configuration says so (a local stack's own receiver). The addresses are
checked again when the notice is sent, and the connection goes to the address checked,
so a name that resolves elsewhere later (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from domain.field_errors import FieldError

URL_MAX = 2048
URL_FIELD = "delivery.webhook.url"
DEFAULT_PORTS = {"http": 80, "https": 443}

# (host, port) -> the addresses the host resolves to; raises OSError when it does not.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


@dataclass(frozen=True)
class WebhookPolicy:
    """A tenant's webhook settings; with none configured, no webhook is allowed."""

    allowed_url_prefixes: tuple[str, ...] = ()
    allow_http: bool = False
    allow_private_addresses: bool = False


@dataclass(frozen=True)
class Target:
    """A checked URL's parts: where to connect and what to ask for."""

    scheme: str
    host: str
    port: int
    path_and_query: str


def url_shape_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook target whatever the tenant allows, or None."""
    if len(url) > URL_MAX:
        return f"at most {URL_MAX} characters"
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in DEFAULT_PORTS:
        return "must be an https:// (or, where allowed, http://) URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password (the notice is signed instead)"
    if parts.fragment:
        return "must not have a #fragment"
    if port == 0:
        return "port must be between 1 and 65535"
    if _climbs(parts.path):
        return "must not contain '.' or '..' path segments"
    return None


def policy_problem(url: str, policy: WebhookPolicy) -> str | None:
    """Why the tenant's configuration does not allow `url` (already shaped), or None."""
    parts = urlsplit(url)
    if parts.scheme == "http" and not policy.allow_http:
        return "must be https:// (this tenant's configuration does not allow http)"
    if not any(_under_prefix(parts, prefix) for prefix in policy.allowed_url_prefixes):
        if not policy.allowed_url_prefixes:
            return "this tenant's configuration allows no webhook URLs"
        return "not under a URL this tenant's configuration allows (webhooks.allowedUrlPrefixes)"
    return None


def address_problem(host: str, addresses: Sequence[str], policy: WebhookPolicy) -> str | None:
    """Why the service must not connect to these addresses of `host`, or None."""
    if not addresses:
        return f"the host {host!r} does not resolve"
    if policy.allow_private_addresses:
        return None
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global:
            return (
                f"the host {host!r} resolves to a private, loopback or link-local address "
                f"({text}), which this tenant's configuration does not allow"
            )
    return None


def target_of(url: str) -> Target:
    parts = urlsplit(url)
    path = parts.path or "/"
    return Target(
        scheme=parts.scheme,
        host=(parts.hostname or "").lower(),
        port=parts.port or DEFAULT_PORTS[parts.scheme],
        path_and_query=f"{path}?{parts.query}" if parts.query else path,
    )


async def check_webhook_target(
    url: str, policy: WebhookPolicy, resolve: Resolver
) -> list[FieldError]:
    """Every reason the tenant may not send to `url` (its shape is checked elsewhere)."""
    problem = policy_problem(url, policy)
    if problem is None:
        target = target_of(url)
        try:
            addresses = await resolve(target.host, target.port)
        except OSError:
            addresses = []
        problem = address_problem(target.host, addresses, policy)
    return [FieldError(URL_FIELD, problem)] if problem else []


def _under_prefix(url: SplitResult, prefix: str) -> bool:
    """Same scheme, host and port, and a path at or below the prefix's, segment-wise (so
    https://a.example/hooks allows /hooks/x but neither /hooksmith nor a.example.evil)."""
    try:
        allowed = urlsplit(prefix)
        allowed_port = allowed.port or DEFAULT_PORTS.get(allowed.scheme)
        port = url.port or DEFAULT_PORTS.get(url.scheme)
    except ValueError:
        return False
    if (allowed.scheme, allowed.hostname, allowed_port) != (url.scheme, url.hostname, port):
        return False
    base = allowed.path.rstrip("/")
    return not base or url.path == base or url.path.startswith(base + "/")


def _climbs(path: str) -> bool:
    segments = path.lower().replace("%2e", ".").split("/")
    return any(segment in (".", "..") for segment in segments)
