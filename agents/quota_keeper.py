"""The quotas table's only writer, used by the command handler: reserve when a request is
planned, settle when a job ends, and copy each user's counters to the read model.

Reading and writing one user's entry happens with no await in between, and all of a user's
commands and settlements arrive on co-partitioned topics read by one agent, so no two
requests of a user can both pass a check that only one of them fits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Protocol

import psycopg

from config.bootstrap import ReadModelConnection
from domain import inbox, quota
from observability.metrics import LIMITS_NOT_CURRENT, QUOTA_REJECTIONS
from projections.quota_usage import save_usage
from projections.schedule_read_model import live_schedules

log = logging.getLogger(__name__)

# A broker that cannot answer within this is down; the command agent cannot publish either.
CURRENT_WITHIN_SECONDS = 15.0


class LimitsSource(Protocol):
    def for_user(self, tenant_id: str, user_id: str) -> quota.Limits: ...

    def wait_until_loaded(self, timeout: float = 30) -> bool: ...

    def wait_until_current(self, timeout: float) -> bool: ...


class QuotaKeeper:
    def __init__(
        self,
        table: MutableMapping[bytes, bytes],
        limits: LimitsSource,
        read_model: ReadModelConnection | None,
    ) -> None:
        self._table = table
        self._limits = limits
        self._read_model = read_model

    async def reserve(
        self, tenant_id: str, user_id: str, job_id: str, acceptance: inbox.Acceptance
    ) -> inbox.Acceptance | inbox.Rejection:
        """Reserve the planned rows, or reject naming the limit; the acceptance carries the
        tenant's size limit and retention in effect now."""
        await self._limits_current()
        limits = self._limits.for_user(tenant_id, user_id)
        today = quota.local_day(datetime.now(UTC), limits.timezone)
        key = _key(tenant_id, user_id)
        try:
            usage = quota.reserve(self._load(key), limits, job_id, acceptance.total_rows, today)
        except quota.QuotaExceeded as exc:
            QUOTA_REJECTIONS.labels(exc.limit).inc()
            return inbox.Rejection(code="QUOTA_EXCEEDED", reason=exc.message, field=exc.limit)
        self._table[key] = usage.model_dump_json().encode()
        await self._copy_to_read_model(tenant_id, user_id, usage)
        return acceptance.model_copy(
            update={
                "max_export_bytes": limits.max_export_bytes,
                "retention_days": limits.retention_days,
            }
        )

    async def settle(self, message: inbox.QuotaSettlement) -> None:
        await self._limits_loaded()
        limits = self._limits.for_user(message.tenant_id, message.user_id)
        today = quota.local_day(datetime.now(UTC), limits.timezone)
        key = _key(message.tenant_id, message.user_id)
        before = self._load(key)
        usage = quota.settle(before, message.job_id, message.completed_rows, today)
        if usage is None or usage == before:
            return
        self._table[key] = usage.model_dump_json().encode()
        await self._copy_to_read_model(message.tenant_id, message.user_id, usage)

    def _load(self, key: bytes) -> quota.QuotaUsage | None:
        stored = self._table.get(key)
        return quota.QuotaUsage.model_validate_json(stored) if stored else None

    async def schedule_refusal(self, tenant_id: str, user_id: str) -> inbox.Rejection | None:
        """A new schedule past the user's limit on schedules is refused, naming it. Counted in
        the read model, which lags the schedule agent by moments: two schedules created in the
        same instant may both pass."""
        await self._limits_current()
        limit = self._limits.for_user(tenant_id, user_id).max_schedules
        try:
            if self._read_model is None:
                raise psycopg.OperationalError("no read model configured")
            count = await live_schedules(await self._read_model.get(), tenant_id, user_id)
        except psycopg.Error as exc:
            log.warning("schedules of %s:%s not counted: %s", tenant_id, user_id, exc)
            if self._read_model is not None:
                self._read_model.discard()
            reason = "the schedules could not be counted; try again later"
            return inbox.Rejection(code="SOURCE_UNAVAILABLE", reason=reason)
        if count >= limit:
            reason = f"Schedule limit reached ({limit})"
            return inbox.Rejection(code="QUOTA_EXCEEDED", reason=reason, field="maxSchedules")
        return None

    async def _limits_loaded(self) -> None:
        """Right after a start, wait (briefly) for the limits topic to be read to its end, so
        no request is checked against defaults that an override has replaced."""
        if not self._limits.wait_until_loaded(0):
            await asyncio.to_thread(self._limits.wait_until_loaded, 30)

    async def _limits_current(self) -> None:
        """Wait (bounded) until this worker's copy of the limits holds every change made
        before now: an override set a moment ago applies to the very next request."""
        if await asyncio.to_thread(self._limits.wait_until_current, CURRENT_WITHIN_SECONDS):
            return
        LIMITS_NOT_CURRENT.inc()
        log.warning(
            "the limits could not be read to the topic's end within %s s; "
            "checking this request against the limits read so far",
            CURRENT_WITHIN_SECONDS,
        )

    async def _copy_to_read_model(
        self, tenant_id: str, user_id: str, usage: quota.QuotaUsage
    ) -> None:
        """Best effort: the table is the truth; the read model catches up on the next change."""
        if self._read_model is None:
            return
        try:
            await save_usage(await self._read_model.get(), tenant_id, user_id, usage)
        except psycopg.Error as exc:
            log.warning(
                "quota usage of %s:%s not copied to the read model: %s", tenant_id, user_id, exc
            )
            self._read_model.discard()


def _key(tenant_id: str, user_id: str) -> bytes:
    return f"{tenant_id}:{user_id}".encode()
