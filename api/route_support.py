"""What the /v1 routes share: the command publisher, error answers in one shape, a JSON
object body read with a 400 that says what is wrong, and the tenant's webhook check."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request

from api.auth import Principal
from api.command_publisher import CommandPublisher
from delivery.webhook_gate import webhook_problems
from domain.field_errors import FieldError, RequestInvalid
from export_contract.request import ExportRequest


def publisher_of(request: Request) -> CommandPublisher:
    publisher: CommandPublisher = request.app.state.publisher
    return publisher


def api_error(http_status: int, code: str, message: str, **extra: Any) -> HTTPException:
    return HTTPException(http_status, {"error": code, "message": message, **extra})


def invalid_request(exc: RequestInvalid) -> HTTPException:
    """400 naming each field and its reason."""
    details = [{"field": e.field, "reason": e.reason} for e in exc.errors]
    return api_error(400, "INVALID_REQUEST", str(exc), details=details)


async def refuse_unallowed_webhook(
    request: Request, principal: Principal, body: ExportRequest, field_prefix: str = ""
) -> None:
    """RequestInvalid when the caller's tenant may not send the body's webhook where it points."""
    secrets_file = request.app.state.settings.delivery_secrets_file
    errors = await webhook_problems(secrets_file, principal.tenant_id, body)
    if errors:
        raise RequestInvalid([FieldError(field_prefix + e.field, e.reason) for e in errors])


async def json_object(request: Request) -> dict[str, Any]:
    try:
        payload = await request.json()
    except ValueError:
        raise api_error(400, "INVALID_REQUEST", "the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise api_error(400, "INVALID_REQUEST", "the body must be a JSON object")
    return payload
