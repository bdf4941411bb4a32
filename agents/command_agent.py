"""Command agent: turns RequestExport and CancelExport commands into job inbox messages.

It validates a request (schema, catalogue, role), counts and plans it against the
database, checks and reserves the user's quota, and hands the outcome to the job agent,
which records the events. It also settles quotas when jobs end. A message it cannot read
goes to the dead-letter topic with the reason; nothing stops the agent.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import faust
import psycopg

from agents import quota_keeper
from agents.app import (
    app,
    commands_topic,
    export_store,
    job_inbox_topic,
    settings,
)
from agents.dead_letters import dead_letter
from agents.limits import limits_book
from agents.partitioning import owner_partition
from agents.sending import send_acked
from agents.skipped_messages import handled
from domain import inbox
from domain.decisions import job_id_for
from domain.validation import RequestInvalid, resolve
from events import codec
from events.models import CancelExport, RequestExport
from extraction.planner import plan_export

log = logging.getLogger(__name__)

CREATE_ROLE = "exports:create"
PLANNING_ATTEMPTS = 3


# One agent reads both topics: a user's commands and the settlements of its jobs are handled
# one at a time, by the owner of the user's quota (agents/quota_keeper.py).
commands_and_settlements = app.topic(
    settings.commands_topic, settings.quota_inbox_topic, key_type=bytes, value_type=bytes
)


@app.agent(commands_and_settlements)
async def command_agent(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        handled(stream)
        key, value = event.key, event.value
        try:
            if event.message.topic == settings.quota_inbox_topic:
                await _settle(key, value)
            elif not await _moved_to_owner(key, value, event.message):
                await handle_command(key, value)
        except Exception as exc:  # one bad message must not stop the agent
            log.exception("message on key %r could not be handled; sent to dead letters", key)
            reason = f"internal error while handling the message: {exc!r}"
            await dead_letter(event.message.topic, key, value, reason)


async def _settle(key: bytes | None, value: bytes) -> None:
    try:
        settlement = inbox.QuotaSettlement.model_validate_json(value)
    except ValueError as exc:
        await dead_letter(settings.quota_inbox_topic, key, value, f"not a settlement: {exc}")
        return
    await quota_keeper.settle(settlement)


@app.task
async def load_limits() -> None:
    limits_book().start()


async def _moved_to_owner(key: bytes | None, value: bytes, message: faust.types.Message) -> bool:
    """Forward a command keyed tenant:user that arrived on another partition than its owner."""
    if not key:
        return False
    owner = owner_partition(key, settings.partitions)
    if message.partition == owner:
        return False
    await commands_topic.send(key=key, value=value, partition=owner, headers=message.headers)
    return True


async def handle_command(key: bytes | None, value: bytes) -> None:
    try:
        command = codec.decode(value)
    except codec.UndecodableMessage as exc:
        log.warning("undecodable command on key %r: %s", key, exc)
        await dead_letter(settings.commands_topic, key, value, str(exc))
        return
    if isinstance(command, RequestExport | CancelExport) and not _ids_are_uuids(command):
        await dead_letter(settings.commands_topic, key, value, "tenantId and userId must be UUIDs")
    elif isinstance(command, RequestExport):
        await _open_job(command)
    elif isinstance(command, CancelExport):
        message = inbox.CancelRequested(
            job_id=command.job_id,
            message_id=command.command_id,
            tenant_id=command.tenant_id,
            user_id=command.user_id,
            reason=command.reason or "cancelled by the user",
            roles=command.roles,
        )
        await send_acked(job_inbox_topic, command.job_id, inbox.encode_inbox(message))
    else:
        await dead_letter(
            settings.commands_topic, key, value, f"{type(command).__name__} is not a command"
        )


def _ids_are_uuids(command: RequestExport | CancelExport) -> bool:
    try:
        UUID(command.tenant_id)
        UUID(command.user_id)
    except ValueError:
        return False
    return True


async def _open_job(command: RequestExport) -> None:
    job_id = job_id_for(command.tenant_id, command.command_id)
    outcome = await _decide(command)
    if isinstance(outcome, inbox.Acceptance):
        location = export_store.output_location(command.tenant_id, job_id)
        outcome = outcome.model_copy(update={"output_location": location})
        outcome = await quota_keeper.reserve(command.tenant_id, command.user_id, job_id, outcome)
    message = inbox.OpenJob(
        job_id=job_id,
        message_id=command.command_id,
        tenant_id=command.tenant_id,
        user_id=command.user_id,
        command_id=command.command_id,
        request=command.request,
        outcome=outcome,
    )
    await send_acked(job_inbox_topic, job_id, inbox.encode_inbox(message))
    log.info("job %s from command %s: %s", job_id, command.command_id, type(outcome).__name__)


async def _decide(command: RequestExport) -> inbox.Acceptance | inbox.Rejection:
    if CREATE_ROLE not in command.roles:
        return inbox.Rejection(code="FORBIDDEN", reason=f"the role {CREATE_ROLE} is required")
    try:
        query = resolve(command.request)
    except RequestInvalid as exc:
        first = exc.errors[0]
        return inbox.Rejection(code="INVALID_REQUEST", reason=str(exc), field=first.field)
    rows_per_file = command.request.max_rows_per_file or settings.default_max_rows_per_file
    for attempt in range(1, PLANNING_ATTEMPTS + 1):
        try:
            return await plan_export(
                settings.reader_database_url, command.tenant_id, query, rows_per_file
            )
        except psycopg.OperationalError as exc:
            log.warning("planning attempt %d failed: %s", attempt, exc)
            if attempt == PLANNING_ATTEMPTS:
                return inbox.Rejection(
                    code="SOURCE_UNAVAILABLE",
                    reason="the analytics database could not be reached; try again later",
                )
            await asyncio.sleep(2**attempt)
    raise AssertionError("unreachable")
