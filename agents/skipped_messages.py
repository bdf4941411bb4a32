"""A guard against messages Faust acknowledges without handing them to an agent.

Around a rebalance, faust-streaming 0.15.3 can drop events it has already fetched (a queue
cleared on resume, an event of an older generation skipped) and still acknowledge them, so
a partition's commit moves past messages that no agent handled. In one CI run a job's inbox
lost its last twenty messages that way after a worker was killed, and the job stayed
PROCESSING for good. The agents here handle every message of their topics, so each reports
the offsets it handles; the ledger knows which offset should come next on every partition,
and a timer reads a partition again from there when a later message came first, or when
Faust has committed past it. Every agent tolerates a message handled twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from confluent_kafka import KafkaException, TopicPartition
from faust.types import TP, StreamT
from mode import BaseSignalT

from agents.app import app, settings
from agents.offset_ledger import OffsetLedger
from agents.task_consumers import committed_offsets

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0


ledger = OffsetLedger()
WATCHED = {
    settings.commands_topic,
    settings.quota_inbox_topic,
    settings.job_inbox_topic,
    settings.events_topic,
    settings.sweeps_topic,
}


def handled(stream: StreamT[Any]) -> None:
    """Called by every agent for every message it takes, before it handles it."""
    event = stream.current_event
    if event is not None:
        ledger.handled(event.message.tp, event.message.offset)


@app.on_partitions_assigned.connect
async def _on_assigned(sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
    assigned: set[TP] = args[0]  # Faust sends the new assignment as the one argument
    watched = [tp for tp in assigned if tp.topic in WATCHED]
    # What the group has committed now, before this member commits anything: where the
    # previous owner stopped. Faust's own record of it is only filled in after recovery.
    try:
        committed = await asyncio.to_thread(
            committed_offsets,
            settings.kafka_bootstrap_servers,
            app.conf.id,  # the Faust app's consumer group
            [TopicPartition(tp.topic, tp.partition) for tp in watched],
            timeout=5.0,
        )
    except KafkaException as exc:  # the rebalance must not wait on this; lose the baseline
        log.warning("committed offsets unknown after the rebalance: %s", exc)
        committed = []
    ledger.assigned(watched, {TP(c.topic, c.partition): c.offset for c in committed})


@app.timer(CHECK_SECONDS)
async def reread_skipped() -> None:
    if app.rebalancing or not app.flow_control.is_active():
        return  # Faust seeks every partition to its commit at the end of a rebalance
    consumer: Any = app.consumer
    committed = {tp: consumer._committed_offset.get(tp) for tp in consumer.assignment()}
    for reread in ledger.rereads(committed):
        log.warning(
            "%s: messages from offset %d were not handed to the agent (Faust committed %s);"
            " reading them again",
            reread.tp,
            reread.offset,
            committed.get(reread.tp),
        )
        await consumer.seek(reread.tp, reread.offset)
