"""GET /v1/catalogue: the sources, columns, operators, formats and options a request may use."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api import responses
from api.auth import READ_ROLE, Principal, authenticate, require
from domain.catalogue_view import describe_catalogue

catalogue = APIRouter(prefix="/v1", tags=["Data Export"], responses=responses.COMMON)


@catalogue.get("/catalogue", summary="What an export may ask for")
async def get_catalogue(principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    """Every source with its columns, their types and the operators each allows; the formats
    with their options and defaults; compressions and delivery methods."""
    require(principal, READ_ROLE)
    return describe_catalogue()
