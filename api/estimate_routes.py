"""POST /v1/exports/estimate: an export's rows, size, files and duration, and whether it fits
the caller's quota now, from the same body as POST /v1/exports, without creating a job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Request

from api import responses
from api.auth import CREATE_ROLE, Principal, authenticate, require
from api.jobs_repository import JobsRepository
from api.routes import read_export_request
from domain import quota
from domain.estimate import estimate
from extraction.estimate_sample import sample_export

estimates = APIRouter(prefix="/v1/exports", tags=["Data Export"], responses=responses.COMMON)


@estimates.post(
    "/estimate",
    summary="Estimate an export before submitting it",
    responses={503: responses.SUBMIT[503] | {"description": "The database did not answer"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ExportRequest"}}
            },
        }
    },
)
async def estimate_export(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> dict[str, Any]:
    """`rows` (counted when cheap: `rowsExact`), `bytes`, `files`, `chunks`, `seconds` at the
    service's own measured rate, and `fitsQuota` with each limit it would break."""
    require(principal, CREATE_ROLE)
    body, query = await read_export_request(request, principal)
    settings = request.app.state.settings
    jobs: JobsRepository = request.app.state.jobs
    try:
        sample = await sample_export(settings.reader_database_url, principal.tenant_id, query, body)
        rate = await jobs.measured_rate(body.format.value)
    except psycopg.OperationalError:
        raise HTTPException(
            503,
            {"error": "SOURCE_UNAVAILABLE", "message": "the analytics database did not answer"},
        ) from None
    limits = await request.app.state.limits.current_for_user(principal.tenant_id, principal.user_id)
    usage = await jobs.quota_usage(principal.tenant_id, principal.user_id)
    today = quota.local_day(datetime.now(UTC), limits.timezone)
    problems = [
        {"field": p.limit, "reason": p.message}
        for p in quota.problems(usage, limits, sample.rows, today)
    ]
    rows_per_file = body.max_rows_per_file or settings.default_max_rows_per_file
    result = estimate(body, sample, rows_per_file, rate, problems)
    if limits.max_export_bytes is not None and result["bytes"] > limits.max_export_bytes:
        result["quotaProblems"].append(
            {
                "field": "maxExportBytes",
                "reason": f"the export would pass its size limit of {limits.max_export_bytes:,}"
                f" bytes (about {result['bytes']:,} bytes)",
            }
        )
        result["fitsQuota"] = False
    return result
