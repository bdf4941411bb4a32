"""Retention: exports expire when their retention period ends.

A timer on the leader sweeps once a minute: it finds completed jobs whose `expiresAt` has
passed (in the read model, an index only) and asks the job agent to expire each one; the job
agent checks against the job's own state, records `ExportExpired` and deletes the files. The
sweep's clock is a parameter: a request on export.sweeps (`{"asOf": ..., "tenantId": ...}`)
runs one sweep as of any time, which is how operators expire early and tests skip days.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import NAMESPACE_URL, uuid5

import psycopg
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from agents.runner import Effect, Received, Send, Undecodable
from config.settings import Settings
from domain import inbox

log = logging.getLogger(__name__)

EXPIRY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:export-service:expiry")
DUE = """
SELECT id FROM export_service.export_jobs
WHERE status = 'COMPLETED' AND expires_at <= %(as_of)s
  AND (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s::uuid)
ORDER BY expires_at LIMIT 10000
"""


class SweepRequest(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    as_of: datetime
    tenant_id: str | None = None


async def handle_sweep_request(received: Received, settings: Settings) -> list[Effect]:
    try:
        request = SweepRequest.model_validate_json(received.value)
    except ValueError as exc:
        raise Undecodable(f"not a sweep request: {exc}") from exc
    return list(await sweep(request, settings))


async def sweep(request: SweepRequest, settings: Settings) -> list[Send]:
    """An ExpireJob for every completed export due as of the request's time."""
    try:
        async with await psycopg.AsyncConnection.connect(settings.service_database_url) as conn:
            cursor = await conn.execute(DUE, {"as_of": request.as_of, "tenant": request.tenant_id})
            due = [str(row[0]) for row in await cursor.fetchall()]
    except psycopg.Error as exc:
        log.warning("retention sweep skipped: %s", exc)
        return []
    if due:
        log.info("retention sweep as of %s: %d exports due", request.as_of.isoformat(), len(due))
    return [_expire(job_id, request.as_of, settings) for job_id in due]


def _expire(job_id: str, as_of: datetime, settings: Settings) -> Send:
    message = inbox.ExpireJob(
        job_id=job_id,
        message_id=str(uuid5(EXPIRY_NAMESPACE, f"{job_id}:{as_of.isoformat()}")),
        as_of=as_of,
    )
    return Send(settings.job_inbox_topic, job_id, inbox.encode_inbox(message))
