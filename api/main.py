"""The API application: dependencies built once here and handed to the routes via app.state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool

from api.catalogue_routes import catalogue
from api.command_publisher import CommandPublisher
from api.estimate_routes import estimates
from api.http_metrics import HttpMetricsMiddleware
from api.job_feed import JobFeed
from api.jobs_repository import JobsRepository
from api.probes import probes
from api.progress_stream import JustSubmitted
from api.routes import links, router
from api.schedule_routes import router as schedules_router
from api.schedules_repository import SchedulesRepository
from api.session_routes import session
from api.web_routes import page, static_files
from config.settings import Settings
from config.topology import consumer_groups, partition_counts
from export_contract.request import ExportRequest
from observability.lag import LagMonitor
from projections.limits_book import LimitsBook
from stores.export_store import ExportStore


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = AsyncConnectionPool(
            settings.service_database_url, min_size=1, max_size=8, open=False
        )
        await pool.open()
        publisher = CommandPublisher(settings.kafka_bootstrap_servers, settings.commands_topic)
        app.state.settings = settings
        app.state.pool = pool
        app.state.jobs = JobsRepository(pool)
        app.state.schedules = SchedulesRepository(pool)
        app.state.publisher = publisher
        app.state.store = ExportStore(settings)
        app.state.limits = LimitsBook(settings)
        app.state.limits.start()
        # Every group's lag on the API's /metrics too: it stays up while workers restart.
        lag = LagMonitor(
            settings.kafka_bootstrap_servers,
            consumer_groups(settings),
            partition_counts(settings),
            settings.lag_interval_seconds,
        )
        lag.start()
        # Job events as they are appended, for the progress streams.
        feed = JobFeed(settings.kafka_bootstrap_servers, settings.events_topic)
        feed.start(asyncio.get_running_loop())
        app.state.feed = feed
        app.state.just_submitted = JustSubmitted()
        try:
            yield
        finally:
            feed.stop()
            lag.stop()
            publisher.close()
            await pool.close()

    app = FastAPI(title="Data export service", version="0.1.0", lifespan=lifespan)
    # Before the exports router: /v1/exports/estimate is not an export's id.
    app.include_router(estimates)
    app.include_router(router)
    app.include_router(schedules_router)
    app.include_router(links)
    app.include_router(catalogue)
    app.include_router(session)
    app.include_router(probes)
    app.include_router(page)
    app.mount("/web", static_files(), name="web")
    app.add_middleware(HttpMetricsMiddleware)

    def openapi() -> dict[str, Any]:
        # The request body is read by hand (for our own field errors), so FastAPI does not
        # know its model: add ExportRequest and the models it uses to the components.
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            body = ExportRequest.model_json_schema(
                by_alias=True, ref_template="#/components/schemas/{model}"
            )
            models = document.setdefault("components", {}).setdefault("schemas", {})
            models.update(body.pop("$defs", {}))
            models["ExportRequest"] = body
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        # Errors are {"error": CODE, "message": sentence, ...} at the top level, as clients expect.
        body = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"error": "HTTP_ERROR", "message": str(exc.detail)}
        )
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def parameter_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]),
                "reason": e["msg"],
            }
            for e in exc.errors()
        ]
        message = "; ".join(f"{d['field']}: {d['reason']}" for d in details)
        return JSONResponse(
            {"error": "INVALID_REQUEST", "message": message, "details": details}, status_code=400
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


app = create_app(Settings.from_env())
