"""Projection handler: folds export.events into the PostgreSQL read model the API reads."""

from __future__ import annotations

import asyncio
import logging

import psycopg

from agents.runner import Effect, Received, Undecodable
from export_contract import codec
from export_contract import models as ev
from observability.logs import log_context
from projections.read_model import project

log = logging.getLogger(__name__)


class ReadModelProjector:
    """Projects each event, retrying while the database is unreachable: the read model must
    not miss an event. One connection, used by this agent alone."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: psycopg.AsyncConnection | None = None

    async def __call__(self, received: Received) -> list[Effect]:
        try:
            event = codec.decode(received.value)
        except codec.UndecodableMessage as exc:
            raise Undecodable(str(exc)) from exc
        if not isinstance(event, ev.JobEvent):
            raise Undecodable(f"{type(event).__name__} is not a job event")
        with log_context(job_id=event.envelope.job_id, tenant_id=event.envelope.tenant_id):
            await self._project(event)
        return []

    async def _project(self, event: ev.JobEvent) -> None:
        delay = 0.5
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(self._conninfo)
                await project(self._conn, event)
                return
            except psycopg.OperationalError as exc:
                log.warning("read model unavailable (%s); retrying in %.1f s", exc, delay)
                self._conn = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
