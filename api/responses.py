"""What the API can answer besides success, documented in the OpenAPI document, so clients
(and schema-driven fuzzers) know every status a route may return."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from extraction.formats import MEDIA_TYPES


class FieldProblem(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    """Every error: a code, a sentence, and for invalid requests each field and reason."""

    error: str
    message: str
    details: list[FieldProblem] | None = None
    status: str | None = None


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# Every route of /v1/exports.
COMMON: dict[int | str, dict[str, Any]] = {
    400: _error("The request or a parameter is not valid; `details` names each field"),
    401: _error("No valid Bearer token"),
    403: _error("The token lacks the role this route needs"),
    404: _error("No such export for the caller's tenant, or not ready yet"),
}
SUBMIT: dict[int | str, dict[str, Any]] = {
    503: _error("The broker did not take the command in time; retry with the same key"),
}
CANCEL: dict[int | str, dict[str, Any]] = {}
# Routes that change a schedule.
SCHEDULE_CHANGE: dict[int | str, dict[str, Any]] = {
    **SUBMIT,
    409: _error("The schedule was deleted or refused: nothing of it can change"),
}
SCHEDULE_CREATE: dict[int | str, dict[str, Any]] = {
    **SUBMIT,
    429: _error("The caller has as many schedules as allowed (`limit`: maxSchedules)"),
}
# Routes that serve stored files.
_FILE_TYPES = sorted({*MEDIA_TYPES.values(), "application/zip", "application/octet-stream"})
FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}} for media in _FILE_TYPES
        },
    },
    206: {"description": "Part of the file (HTTP Range)"},
    300: {"description": "The export has several files: their list, and the archive's URL"},
    307: {"description": "The file is in the S3 store: a presigned URL to fetch it from"},
    410: _error("The export expired, or its files are no longer in the store"),
    416: {"description": "The requested range is not satisfiable"},
}
LINKS: dict[int | str, dict[str, Any]] = {
    **FILES,
    400: _error("A parameter is not valid"),
    403: _error("The link was altered or is not ours"),
    404: _error("No such export or file"),
}
PROGRESS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: `job` for each change, `done` with the final state",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
}
