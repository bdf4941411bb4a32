"""Which partition owns a key: Kafka's default partitioner (murmur2), as Java clients,
aiokafka (so every Faust agent) and librdkafka's `murmur2_random` compute it.

A user's quota lives in the quotas table partition of its key `tenant:user`; the user's
commands must be read from that partition, and the settlements the job agent sends (through
Faust) land there by this same hash. A command that another partitioner put elsewhere is
moved to its owner partition before it is handled.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def owner_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions
