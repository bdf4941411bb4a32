"""Retention: exports expire when their retention period ends.

A timer on the leader sweeps once a minute: it finds completed jobs whose `expiresAt` has
passed (in the read model, an index only) and asks the job agent to expire each one; the job
agent checks against the job's own state, records `ExportExpired` and deletes the files. The
sweep's clock is a parameter: a request on export.sweeps (`{"asOf": ..., "tenantId": ...}`)
runs one sweep as of any time, which is how operators expire early and tests skip days.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, uuid5

import faust
import psycopg
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from agents.app import app, job_inbox_topic, settings, sweeps_topic
from agents.dead_letters import dead_letter
from agents.sending import send_acked
from agents.skipped_messages import handled
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


@app.timer(interval=settings.retention_sweep_seconds, on_leader=True)
async def sweep_on_schedule() -> None:
    await sweep(SweepRequest(as_of=datetime.now(UTC)))


@app.agent(sweeps_topic)
async def sweep_on_request(stream: faust.StreamT[bytes]) -> None:
    async for key, value in stream.items():
        handled(stream)
        try:
            request = SweepRequest.model_validate_json(value)
        except ValueError as exc:
            await dead_letter(settings.sweeps_topic, key, value, f"not a sweep request: {exc}")
            continue
        await sweep(request)


async def sweep(request: SweepRequest) -> int:
    try:
        async with await psycopg.AsyncConnection.connect(settings.service_database_url) as conn:
            cursor = await conn.execute(DUE, {"as_of": request.as_of, "tenant": request.tenant_id})
            due = [str(row[0]) for row in await cursor.fetchall()]
    except psycopg.Error as exc:
        log.warning("retention sweep skipped: %s", exc)
        return 0
    for job_id in due:
        message = inbox.ExpireJob(
            job_id=job_id,
            message_id=str(uuid5(EXPIRY_NAMESPACE, f"{job_id}:{request.as_of.isoformat()}")),
            as_of=request.as_of,
        )
        await send_acked(job_inbox_topic, job_id, inbox.encode_inbox(message))
    if due:
        log.info("retention sweep as of %s: %d exports due", request.as_of.isoformat(), len(due))
    return len(due)
