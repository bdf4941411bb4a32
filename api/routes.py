"""The /v1/exports routes. Writes become commands on Kafka; reads come from the read model."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from api import responses
from api.auth import CREATE_ROLE, READ_ROLE, Principal, authenticate, require
from api.job_json import job_json
from api.jobs_repository import JobsRepository
from api.progress_stream import FIRST_EVENT_SECONDS, open_stream, progress_events
from api.route_support import (
    api_error,
    invalid_request,
    json_object,
    publisher_of,
    refuse_unallowed_webhook,
)
from api.zip_stream import zip_stream
from domain import quota
from domain.decisions import ADMIN_ROLE
from domain.signed_links import ARCHIVE, LinkExpired, LinkInvalid, check, make_link
from domain.validation import RequestInvalid, ResolvedQuery, validate_request
from export_contract.ids import job_id_for
from export_contract.models import CancelExport, RequestExport
from export_contract.request import ExportRequest, ExportStatus
from extraction.formats import media_type
from extraction.manifest import MANIFEST
from stores.export_store import ExportStore, join

router = APIRouter(prefix="/v1/exports", tags=["Data Export"], responses=responses.COMMON)
Caller = Annotated[Principal, Depends(authenticate)]

# A presigned URL only has to live long enough for the redirect to be followed; the link or
# token that led to it carries the real expiry.
PRESIGNED_SECONDS = 300
SHORT_LINK_SECONDS = 900
IDEMPOTENCY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:export-service:idempotency-key")
FINISHED = {
    ExportStatus.COMPLETED,
    ExportStatus.FAILED,
    ExportStatus.CANCELLED,
    ExportStatus.EXPIRED,
}


def _repository(request: Request) -> JobsRepository:
    jobs: JobsRepository = request.app.state.jobs
    return jobs


@router.post(
    "",
    status_code=202,
    summary="Create export job",
    responses=responses.SUBMIT,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ExportRequest"}}
            },
        }
    },
)
async def create_export(request: Request, principal: Caller) -> JSONResponse:
    """Validate the request, publish a RequestExport command and return the job id at once.

    Send an `Idempotency-Key` header to make retries safe: the same key gives the same job.
    """
    require(principal, CREATE_ROLE)
    body, _ = await read_export_request(request, principal)
    key = request.headers.get("idempotency-key")
    command_id = (
        str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{principal.user_id}:{key}"))
        if key
        else str(uuid.uuid4())
    )
    command = RequestExport(
        command_id=command_id,
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        roles=sorted(principal.roles),
        issued_at=datetime.now(UTC),
        request=body,
    )
    await publisher_of(request).publish(principal, command)
    job_id = job_id_for(principal.tenant_id, command_id)
    request.app.state.just_submitted.add(job_id)
    return JSONResponse(
        {"id": job_id, "commandId": command_id, "status": ExportStatus.PENDING.value},
        status_code=202,
        headers={"Location": f"/v1/exports/{job_id}"},
    )


async def read_export_request(
    request: Request, principal: Principal
) -> tuple[ExportRequest, ResolvedQuery]:
    """The body as an export request, checked against the catalogue and the caller's
    tenant configuration: 400 naming each field."""
    payload = await json_object(request)
    try:
        body, query = validate_request(payload)
        await refuse_unallowed_webhook(request, principal, body)
    except RequestInvalid as exc:
        raise invalid_request(exc) from None
    return body, query


@router.get("", summary="List exports")
async def list_exports(
    request: Request,
    principal: Caller,
    status: ExportStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """The caller's own exports, newest first."""
    require(principal, READ_ROLE)
    rows, total = await _repository(request).list_for_user(
        principal.tenant_id, principal.user_id, status, limit, offset
    )
    return {"exports": [job_json(r) for r in rows], "total": total}


@router.get("/quota", summary="Get quota usage")
async def quota_usage(request: Request, principal: Caller) -> dict[str, int]:
    """The caller's usage today against their limits (the seed's summary)."""
    require(principal, READ_ROLE)
    limits = await request.app.state.limits.current_for_user(principal.tenant_id, principal.user_id)
    usage = await _repository(request).quota_usage(principal.tenant_id, principal.user_id)
    return quota.summary(usage, limits, quota.local_day(datetime.now(UTC), limits.timezone))


@router.get("/{job_id}", summary="Get export status")
async def get_export(job_id: uuid.UUID, request: Request, principal: Caller) -> dict[str, Any]:
    require(principal, READ_ROLE)
    return job_json(await _job_or_404(request, principal, job_id))


@router.get("/{job_id}/events", summary="The job's audit trail")
async def job_events(job_id: uuid.UUID, request: Request, principal: Caller) -> dict[str, Any]:
    """Every event of the job in order, as appended to the log: who asked and for what, what
    was checked, every chunk and progress report, every delivery attempt, how it ended."""
    require(principal, READ_ROLE)
    await _job_or_404(request, principal, job_id)
    rows = await _repository(request).events(str(job_id))
    return {"events": [{"type": r["event_type"], **r["event"]} for r in rows]}


@router.get(
    "/{job_id}/progress",
    summary="Follow an export's progress (server-sent events)",
    response_model=None,
    responses=responses.PROGRESS,
)
async def progress(job_id: uuid.UUID, request: Request, principal: Caller) -> StreamingResponse:
    """`text/event-stream`: an `event: job` with the export as GET shows it, one more per
    progress report or change of state, and last an `event: done` with its final state.
    A job submitted through this API a moment ago can be followed at once, before GET
    finds it."""
    require(principal, READ_ROLE)
    feed, jobs = request.app.state.feed, _repository(request)
    wait = FIRST_EVENT_SECONDS if str(job_id) in request.app.state.just_submitted else 0.0
    opening = await open_stream(feed, jobs, principal.tenant_id, str(job_id), wait)
    if opening is None:
        raise api_error(404, "NOT_FOUND", "Export job not found")
    events = progress_events(feed, jobs, principal.tenant_id, str(job_id), opening)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        # A proxy must pass each event on as it comes, not buffer the stream.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{job_id}/files", summary="List an export's files")
async def list_files(job_id: uuid.UUID, request: Request, principal: Caller) -> dict[str, Any]:
    require(principal, READ_ROLE)
    job = await _job_or_404(request, principal, job_id)
    _check_downloadable(job)
    files = await _repository(request).files(str(job_id))
    link = _short_link(request, principal.tenant_id, job_id, job)
    return {
        "files": [_file_json(job_id, f) | {"link": link(f["file_name"])} for f in files],
        "archive": link(ARCHIVE),
    }


def _short_link(
    request: Request, tenant_id: str, job_id: uuid.UUID, job: dict[str, Any]
) -> Callable[[str], str]:
    """Signed links that live a few minutes, for a browser to save a file straight to disk
    (a download through script would hold the whole file in the page's memory). Relative to
    the API, so they work through whatever host the page was reached by."""
    expires = int(time.time()) + SHORT_LINK_SECONDS
    if job["expires_at"] is not None:
        expires = min(expires, int(job["expires_at"].timestamp()))
    secret = request.app.state.settings.link_secret
    return partial(make_link, "", secret, tenant_id, str(job_id), expires=expires)


@router.get(
    "/{job_id}/download",
    summary="Download export file",
    response_model=None,
    responses=responses.FILES,
)
async def download(
    job_id: uuid.UUID,
    request: Request,
    principal: Caller,
    file: str | None = None,
) -> Response:
    """Stream the export's file; with several files, name one with `?file=`, or get the list."""
    require(principal, READ_ROLE)
    job = await _job_or_404(request, principal, job_id)
    _check_downloadable(job)
    files = await _repository(request).files(str(job_id))
    if file is None and len(files) != 1:
        listing = [_file_json(job_id, f) for f in files]
        return JSONResponse(
            {
                "message": "this export has several files: name one with ?file=, or get them"
                " all as one ZIP from the archive URL",
                "archive": f"/v1/exports/{job_id}/archive",
                "files": listing,
            },
            status_code=300,
        )
    chosen = files[0] if file is None else next((f for f in files if f["file_name"] == file), None)
    if chosen is None:
        raise api_error(404, "NOT_FOUND", f"export {job_id} has no file named {file!r}")
    return await _file_response(request, chosen)


@router.get(
    "/{job_id}/archive",
    summary="Download every file as one ZIP",
    response_model=None,
    responses=responses.FILES,
)
async def archive(job_id: uuid.UUID, request: Request, principal: Caller) -> StreamingResponse:
    """All of the export's files and its manifest in one ZIP, streamed as it is made."""
    require(principal, READ_ROLE)
    job = await _job_or_404(request, principal, job_id)
    _check_downloadable(job)
    files = await _repository(request).files(str(job_id))
    return await _archive_response(request, job_id, job, files)


@router.get(
    "/{job_id}/manifest",
    summary="Get an export's manifest",
    response_model=None,
    responses=responses.FILES,
)
async def manifest(job_id: uuid.UUID, request: Request, principal: Caller) -> Response:
    """manifest.json: format, schema, files with rows and SHA-256, snapshot and notes."""
    require(principal, READ_ROLE)
    job = await _job_or_404(request, principal, job_id)
    _check_downloadable(job)
    manifest_file = {"file_name": MANIFEST, "path": join(job["output_path"], MANIFEST)}
    return await _file_response(request, manifest_file)


@router.delete("/{job_id}", status_code=202, summary="Cancel export job")
async def cancel_export(job_id: uuid.UUID, request: Request, principal: Caller) -> dict[str, Any]:
    require(principal, CREATE_ROLE)
    job = await _job_or_404(request, principal, job_id)
    if str(job["requested_by"]) != principal.user_id and ADMIN_ROLE not in principal.roles:
        raise api_error(
            403,
            "FORBIDDEN",
            "only the user who requested an export or a tenant admin may cancel it",
        )
    if ExportStatus(job["status"]) in FINISHED:
        raise api_error(
            400,
            "NOT_CANCELLABLE",
            f"Cannot cancel completed or failed export (it is {job['status']})",
            status=job["status"],
        )
    command = CancelExport(
        command_id=str(uuid.uuid4()),
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        roles=sorted(principal.roles),
        issued_at=datetime.now(UTC),
        job_id=str(job_id),
        reason="cancelled by the user",
    )
    await publisher_of(request).publish(principal, command)
    return {"success": True}


async def _job_or_404(request: Request, principal: Principal, job_id: uuid.UUID) -> dict[str, Any]:
    # Another tenant's job answers exactly like a job that does not exist.
    job = await _repository(request).get(principal.tenant_id, str(job_id))
    if job is None:
        raise api_error(404, "NOT_FOUND", "Export job not found")
    return job


def _store(request: Request) -> ExportStore:
    store: ExportStore = request.app.state.store
    return store


async def _file_response(request: Request, row: dict[str, Any]) -> Response:
    """One stored file. A local file is served here (Starlette's FileResponse answers Range
    requests); an S3 object by a redirect to a presigned URL, which S3 serves, Range and all."""
    store = _store(request)
    location = row["path"]
    if not await run_in_threadpool(store.exists, location):
        raise api_error(410, "GONE", "the export's file is no longer in the store")
    presigned = await run_in_threadpool(
        store.presigned_url, location, PRESIGNED_SECONDS, row["file_name"]
    )
    if presigned is not None:
        return RedirectResponse(presigned, status_code=307)
    headers = {"X-Content-SHA256": row["sha256"].strip()} if row.get("sha256") else {}
    return FileResponse(
        location,
        media_type=media_type(row["file_name"]),
        filename=row["file_name"],
        headers=headers,
    )


async def _archive_response(
    request: Request, job_id: uuid.UUID, job: dict[str, Any], files: list[dict[str, Any]]
) -> StreamingResponse:
    store = _store(request)
    entries = [(f["file_name"], f["path"]) for f in files]
    entries.append((MANIFEST, join(job["output_path"], MANIFEST)))
    for _, location in entries:
        if not await run_in_threadpool(store.exists, location):
            raise api_error(410, "GONE", "the export's files are no longer all in the store")
    return StreamingResponse(
        zip_stream([(name, partial(store.open, location)) for name, location in entries]),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="export-{job_id}.zip"'},
    )


def _check_downloadable(job: dict[str, Any]) -> None:
    if job["status"] == ExportStatus.EXPIRED.value:
        raise api_error(410, "EXPIRED", "Export expired")
    if job["status"] != ExportStatus.COMPLETED.value:
        raise api_error(404, "NOT_READY", "Export not available", status=job["status"])
    if job["expires_at"] is not None and job["expires_at"] < datetime.now(UTC):
        raise api_error(410, "EXPIRED", "Export expired")


def _file_json(job_id: uuid.UUID, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["file_name"],
        "rows": row["row_count"],
        "bytes": row["byte_count"],
        "sha256": row["sha256"].strip(),
        "url": f"/v1/exports/{job_id}/download?file={row['file_name']}",
    }


links = APIRouter(prefix="/v1/links", tags=["Data Export"], responses=responses.LINKS)


@links.get("/{job_id}/{file_name}", summary="Download through a signed link", response_model=None)
async def signed_download(
    job_id: uuid.UUID,
    file_name: str,
    request: Request,
    tenant: Annotated[uuid.UUID, Query()],
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=64)],
) -> Response:
    """A completed export's file, or all of it as a ZIP, with no token: the link's signature
    (tenant, job, file, expiry) is the permission. 403 for an altered link, 410 once expired.
    Supports HTTP Range, so a large download can resume."""
    secret = request.app.state.settings.link_secret
    try:
        check(secret, str(tenant), str(job_id), file_name, expires, signature, time.time())
    except LinkInvalid as exc:
        raise api_error(403, "FORBIDDEN", str(exc)) from None
    except LinkExpired as exc:
        raise api_error(410, "EXPIRED", str(exc)) from None
    job = await _repository(request).get(str(tenant), str(job_id))
    if job is None:
        raise api_error(404, "NOT_FOUND", "Export job not found")
    _check_downloadable(job)
    files = await _repository(request).files(str(job_id))
    if file_name == ARCHIVE:
        return await _archive_response(request, job_id, job, files)
    chosen = next((f for f in files if f["file_name"] == file_name), None)
    if chosen is None:
        raise api_error(404, "NOT_FOUND", f"export {job_id} has no file named {file_name!r}")
    return await _file_response(request, chosen)
