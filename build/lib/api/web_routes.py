"""The web page: static files shipped inside the package (api/web), no build step.

`/` is the page itself; `/web/...` its scripts and styles. The page holds no data of its
own: everything it shows comes from the /v1 routes with the user's token.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

# Package data; StaticFiles serves from a folder on disk, which a wheel installs as files.
WEB_DIR = Path(str(resources.files("api") / "web"))

page = APIRouter(include_in_schema=False)


@page.get("/")
async def index() -> FileResponse:
    # The page changes with each release; a browser must not keep a stale one.
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def static_files() -> StaticFiles:
    return StaticFiles(directory=WEB_DIR)
