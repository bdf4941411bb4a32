"""A schedule as the API shows it: its description, status and the next few run times."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from typing import Any

from domain.schedule_timing import describe, slots_after
from export_contract.schedule import ScheduleSpec

NEXT_RUNS_SHOWN = 3


def schedule_json(row: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": str(row["id"]),
        "status": row["status"],
        "ownerId": str(row["owner_id"]),
        "createdAt": _iso(row["created_at"]),
        "updatedAt": _iso(row["updated_at"]),
    }
    if row["rejection"]:
        return {**view, "rejection": row["rejection"]}
    spec = ScheduleSpec.model_validate(row["spec"])
    view.update(spec.model_dump(mode="json", by_alias=True))
    view["cronDescription"] = describe(spec)
    next_slot: datetime | None = row["next_slot_at"]
    view["nextRunAt"] = _iso(next_slot)
    view["nextRuns"] = []
    if next_slot is not None:
        later = islice(slots_after(spec, next_slot), NEXT_RUNS_SHOWN - 1)
        view["nextRuns"] = [_iso(next_slot), *(_iso(slot) for slot in later)]
    return view


def run_json(row: dict[str, Any]) -> dict[str, Any]:
    key_range = None
    if row["key_through"] is not None:
        key_range = {"after": row["key_after"], "through": row["key_through"]}
    return {
        "slot": _iso(row["slot"]),
        "runNumber": row["run_number"],
        "jobId": str(row["job_id"]) if row["job_id"] else None,
        "status": row["status"],
        "rows": row["rows"],
        "keyRange": key_range,
        "reason": row["reason"],
        "decidedAt": _iso(row["decided_at"]),
        "finishedAt": _iso(row["finished_at"]),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None
