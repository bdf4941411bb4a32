"""Read a topic from its first offset to where it ended when reading began."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from confluent_kafka import Consumer, Message, TopicPartition


def read_to_end(bootstrap_servers: str, topic: str, timeout: float = 10) -> Iterator[Message]:
    """Every message of every partition, each partition in order; stops at the end offsets
    taken at the start, so messages produced meanwhile are not waited for."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"log-reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        ends = {}
        for p in partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            if high > 0:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        while ends:
            message = consumer.poll(timeout)
            if message is None:
                raise TimeoutError(f"{topic} stopped short of its end; partitions left: {ends}")
            if message.error():
                continue
            yield message
            partition, offset = message.partition(), message.offset()
            if partition in ends and offset is not None and offset + 1 >= ends[partition]:
                del ends[partition]
    finally:
        consumer.close()
