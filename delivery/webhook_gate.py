"""Whether a tenant may send a request's webhook where it points: its configuration's
allowed URLs and the addresses the host resolves to. The API answers with it at once; the
command agent checks again, since its answer is the one that counts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from pathlib import Path

from delivery import secrets
from domain.field_errors import FieldError
from domain.webhook_rules import Resolver, check_webhook_target, url_shape_problem
from export_contract.request import DeliveryMethod, ExportRequest


async def resolve_host(host: str, port: int) -> Sequence[str]:
    """Every address the system resolver gives for `host`; OSError when there is none."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def webhook_problems(
    secrets_file: Path | None,
    tenant_id: str,
    request: ExportRequest,
    resolve: Resolver = resolve_host,
) -> list[FieldError]:
    """Empty unless the request delivers by a well-formed webhook the tenant may not use
    (a malformed one is reported by the request's own checks)."""
    webhook = request.delivery.webhook if request.delivery else None
    if request.delivery_method() is not DeliveryMethod.WEBHOOK or webhook is None:
        return []
    if url_shape_problem(webhook.url) is not None:
        return []
    policy = await asyncio.to_thread(secrets.webhook_policy, secrets_file, tenant_id)
    return await check_webhook_target(webhook.url, policy, resolve)
