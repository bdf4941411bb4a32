"""The Kafka topics of the service, and a command to wait for the broker and create them.

Topics are created here, explicitly and with their partition counts, rather than by
broker auto-creation, so a missing declaration fails loudly.
"""

from __future__ import annotations

import argparse
import sys
import time

from confluent_kafka.admin import AdminClient, NewTopic

from agents.task_consumers import adopt_former_offsets, delivery_tasks, extraction_tasks
from config.settings import Settings
from config.topology import service_topics


def wait_for_broker(bootstrap: str, timeout: float) -> bool:
    """True once the broker answers a metadata request."""
    # log_level 0 keeps librdkafka quiet about the refused connections we expect while waiting.
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            metadata = admin.list_topics(timeout=2)
            if metadata.brokers:
                return True
        except Exception:  # any failure here only means "not ready yet"
            pass
        time.sleep(0.5)
    return False


def create_topics(settings: Settings) -> None:
    """Create the service's topics that do not exist yet."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [t for t in service_topics(settings) if t.name not in existing]
    if not wanted:
        return
    futures = admin.create_topics(
        [
            NewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=1,
                config=t.config,
            )
            for t in wanted
        ]
    )
    for name, future in futures.items():
        try:
            future.result()
        except Exception as exc:  # a concurrent creator is fine, anything else is not
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
            continue
        print(f"created topic {name}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wait-for-broker", metavar="BOOTSTRAP")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--create", action="store_true")
    args = parser.parse_args()
    if args.wait_for_broker:
        return 0 if wait_for_broker(args.wait_for_broker, args.timeout) else 1
    if args.create:
        settings = Settings.from_env()
        create_topics(settings)
        for kind in (extraction_tasks(settings), delivery_tasks(settings)):
            adopt_former_offsets(kind, settings.partitions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
