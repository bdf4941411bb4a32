"""Where the stall guard expects a group's readers to begin, against the real broker: the
group's commit, or for a partition never committed, the partition's first offset."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from agents.task_consumers import start_offsets
from config.settings import Settings

PARTITION = TopicPartition("export.dead-letter", 0)  # read by no agent: probes harm nothing


def test_a_partition_never_committed_starts_at_its_first_offset_a_committed_one_at_its_commit(
    settings: Settings,
) -> None:
    bootstrap = settings.kafka_bootstrap_servers
    producer = Producer({"bootstrap.servers": bootstrap})
    for n in range(3):
        producer.produce(PARTITION.topic, f"start offsets probe {n}".encode(), partition=0)
    producer.flush(10)
    committed_group, fresh_group = (f"start-offsets-{uuid.uuid4()}" for _ in range(2))
    committer = Consumer({"bootstrap.servers": bootstrap, "group.id": committed_group})
    first, high = committer.get_watermark_offsets(PARTITION, timeout=10)
    commit = high - 1
    committer.commit(offsets=[TopicPartition(PARTITION.topic, 0, commit)], asynchronous=False)
    committer.close()
    assert commit > first  # the two cases give different answers

    for group, expected in ((fresh_group, first), (committed_group, commit)):
        found = start_offsets(bootstrap, group, [TopicPartition(PARTITION.topic, 0)])
        assert [(tp.topic, tp.partition, tp.offset) for tp in found] == [
            (PARTITION.topic, 0, expected)
        ], group
