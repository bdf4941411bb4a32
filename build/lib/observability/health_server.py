"""A worker's probe and metrics endpoints: /livez, /readyz and /metrics over aiohttp.

A `mode.Service`, so it starts and stops with the worker. The checks are called on the
event loop for each request, so they must answer from memory, not by I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import mode
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

# Imported for its side effect: every metric the service declares is in the registry, so
# /metrics lists them all (at zero) even in a process that has not counted one yet.
import observability.metrics  # noqa: F401
from observability.health import Check

__all__ = ["Check", "HealthServer"]

log = logging.getLogger(__name__)


class HealthServer(mode.Service):
    """Serves the `live` and `ready` checks and the default Prometheus registry."""

    def __init__(
        self,
        host: str,
        port: int,
        live: Callable[[], Check],
        ready: Callable[[], Check],
        **kwargs: Any,
    ) -> None:
        self.host = host
        self.port = port
        self._live = live
        self._ready = ready
        self._runner: web.AppRunner | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        app = web.Application()
        app.router.add_get("/livez", self._livez)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        # Probes arrive every few seconds; a log line for each would drown the worker's own.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        # Port 0 asks the system for a free one: report the one bound.
        self.port = self._runner.addresses[0][1]
        log.info("health endpoints on http://%s:%d", self.host, self.port)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _livez(self, _request: web.Request) -> web.Response:
        return _answer(self._live)

    async def _readyz(self, _request: web.Request) -> web.Response:
        return _answer(self._ready)

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _answer(probe: Callable[[], Check]) -> web.Response:
    try:
        check = probe()
    except Exception as exc:  # a broken check is an unfit process, not a 500
        log.exception("health check failed")
        check = Check(False, {"check": f"the check itself failed: {exc}"})
    return web.json_response(check.body(), status=check.status_code)
