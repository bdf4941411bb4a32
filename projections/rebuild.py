"""`python -m projections.rebuild`: empty the read model and fold it again from export.events.

Safe while the service runs: the live projection and this command both skip events at or
below a job's stored sequence, so whichever applies an event first wins and the other
skips it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import psycopg
from confluent_kafka import Consumer, TopicPartition

from agents.settings import Settings
from events import codec
from projections.read_model import project

log = logging.getLogger(__name__)


def read_log(settings: Settings) -> list[TopicPartition]:
    """The events topic's partitions, each from offset 0, with their current end offsets."""
    probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers,
                      "group.id": f"rebuild-{uuid.uuid4()}"})
    try:
        topic = probe.list_topics(settings.events_topic, timeout=10).topics[settings.events_topic]
        ends = []
        for p in sorted(topic.partitions):
            _low, high = probe.get_watermark_offsets(TopicPartition(settings.events_topic, p), timeout=10)
            ends.append(TopicPartition(settings.events_topic, p, high))
        return ends
    finally:
        probe.close()


async def rebuild(settings: Settings) -> int:
    ends = {tp.partition: tp.offset for tp in read_log(settings)}
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers,
                         "group.id": f"rebuild-{uuid.uuid4()}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(settings.events_topic, p, 0) for p, end in ends.items() if end])
    remaining = {p for p, end in ends.items() if end}
    applied = 0
    async with await psycopg.AsyncConnection.connect(settings.service_database_url) as conn:
        await conn.execute("TRUNCATE export_service.export_jobs CASCADE")
        await conn.commit()
        while remaining:
            message = consumer.poll(5)
            if message is None:
                raise RuntimeError(f"export.events stopped short; partitions left: {remaining}")
            if message.error():
                continue
            try:
                event = codec.decode(message.value() or b"")
            except codec.UndecodableMessage as exc:
                log.error("skipping undecodable event at offset %d: %s", message.offset(), exc)
            else:
                applied += await project(conn, event)  # type: ignore[arg-type]
            if message.offset() + 1 >= ends[message.partition()]:
                remaining.discard(message.partition())
    consumer.close()
    return applied


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    applied = asyncio.run(rebuild(Settings.from_env()))
    print(f"read model rebuilt from the log: {applied} events applied")


if __name__ == "__main__":
    main()
