"""Counts and times every HTTP request by its route template, never its raw path.

A plain ASGI middleware rather than `@app.middleware("http")`: it sees the status as the
response starts and the duration when the body is done, so streamed ZIPs and files are
timed to their last byte, and nothing is buffered or wrapped.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS

# Paths no route matched: each raw path would be a series of its own.
UNMATCHED = "unmatched"
# Any token is a method to the server; a fuzzer's inventions are counted as one.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"


def route_template(scope: Scope) -> str:
    """The matched route's template (`/v1/exports/{job_id}`), set on the scope by routing."""
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # A request that fails before answering is a 500: what the server error handler sends.
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # Routing writes the route into this same scope dict on its way down.
            route = route_template(scope)
            method = scope["method"] if scope["method"] in METHODS else OTHER_METHOD
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            HTTP_REQUEST_DURATION.labels(route, method).observe(time.perf_counter() - started)
