"""The /v1/schedules routes. Writes become schedule commands on Kafka, checked here first so
that a bad schedule is answered 400 with its fields; reads come from the read model."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from api import responses
from api.auth import CREATE_ROLE, READ_ROLE, Principal, authenticate, require
from api.route_support import (
    api_error,
    invalid_request,
    json_object,
    publisher_of,
    refuse_unallowed_webhook,
)
from api.schedule_json import run_json, schedule_json
from api.schedules_repository import SchedulesRepository
from domain.decisions import ADMIN_ROLE
from domain.field_errors import RequestInvalid
from domain.schedule_validation import validate_schedule
from export_contract import models as ev
from export_contract.ids import schedule_id_for
from export_contract.schedule import ScheduleSpec

router = APIRouter(prefix="/v1/schedules", tags=["Schedules"], responses=responses.COMMON)
Caller = Annotated[Principal, Depends(authenticate)]
IDEMPOTENCY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:export-service:schedule-key")
CHANGES: dict[str, type[ev.PauseSchedule | ev.ResumeSchedule]] = {
    "pause": ev.PauseSchedule,
    "resume": ev.ResumeSchedule,
}


def _schedules(request: Request) -> SchedulesRepository:
    schedules: SchedulesRepository = request.app.state.schedules
    return schedules


def _command_fields(principal: Principal, command_id: str | None = None) -> dict[str, Any]:
    return {
        "command_id": command_id or str(uuid.uuid4()),
        "tenant_id": principal.tenant_id,
        "user_id": principal.user_id,
        "roles": sorted(principal.roles),
        "issued_at": datetime.now(UTC),
    }


@router.post("", status_code=202, summary="Create a schedule", responses=responses.SCHEDULE_CREATE)
async def create_schedule(request: Request, principal: Caller) -> JSONResponse:
    """Check the schedule (its timing and the export request inside), publish CreateSchedule
    and return its id at once. An `Idempotency-Key` header makes retries safe."""
    require(principal, CREATE_ROLE)
    payload = await json_object(request)
    spec = await _checked(request, principal, payload)
    await _check_schedule_limit(request, principal)
    key = request.headers.get("idempotency-key")
    command_id = (
        str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{principal.user_id}:{key}")) if key else None
    )
    fields = _command_fields(principal, command_id)
    await publisher_of(request).publish(principal, ev.CreateSchedule(**fields, schedule=spec))
    schedule_id = schedule_id_for(principal.tenant_id, fields["command_id"])
    body = {"id": schedule_id, "status": "PENDING", **spec.model_dump(mode="json", by_alias=True)}
    return JSONResponse(body, status_code=202, headers={"Location": f"/v1/schedules/{schedule_id}"})


@router.get("", summary="List your schedules")
async def list_schedules(request: Request, principal: Caller) -> dict[str, Any]:
    require(principal, READ_ROLE)
    rows = await _schedules(request).list_for_owner(principal.tenant_id, principal.user_id)
    return {"schedules": [schedule_json(row) for row in rows]}


@router.get("/{schedule_id}", summary="Get a schedule")
async def get_schedule(
    schedule_id: uuid.UUID, request: Request, principal: Caller
) -> dict[str, Any]:
    require(principal, READ_ROLE)
    return schedule_json(await _schedule_or_404(request, principal, schedule_id))


@router.patch(
    "/{schedule_id}",
    status_code=202,
    summary="Change a schedule",
    responses=responses.SCHEDULE_CHANGE,
)
async def update_schedule(
    schedule_id: uuid.UUID, request: Request, principal: Caller
) -> dict[str, Any]:
    """The fields sent replace the schedule's; the result is checked as a new schedule is."""
    require(principal, CREATE_ROLE)
    row = await _live_schedule(request, principal, schedule_id)
    changed = {**row["spec"], **await json_object(request)}
    spec = await _checked(request, principal, changed)
    command = ev.UpdateSchedule(
        **_command_fields(principal), schedule_id=str(schedule_id), schedule=spec
    )
    await publisher_of(request).publish(principal, command)
    return {"id": str(schedule_id), **spec.model_dump(mode="json", by_alias=True)}


@router.delete(
    "/{schedule_id}",
    status_code=202,
    summary="Delete a schedule",
    responses=responses.SCHEDULE_CHANGE,
)
async def delete_schedule(
    schedule_id: uuid.UUID, request: Request, principal: Caller
) -> dict[str, Any]:
    require(principal, CREATE_ROLE)
    await _live_schedule(request, principal, schedule_id)
    command = ev.DeleteSchedule(**_command_fields(principal), schedule_id=str(schedule_id))
    await publisher_of(request).publish(principal, command)
    return {"id": str(schedule_id), "status": "DELETING"}


@router.post(
    "/{schedule_id}/{change}",
    status_code=202,
    summary="Pause or resume a schedule",
    responses=responses.SCHEDULE_CHANGE,
)
async def change_schedule(
    schedule_id: uuid.UUID, change: str, request: Request, principal: Caller
) -> dict[str, Any]:
    require(principal, CREATE_ROLE)
    command_class = CHANGES.get(change)
    if command_class is None:
        raise api_error(404, "NOT_FOUND", f"no action '{change}'; pause or resume")
    await _live_schedule(request, principal, schedule_id)
    command = command_class(**_command_fields(principal), schedule_id=str(schedule_id))
    await publisher_of(request).publish(principal, command)
    return {"id": str(schedule_id), "status": "PAUSING" if change == "pause" else "RESUMING"}


@router.get("/{schedule_id}/runs", summary="A schedule's runs, latest first")
async def schedule_runs(
    schedule_id: uuid.UUID,
    request: Request,
    principal: Caller,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    require(principal, READ_ROLE)
    await _schedule_or_404(request, principal, schedule_id)
    rows = await _schedules(request).runs(str(schedule_id), limit)
    return {"runs": [run_json(row) for row in rows]}


async def _check_schedule_limit(request: Request, principal: Principal) -> None:
    """429 naming the limit when the user already has as many schedules as allowed (the
    worker checks again: this answer only comes sooner)."""
    limits = await request.app.state.limits.current_for_user(principal.tenant_id, principal.user_id)
    count = await _schedules(request).live_count(principal.tenant_id, principal.user_id)
    if count >= limits.max_schedules:
        message = f"Schedule limit reached ({limits.max_schedules})"
        raise api_error(429, "QUOTA_EXCEEDED", message, limit="maxSchedules")


async def _checked(request: Request, principal: Principal, payload: dict[str, Any]) -> ScheduleSpec:
    try:
        spec = validate_schedule(payload)
        await refuse_unallowed_webhook(request, principal, spec.export_request, "exportRequest.")
    except RequestInvalid as exc:
        raise invalid_request(exc) from None
    return spec


async def _schedule_or_404(
    request: Request, principal: Principal, schedule_id: uuid.UUID
) -> dict[str, Any]:
    """The schedule, if the caller owns it or administers its tenant."""
    row = await _schedules(request).get(principal.tenant_id, str(schedule_id))
    mine = row is not None and (
        str(row["owner_id"]) == principal.user_id or ADMIN_ROLE in principal.roles
    )
    if row is None or not mine:
        raise api_error(404, "NOT_FOUND", f"no schedule {schedule_id}")
    return row


async def _live_schedule(
    request: Request, principal: Principal, schedule_id: uuid.UUID
) -> dict[str, Any]:
    row = await _schedule_or_404(request, principal, schedule_id)
    if row["status"] not in ("ACTIVE", "PAUSED"):
        raise api_error(409, "CONFLICT", f"the schedule is {row['status'].lower()}")
    return row
