"""Delivery: runs one delivery attempt per task and reports its outcome to the job agent.

The job agent decides what an outcome means (delivered, retry later, failed for good) and
sends the next attempt's task with the time it may start; the attempt waits for that time,
so a retry survives a worker restart (the task is in Kafka, not in memory).

Tasks come from plain Kafka consumers (agents/task_consumers.py), not a Faust agent: an
attempt can wait minutes for its time and then upload for minutes more, and a Faust agent
would hold every other agent of the worker through a rebalance meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, uuid5

from agents.app import app, export_store, job_inbox_topic, settings, worker_id
from agents.dead_letters import dead_letter
from agents.sending import send_acked
from agents.task_consumers import TaskConsumerService, delivery_tasks
from delivery.deliver import deliver
from delivery.failures import DeliveryError
from domain import inbox

log = logging.getLogger(__name__)

ATTEMPT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:export-service:delivery-attempt")


# Several at once: an attempt mostly waits on the network or on its backoff.
DELIVERIES_AT_ONCE = 4


async def handle_delivery(key: bytes | None, value: bytes) -> None:
    """One delivery task. Its outcome is reported to the job, never raised; only a failure
    to report (the broker unreachable) escapes, and the task is taken again."""
    try:
        task = inbox.DeliverExport.model_validate_json(value)
    except ValueError as exc:
        await dead_letter(settings.deliveries_topic, key, value, f"not a delivery task: {exc}")
        return
    await attempt_delivery(task)


@app.service
class Deliverers(TaskConsumerService):
    kind = delivery_tasks(settings)
    handler = staticmethod(handle_delivery)
    count = DELIVERIES_AT_ONCE
    client_id = f"deliverer-{worker_id}"
    # An attempt still waiting for its time is not committed: another member redoes it.
    stop_seconds = 5.0


async def attempt_delivery(task: inbox.DeliverExport) -> None:
    wait = (task.not_before - datetime.now(UTC)).total_seconds()
    if wait > 0:
        await asyncio.sleep(wait)
    method = task.request.delivery_method().value
    try:
        destination = await deliver(task, settings, export_store)
        outcome = inbox.DeliveryAttempted(
            job_id=task.job_id,
            message_id=_message_id(task),
            attempt=task.attempt,
            method=method,
            delivered=True,
            destination=destination,
        )
        log.info("job %s delivered by %s to %s", task.job_id, method, destination)
    except DeliveryError as exc:
        outcome = inbox.DeliveryAttempted(
            job_id=task.job_id,
            message_id=_message_id(task),
            attempt=task.attempt,
            method=method,
            delivered=False,
            destination="",
            reason=exc.reason,
            permanent=exc.permanent,
        )
        log.warning("job %s delivery attempt %d failed: %s", task.job_id, task.attempt, exc)
    await send_acked(job_inbox_topic, task.job_id, inbox.encode_inbox(outcome))


def _message_id(task: inbox.DeliverExport) -> str:
    return str(uuid5(ATTEMPT_NAMESPACE, f"{task.job_id}:{task.attempt}"))
