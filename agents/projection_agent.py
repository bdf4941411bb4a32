"""Projection handlers: fold export.events (jobs) and export.schedules (schedules) into the
PostgreSQL read model the API reads."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from agents.runner import Effect, Received, Undecodable
from export_contract import codec
from export_contract import models as ev
from observability.logs import log_context
from projections import read_model, schedule_read_model

log = logging.getLogger(__name__)


class ReadModelProjector:
    """Projects each event, retrying while the database is unreachable: the read model must
    not miss an event. One connection, used by this agent alone."""

    def __init__(
        self,
        conninfo: str,
        projection: read_model.Projection = read_model.project,
        events: type[ev.Message] | Any = ev.JobEvent,
    ) -> None:
        self._conninfo = conninfo
        self._projection = projection
        self._events = events
        self._conn: psycopg.AsyncConnection | None = None

    @classmethod
    def for_schedules(cls, conninfo: str) -> ReadModelProjector:
        return cls(conninfo, schedule_read_model.project_schedule, ev.ScheduleLogEvent)

    async def __call__(self, received: Received) -> list[Effect]:
        try:
            event = codec.decode(received.value)
        except codec.UndecodableMessage as exc:
            raise Undecodable(str(exc)) from exc
        if not isinstance(event, self._events):
            raise Undecodable(f"{type(event).__name__} is not an event this projection reads")
        envelope: Any = event.envelope  # type: ignore[attr-defined]
        ids = {name: getattr(envelope, name, None) for name in ("job_id", "schedule_id")}
        with log_context(tenant_id=envelope.tenant_id, **ids):
            await self._project(event)
        return []

    async def _project(self, event: ev.Message) -> None:
        delay = 0.5
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(self._conninfo)
                await self._projection(self._conn, event)
                return
            except psycopg.OperationalError as exc:
                log.warning("read model unavailable (%s); retrying in %.1f s", exc, delay)
                self._conn = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
