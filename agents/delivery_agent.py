"""Delivery agent: runs one delivery attempt per task and reports its outcome to the job agent.

The job agent decides what an outcome means (delivered, retry later, failed for good) and
sends the next attempt's task with the time it may start; this agent waits for that time,
so a retry survives a worker restart (the task is in Kafka, not in memory).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, uuid5

import faust

from agents.app import app, deliveries_topic, export_store, job_inbox_topic, settings
from agents.dead_letters import dead_letter
from agents.sending import send_acked
from delivery.deliver import deliver
from delivery.failures import DeliveryError
from domain import inbox

log = logging.getLogger(__name__)

ATTEMPT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:export-service:delivery-attempt")


# Several at once: an attempt mostly waits on the network or on its backoff.
@app.agent(deliveries_topic, concurrency=4)
async def delivery_agent(stream: faust.StreamT[bytes]) -> None:
    async for key, value in stream.items():
        try:
            task = inbox.DeliverExport.model_validate_json(value)
        except ValueError as exc:
            reason = f"not a delivery task: {exc}"
            await dead_letter(settings.deliveries_topic, key, value, reason)
            continue
        try:
            await attempt_delivery(task)
        except Exception:  # keep the agent; the job stays PENDING and the log says why
            log.exception("delivery attempt %d of job %s crashed", task.attempt, task.job_id)


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
