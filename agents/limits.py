"""Quota limits as an event stream: every change is a record on export.limits, keyed by
tenant or tenant:user, read whole by every worker and the API. Changes apply within moments,
without a restart, and the topic (never compacted, kept forever) is their history.

    python -m agents.limits set --tenant T [--user U] --max-concurrent-exports 5 ...
    python -m agents.limits show --tenant T [--user U]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from functools import cache

from confluent_kafka import Producer

from agents.replicated_view import ReplicatedView
from agents.settings import Settings
from domain.quota import Limits, LimitsOverride, effective_limits

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

    def for_tenant(self, tenant_id: str) -> Limits:
        return effective_limits(DEFAULTS, self._view.get(tenant_id), None)

    def start(self) -> None:
        self._view.start()

    def wait_until_loaded(self, timeout: float = 30) -> bool:
        return self._view.wait_until_caught_up(timeout)


@cache
def limits_book() -> LimitsBook:
    return LimitsBook(Settings.from_env())


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["set", "show"])
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--user")
    parser.add_argument("--changed-by", default="operator")
    for name in LimitsOverride.model_fields:
        parser.add_argument("--" + name.replace("_", "-"), dest=name)
    args = parser.parse_args()
    settings = Settings.from_env()
    if args.action == "set":
        given = {n: getattr(args, n) for n in LimitsOverride.model_fields if getattr(args, n)}
        override = LimitsOverride.model_validate(given)
        publish_override(settings, args.tenant, args.user, override, args.changed_by)
    book = LimitsBook(settings)
    book.wait_until_loaded()
    limits = book.for_user(args.tenant, args.user) if args.user else book.for_tenant(args.tenant)
    print(limits.model_dump_json(by_alias=True, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
