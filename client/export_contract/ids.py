"""The job a command creates, derived rather than random.

A client that knows its command id can name the job before the service answers, and the
same command sent twice (per tenant) always names the same job, which is what makes
re-sending a command after a timeout safe.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

JOB_NAMESPACE = uuid5(NAMESPACE_URL, "urn:export-service:job")


def job_id_for(tenant_id: str, command_id: str) -> str:
    """The job a command creates: the same command (per tenant) always names the same job."""
    return str(uuid5(JOB_NAMESPACE, f"{UUID(tenant_id)}:{command_id}"))
