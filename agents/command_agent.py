"""Command handler: turns RequestExport and CancelExport commands into job inbox messages,
and schedule commands into schedule inbox messages.

It validates a request (schema, catalogue, role), counts and plans it against the
database, checks and reserves the user's quota, and hands the outcome to the job agent,
which records the events. It also settles quotas when jobs end: one agent reads the
commands and the settlements, so a user's commands and the settlements of its jobs are
handled one at a time, by the owner of the user's quota (agents/quota_keeper.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from uuid import UUID

import psycopg

from agents.partitioning import owner_partition
from agents.quota_keeper import QuotaKeeper
from agents.runner import Effect, Received, Send, Undecodable
from config.settings import Settings
from domain import inbox
from domain import schedule_inbox as si
from domain.field_errors import FieldError
from domain.schedule_inbox import NOTHING_NEW
from domain.schedule_validation import check_schedule
from domain.validation import RequestInvalid, ResolvedQuery, resolve
from export_contract import codec
from export_contract import models as ev
from export_contract.ids import job_id_for, schedule_id_for
from export_contract.models import CancelExport, RequestExport
from export_contract.request import ExportRequest
from observability.logs import log_context

log = logging.getLogger(__name__)

CREATE_ROLE = "exports:create"
PLANNING_ATTEMPTS = 3
PLANNING_RETRY_SECONDS = 2.0

# (tenant, query, rows per file) -> the plan; extraction.planner.plan_export, bound to the
# reader's database.
Planner = Callable[[str, ResolvedQuery, int], Awaitable[inbox.Acceptance]]


@dataclass(frozen=True)
class CommandCollaborators:
    settings: Settings
    plan: Planner
    quota: QuotaKeeper
    # (tenant, job) -> where the job's files will be kept (the store chosen for the tenant).
    output_location: Callable[[str, str], str]
    # (tenant, request) -> why the tenant may not send the request's webhook where it points
    # (delivery.webhook_gate.webhook_problems, bound to the secrets file).
    webhook_problems: Callable[[str, ExportRequest], Awaitable[list[FieldError]]]


async def handle_command_topics(received: Received, c: CommandCollaborators) -> list[Effect]:
    """A command or a quota settlement, whichever topic the message came from."""
    if received.topic == c.settings.quota_inbox_topic:
        await _settle(received, c)
        return []
    moved = _moved_to_owner(received, c.settings)
    if moved is not None:
        return [moved]
    return await handle_command(received.value, c)


async def _settle(received: Received, c: CommandCollaborators) -> None:
    try:
        settlement = inbox.QuotaSettlement.model_validate_json(received.value)
    except ValueError as exc:
        raise Undecodable(f"not a settlement: {exc}") from exc
    with log_context(job_id=settlement.job_id, tenant_id=settlement.tenant_id):
        await c.quota.settle(settlement)


def _moved_to_owner(received: Received, settings: Settings) -> Send | None:
    """A command keyed tenant:user that arrived on another partition than its owner's goes
    there first (another client's partitioner put it here)."""
    if not received.key:
        return None
    owner = owner_partition(received.key, settings.partitions)
    if received.partition == owner:
        return None
    return Send(
        settings.commands_topic,
        received.key,
        received.value,
        partition=owner,
        headers=received.headers,
    )


async def handle_command(value: bytes, c: CommandCollaborators) -> list[Effect]:
    try:
        command = codec.decode(value)
    except codec.UndecodableMessage as exc:
        raise Undecodable(str(exc)) from exc
    if not isinstance(command, ev.Command):
        raise Undecodable(f"{type(command).__name__} is not a command")
    if not _ids_are_uuids(command):
        raise Undecodable("tenantId and userId must be UUIDs")
    if isinstance(command, ev.ScheduleCommand):
        return [await _schedule_message(command, c)]
    if isinstance(command, CancelExport):
        with log_context(job_id=command.job_id, tenant_id=command.tenant_id):
            return [_cancel_requested(command, c.settings)]
    job_id = job_id_for(command.tenant_id, command.command_id)
    with log_context(job_id=job_id, tenant_id=command.tenant_id):
        return [await _open_job(command, job_id, c)]


def _cancel_requested(command: CancelExport, settings: Settings) -> Send:
    message = inbox.CancelRequested(
        job_id=command.job_id,
        message_id=command.command_id,
        tenant_id=command.tenant_id,
        user_id=command.user_id,
        reason=command.reason or "cancelled by the user",
        roles=command.roles,
    )
    return Send(settings.job_inbox_topic, command.job_id, inbox.encode_inbox(message))


async def _schedule_message(command: ev.ScheduleCommand, c: CommandCollaborators) -> Send:
    """The checked command, for the schedule agent to record (created, changed or refused)."""
    message: si.ScheduleMessage
    if isinstance(command, ev.CreateSchedule):
        rejection = await _schedule_refusal(command, c)
        if rejection is None:
            rejection = await c.quota.schedule_refusal(command.tenant_id, command.user_id)
        message = si.OpenSchedule(
            schedule_id=schedule_id_for(command.tenant_id, command.command_id),
            message_id=command.command_id,
            tenant_id=command.tenant_id,
            user_id=command.user_id,
            command_id=command.command_id,
            spec=command.schedule,
            rejection=rejection,
        )
    else:
        message = si.ChangeSchedule(
            schedule_id=command.schedule_id,
            message_id=command.command_id,
            tenant_id=command.tenant_id,
            user_id=command.user_id,
            roles=command.roles,
            change=SCHEDULE_CHANGES[type(command)],
            spec=command.schedule if isinstance(command, ev.UpdateSchedule) else None,
            rejection=await _schedule_refusal(command, c),
        )
    with log_context(schedule_id=message.schedule_id, tenant_id=command.tenant_id):
        log.info("schedule %s: %s", message.schedule_id, type(command).__name__)
    return Send(
        c.settings.schedule_inbox_topic, message.schedule_id, si.encode_schedule_message(message)
    )


SCHEDULE_CHANGES = {
    ev.UpdateSchedule: "UPDATE",
    ev.PauseSchedule: "PAUSE",
    ev.ResumeSchedule: "RESUME",
    ev.DeleteSchedule: "DELETE",
}


async def _schedule_refusal(
    command: ev.ScheduleCommand, c: CommandCollaborators
) -> inbox.Rejection | None:
    if CREATE_ROLE not in command.roles:
        return inbox.Rejection(code="FORBIDDEN", reason=f"the role {CREATE_ROLE} is required")
    if not isinstance(command, ev.CreateSchedule | ev.UpdateSchedule):
        return None
    errors = check_schedule(command.schedule)
    if not errors:
        webhook = await c.webhook_problems(command.tenant_id, command.schedule.export_request)
        errors = [FieldError(f"exportRequest.{e.field}", e.reason) for e in webhook]
    if not errors:
        return None
    reason = "; ".join(str(e) for e in errors)
    return inbox.Rejection(code="INVALID_REQUEST", reason=reason, field=errors[0].field)


def _ids_are_uuids(command: ev.Command) -> bool:
    try:
        UUID(command.tenant_id)
        UUID(command.user_id)
    except ValueError:
        return False
    return True


async def _open_job(command: RequestExport, job_id: str, c: CommandCollaborators) -> Send:
    outcome = await _decide(command, c)
    if isinstance(outcome, inbox.Acceptance):
        location = c.output_location(command.tenant_id, job_id)
        outcome = outcome.model_copy(update={"output_location": location})
        outcome = await c.quota.reserve(command.tenant_id, command.user_id, job_id, outcome)
    message = inbox.OpenJob(
        job_id=job_id,
        message_id=command.command_id,
        tenant_id=command.tenant_id,
        user_id=command.user_id,
        command_id=command.command_id,
        request=command.request,
        outcome=outcome,
        schedule=command.schedule,
    )
    log.info("job %s from command %s: %s", job_id, command.command_id, type(outcome).__name__)
    return Send(c.settings.job_inbox_topic, job_id, inbox.encode_inbox(message))


def _too_many_files(acceptance: inbox.Acceptance, most: int) -> inbox.Rejection | None:
    files = len(acceptance.chunks)
    if files <= most:
        return None
    total, per_file = acceptance.total_rows, acceptance.max_rows_per_file
    reason = (
        f"{total:,} rows at {per_file:,} per file would make {files:,} files, more than the"
        f" {most:,} one export may have; set maxRowsPerFile to at least {-(-total // most):,}"
    )
    return inbox.Rejection(code="INVALID_REQUEST", reason=reason, field="maxRowsPerFile")


async def _decide(
    command: RequestExport, c: CommandCollaborators
) -> inbox.Acceptance | inbox.Rejection:
    if CREATE_ROLE not in command.roles:
        return inbox.Rejection(code="FORBIDDEN", reason=f"the role {CREATE_ROLE} is required")
    try:
        query = resolve(command.request)
        webhook = await c.webhook_problems(command.tenant_id, command.request)
        if webhook:
            raise RequestInvalid(webhook)
        if command.schedule is not None and command.schedule.incremental:
            query = replace(query, key_above=command.schedule.key_after)
    except RequestInvalid as exc:
        first = exc.errors[0]
        return inbox.Rejection(code="INVALID_REQUEST", reason=str(exc), field=first.field)
    rows_per_file = command.request.max_rows_per_file or c.settings.default_max_rows_per_file
    for attempt in range(1, PLANNING_ATTEMPTS + 1):
        try:
            acceptance = await c.plan(command.tenant_id, query, rows_per_file)
            if acceptance.total_rows == 0 and command.schedule and command.schedule.skip_if_empty:
                reason = "no rows to export this time (the schedule's ifEmpty is SKIP)"
                return inbox.Rejection(code=NOTHING_NEW, reason=reason)
            return _too_many_files(acceptance, c.settings.max_files_per_export) or acceptance
        except psycopg.OperationalError as exc:
            log.warning("planning attempt %d failed: %s", attempt, exc)
            if attempt == PLANNING_ATTEMPTS:
                return inbox.Rejection(
                    code="SOURCE_UNAVAILABLE",
                    reason="the analytics database could not be reached; try again later",
                )
            await asyncio.sleep(PLANNING_RETRY_SECONDS**attempt)
    raise AssertionError("unreachable")
