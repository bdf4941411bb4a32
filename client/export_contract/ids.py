"""The job a command creates and the schedule a command makes, derived rather than random.

A client that knows its command id can name the job before the service answers, and the
same command sent twice (per tenant) always names the same job, which is what makes
re-sending a command after a timeout safe.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

JOB_NAMESPACE = uuid5(NAMESPACE_URL, "urn:export-service:job")


def job_id_for(tenant_id: str, command_id: str) -> str:
    """The job a command creates: the same command (per tenant) always names the same job."""
    return str(uuid5(JOB_NAMESPACE, f"{UUID(tenant_id)}:{command_id}"))


SCHEDULE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:export-service:schedule")


def schedule_id_for(tenant_id: str, command_id: str) -> str:
    """The schedule a CreateSchedule makes: the same command always names the same one."""
    return str(uuid5(SCHEDULE_NAMESPACE, f"{UUID(tenant_id)}:{command_id}"))


def run_command_id(schedule_id: str, slot: datetime) -> str:
    """The command a schedule's slot sends: one per (schedule, slot), so the slot's job id
    (job_id_for of it) is the same however often the slot is decided again."""
    return f"schedule:{schedule_id}:{slot.astimezone(UTC).isoformat()}"
