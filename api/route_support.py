"""What the /v1 routes share: the command publisher, error answers in one shape, and a JSON
object body read with a 400 that says what is wrong."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request

from api.command_publisher import CommandPublisher
from domain.field_errors import RequestInvalid


def publisher_of(request: Request) -> CommandPublisher:
    publisher: CommandPublisher = request.app.state.publisher
    return publisher


def api_error(http_status: int, code: str, message: str, **extra: Any) -> HTTPException:
    return HTTPException(http_status, {"error": code, "message": message, **extra})


def invalid_request(exc: RequestInvalid) -> HTTPException:
    """400 naming each field and its reason."""
    details = [{"field": e.field, "reason": e.reason} for e in exc.errors]
    return api_error(400, "INVALID_REQUEST", str(exc), details=details)


async def json_object(request: Request) -> dict[str, Any]:
    try:
        payload = await request.json()
    except ValueError:
        raise api_error(400, "INVALID_REQUEST", "the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise api_error(400, "INVALID_REQUEST", "the body must be a JSON object")
    return payload
