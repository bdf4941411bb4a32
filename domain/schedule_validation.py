"""A schedule is checked when it is created or changed, not at its first run: its timing,
and the export request inside it exactly as POST /v1/exports would check it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from domain.field_errors import FieldError, RequestInvalid
from domain.schedule_timing import check_timing
from domain.validation import from_pydantic, resolve
from export_contract.schedule import ScheduleSpec

NAME_LIMIT = 255


def check_schedule(spec: ScheduleSpec) -> list[FieldError]:
    """Every problem, each with the field (exportRequest.* inside the request) and the reason."""
    errors: list[FieldError] = []
    if not spec.name.strip():
        errors.append(FieldError("name", "must not be empty"))
    elif len(spec.name) > NAME_LIMIT:
        errors.append(FieldError("name", f"at most {NAME_LIMIT} characters"))
    errors += check_timing(spec)
    try:
        resolve(spec.export_request)
    except RequestInvalid as exc:
        errors += [FieldError(f"exportRequest.{e.field}", e.reason) for e in exc.errors]
    return errors


def validate_schedule(payload: Mapping[str, Any]) -> ScheduleSpec:
    """The body of POST /v1/schedules, parsed and checked; RequestInvalid names each field."""
    try:
        spec = ScheduleSpec.model_validate(payload)
    except ValidationError as exc:
        raise RequestInvalid([from_pydantic(e) for e in exc.errors()]) from None
    errors = check_schedule(spec)
    if errors:
        raise RequestInvalid(errors)
    return spec
