"""Bearer JWT (HS256) authentication: who the caller is, for which tenant, with which roles."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import jwt
from fastapi import HTTPException, Request

READ_ROLE = "exports:read"
CREATE_ROLE = "exports:create"


@dataclass(frozen=True)
class Principal:
    user_id: str
    tenant_id: str
    roles: frozenset[str]


def authenticate(request: Request) -> Principal:
    """The caller from the Authorization header; 401 when it is missing or not valid.

    `sub` and `tenant_id` must be UUIDs, as the read model's columns are.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("a Bearer token is required")
    try:
        claims = jwt.decode(
            token,
            request.app.state.settings.jwt_secret,
            algorithms=["HS256"],
            options={"require": ["sub", "tenant_id"]},
        )
        tenant_id = str(UUID(str(claims["tenant_id"])))
        user_id = str(UUID(str(claims["sub"])))
    except (jwt.PyJWTError, ValueError) as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    roles = claims.get("roles", [])
    if not isinstance(roles, list):
        raise _unauthorized("invalid token: roles must be a list")
    return Principal(user_id=user_id, tenant_id=tenant_id, roles=frozenset(map(str, roles)))


def require(principal: Principal, role: str) -> None:
    if role not in principal.roles:
        raise HTTPException(403, {"error": "FORBIDDEN", "message": f"the role {role} is required"})


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        401, {"error": "UNAUTHORIZED", "message": message}, headers={"WWW-Authenticate": "Bearer"}
    )
