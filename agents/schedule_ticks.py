"""Ticks: schedules whose next slot has come are told so.

A timer on the leader ticks every few seconds: it finds the active schedules whose next
undecided slot is due (in the read model, an index only) and sends each a SlotsDue; the
schedule agent decides from the schedule's own state, so a tick sent twice, or one that
read a read model lagging behind, starts nothing twice. The tick's clock is a parameter: a
request on export.schedule-ticks (`{"asOf": ...}`) ticks as of any time, which is how tests
walk a schedule through its slots.
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
from domain.schedule_inbox import SlotsDue, encode_schedule_message

log = logging.getLogger(__name__)

TICK_NAMESPACE = uuid5(NAMESPACE_URL, "urn:export-service:schedule-tick")
DUE = """
SELECT id FROM export_service.export_schedules
WHERE status = 'ACTIVE' AND next_slot_at <= %(as_of)s
ORDER BY next_slot_at LIMIT 10000
"""


class TickRequest(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    as_of: datetime


async def handle_tick_request(received: Received, settings: Settings) -> list[Effect]:
    try:
        request = TickRequest.model_validate_json(received.value)
    except ValueError as exc:
        raise Undecodable(f"not a tick request: {exc}") from exc
    return list(await tick(request, settings))


async def tick(request: TickRequest, settings: Settings) -> list[Send]:
    """A SlotsDue for every active schedule with a slot due as of the request's time."""
    try:
        async with await psycopg.AsyncConnection.connect(settings.service_database_url) as conn:
            cursor = await conn.execute(DUE, {"as_of": request.as_of})
            due = [str(row[0]) for row in await cursor.fetchall()]
    except psycopg.Error as exc:
        log.warning("schedule tick skipped: %s", exc)
        return []
    return [_slots_due(schedule_id, request.as_of, settings) for schedule_id in due]


def _slots_due(schedule_id: str, as_of: datetime, settings: Settings) -> Send:
    message = SlotsDue(
        schedule_id=schedule_id,
        message_id=str(uuid5(TICK_NAMESPACE, f"{schedule_id}:{as_of.isoformat()}")),
        as_of=as_of,
    )
    return Send(settings.schedule_inbox_topic, schedule_id, encode_schedule_message(message))
