"""The quotas table's only writer, called from the command agent: reserve when a request is
planned, settle when a job ends, and copy each user's counters to the read model.

Reading and writing one user's entry happens with no await in between, and all of a user's
commands and settlements arrive on co-partitioned topics read by one agent, so no two
requests of a user can both pass a check that only one of them fits.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import psycopg

from agents.app import quotas_table, settings
from agents.limits import limits_book
from domain import inbox, quota
from projections.quota_usage import save_usage

log = logging.getLogger(__name__)

_read_model: psycopg.AsyncConnection | None = None


def _load(key: bytes) -> quota.QuotaUsage | None:
    stored = quotas_table.get(key)
    return quota.QuotaUsage.model_validate_json(stored) if stored else None


def _key(tenant_id: str, user_id: str) -> bytes:
    return f"{tenant_id}:{user_id}".encode()


async def reserve(
    tenant_id: str, user_id: str, job_id: str, acceptance: inbox.Acceptance
) -> inbox.Acceptance | inbox.Rejection:
    """Reserve the planned rows, or reject naming the limit; the acceptance carries the
    tenant's size limit and retention in effect now."""
    await _limits_loaded()
    limits = limits_book().for_user(tenant_id, user_id)
    today = quota.local_day(datetime.now(UTC), limits.timezone)
    key = _key(tenant_id, user_id)
    try:
        usage = quota.reserve(_load(key), limits, job_id, acceptance.total_rows, today)
    except quota.QuotaExceeded as exc:
        return inbox.Rejection(code="QUOTA_EXCEEDED", reason=exc.message, field=exc.limit)
    quotas_table[key] = usage.model_dump_json().encode()
    await _publish(tenant_id, user_id, usage)
    return acceptance.model_copy(
        update={
            "max_export_bytes": limits.max_export_bytes,
            "retention_days": limits.retention_days,
        }
    )


async def settle(message: inbox.QuotaSettlement) -> None:
    await _limits_loaded()
    limits = limits_book().for_user(message.tenant_id, message.user_id)
    today = quota.local_day(datetime.now(UTC), limits.timezone)
    key = _key(message.tenant_id, message.user_id)
    before = _load(key)
    usage = quota.settle(before, message.job_id, message.completed_rows, today)
    if usage is None or usage == before:
        return
    quotas_table[key] = usage.model_dump_json().encode()
    await _publish(message.tenant_id, message.user_id, usage)


async def _limits_loaded() -> None:
    """Right after a start, wait (briefly) for the limits topic to be read to its end, so no
    request is checked against defaults that an override has replaced."""
    book = limits_book()
    if not book.wait_until_loaded(0):
        await asyncio.to_thread(book.wait_until_loaded, 30)


async def _publish(tenant_id: str, user_id: str, usage: quota.QuotaUsage) -> None:
    """Best effort: the table is the truth; the read model catches up on the next change."""
    global _read_model
    try:
        if _read_model is None or _read_model.closed:
            _read_model = await psycopg.AsyncConnection.connect(
                settings.service_database_url, autocommit=True
            )
        await save_usage(_read_model, tenant_id, user_id, usage)
    except psycopg.Error as exc:
        log.warning(
            "quota usage of %s:%s not copied to the read model: %s", tenant_id, user_id, exc
        )
        _read_model = None
