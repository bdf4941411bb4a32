"""A job as the API shows it: the read model's row in camelCase, with its rate and ETA."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb
from pydantic.alias_generators import to_camel

from domain.job import JobState
from domain.progress_timing import timing
from export_contract.request import ExportStatus
from projections.read_model import job_row

# Kept in the read model for the projection's own use, not part of a job's description.
INTERNAL_COLUMNS = {"last_sequence", "job_state"}


def job_json(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, value in row.items():
        if column in INTERNAL_COLUMNS:
            continue
        out[to_camel(column)] = _plain(value)
    rate, eta = timing(
        ExportStatus(row["status"]),
        row.get("started_at"),
        row.get("progressed_at"),
        row.get("completed_at"),
        int(row.get("processed_rows") or 0),
        row.get("total_rows"),
    )
    out["rowsPerSecond"] = round(rate, 1) if rate is not None else None
    out["estimatedCompletionAt"] = eta.isoformat() if eta is not None else None
    return out


def state_json(state: JobState, created_at: datetime, updated_at: datetime) -> dict[str, Any]:
    """The same description from a folded state (what the read model would hold after it)."""
    return job_json({**job_row(state), "created_at": created_at, "updated_at": updated_at})


def _plain(value: object) -> object:
    if isinstance(value, Jsonb):
        return value.obj
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
