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

from agents.runner import Received, Report, Send, Undecodable
from config.bootstrap import Collaborators
from delivery.deliver import deliver
from delivery.failures import DeliveryError
from domain import inbox
from observability.logs import log_context
from observability.metrics import DELIVERY_ATTEMPTS

log = logging.getLogger(__name__)

ATTEMPT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:export-service:delivery-attempt")

# Several at once: an attempt mostly waits on the network or on its backoff.
DELIVERIES_AT_ONCE = 4


class Deliverer:
    """Runs delivery tasks: one attempt per call, its outcome reported to the job's inbox,
    never raised; only a failure to report (the broker unreachable) escapes, and the task is
    taken again."""

    def __init__(self, c: Collaborators, report: Report) -> None:
        self._c = c
        self._report = report

    async def __call__(self, received: Received) -> None:
        try:
            task = inbox.DeliverExport.model_validate_json(received.value)
        except ValueError as exc:
            raise Undecodable(f"not a delivery task: {exc}") from exc
        with log_context(job_id=task.job_id, tenant_id=task.tenant_id):
            await self.attempt(task)

    async def attempt(self, task: inbox.DeliverExport) -> None:
        wait = (task.not_before - datetime.now(UTC)).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)
        method = task.request.delivery_method().value
        try:
            destination = await deliver(task, self._c.settings, self._c.store)
            outcome = inbox.DeliveryAttempted(
                job_id=task.job_id,
                message_id=_message_id(task),
                attempt=task.attempt,
                method=method,
                delivered=True,
                destination=destination,
            )
            DELIVERY_ATTEMPTS.labels(method, "delivered").inc()
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
            kind = "failed_permanent" if exc.permanent else "failed_transient"
            DELIVERY_ATTEMPTS.labels(method, kind).inc()
            log.warning("job %s delivery attempt %d failed: %s", task.job_id, task.attempt, exc)
        topic = self._c.settings.job_inbox_topic
        await self._report([Send(topic, task.job_id, inbox.encode_inbox(outcome))])


def _message_id(task: inbox.DeliverExport) -> str:
    return str(uuid5(ATTEMPT_NAMESPACE, f"{task.job_id}:{task.attempt}"))
