"""The limits in effect for any user: every worker's and the API's copy of export.limits.

Every change is a record on the topic, keyed by tenant or tenant:user; the book reads the
topic whole (projections/replicated_view.py) and keeps the latest override per key.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from confluent_kafka import Producer

from config.settings import Settings
from domain.quota import Limits, LimitsOverride, effective_limits
from projections.replicated_view import ReplicatedView

DEFAULTS = Limits()


def _parse(value: bytes) -> LimitsOverride:
    return LimitsOverride.model_validate(json.loads(value)["limits"])


class LimitsBook:
    """The limits in effect for any user, from the latest overrides on the topic."""

    def __init__(self, settings: Settings) -> None:
        self._view: ReplicatedView[LimitsOverride] = ReplicatedView(
            settings.kafka_bootstrap_servers, settings.limits_topic, _parse
        )

    def for_user(self, tenant_id: str, user_id: str) -> Limits:
        return effective_limits(
            DEFAULTS, self._view.get(tenant_id), self._view.get(f"{tenant_id}:{user_id}")
        )

    async def current_for_user(self, tenant_id: str, user_id: str, within: float = 2.0) -> Limits:
        """The user's limits once every change recorded before now has been read (past
        `within` seconds, a broker that does not answer: those read so far)."""
        await asyncio.to_thread(self._view.wait_until_current, within)
        return self.for_user(tenant_id, user_id)

    def for_tenant(self, tenant_id: str) -> Limits:
        return effective_limits(DEFAULTS, self._view.get(tenant_id), None)

    def start(self) -> None:
        self._view.start()

    def wait_until_loaded(self, timeout: float = 30) -> bool:
        return self._view.wait_until_caught_up(timeout)

    def wait_until_current(self, timeout: float) -> bool:
        """Wait until every change recorded before now has been read."""
        return self._view.wait_until_current(timeout)


def publish_override(
    settings: Settings,
    tenant_id: str,
    user_id: str | None,
    override: LimitsOverride,
    changed_by: str,
) -> None:
    """Record a change of limits (it replaces the previous override of the same key)."""
    key = f"{tenant_id}:{user_id}" if user_id else tenant_id
    value = {
        "limits": override.model_dump(mode="json", by_alias=True, exclude_none=True),
        "changedBy": changed_by,
        "changedAt": datetime.now(UTC).isoformat(),
    }
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    producer.produce(settings.limits_topic, key=key.encode(), value=json.dumps(value).encode())
    if producer.flush(30) != 0:
        raise RuntimeError("the limits change was not acknowledged by the broker")
