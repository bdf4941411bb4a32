"""Who is signed in: `/v1/me`, and the local stack's development sign-in.

In production the platform issues tokens (a proxy sets the Authorization header, or the
user pastes one); the development sign-in mints one for a demo tenant and user, and exists
only where `EXPORT_DEV_LOGIN` turns it on.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from api import responses
from api.auth import Principal, authenticate
from api.dev_token import DEMO_TENANTS, DEMO_USER, mint
from config.settings import Settings

session = APIRouter(prefix="/v1", tags=["Session"])
DEV_TOKEN_SECONDS = 8 * 3600
DEV_ROLES = ["exports:create", "exports:read"]


class DevLogin(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    tenant_id: UUID = UUID(DEMO_TENANTS[0])
    user_id: UUID = UUID(DEMO_USER)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@session.get("/session", summary="How to sign in here")
async def sign_in_options(request: Request) -> dict[str, bool]:
    """Whether the development sign-in is on (the page shows its button only then)."""
    return {"devLogin": _settings(request).dev_login}


@session.post(
    "/session/dev-login",
    summary="Development sign-in (local stack only)",
    responses={
        400: responses.COMMON[400],
        404: {"model": responses.ErrorBody, "description": "The development sign-in is off"},
    },
)
async def dev_login(request: Request) -> dict[str, Any]:
    """A token for a demo tenant and user (body optional: `{"tenantId", "userId"}`).
    Answers 404 unless EXPORT_DEV_LOGIN is on."""
    settings = _settings(request)
    if not settings.dev_login:
        raise HTTPException(
            404, {"error": "NOT_FOUND", "message": "the development sign-in is off here"}
        )
    who = await _who(request)
    token = mint(
        str(who.tenant_id), str(who.user_id), DEV_ROLES, settings.jwt_secret, DEV_TOKEN_SECONDS
    )
    return {
        "token": token,
        "tenantId": str(who.tenant_id),
        "userId": str(who.user_id),
        "roles": DEV_ROLES,
        "expiresAt": datetime.fromtimestamp(time.time() + DEV_TOKEN_SECONDS, UTC).isoformat(),
        "development": True,
    }


async def _who(request: Request) -> DevLogin:
    raw = await request.body()
    if not raw.strip():
        return DevLogin()
    try:
        return DevLogin.model_validate_json(raw)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "reason": e["msg"]}
            for e in exc.errors()
        ]
        raise HTTPException(
            400,
            {
                "error": "INVALID_REQUEST",
                "message": "the body is not a sign-in",
                "details": details,
            },
        ) from None


@session.get("/me", summary="Who the token is", responses={401: responses.COMMON[401]})
async def me(principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    return {
        "tenantId": principal.tenant_id,
        "userId": principal.user_id,
        "roles": sorted(principal.roles),
    }
