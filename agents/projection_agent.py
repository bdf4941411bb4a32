"""Projection agent: folds export.events into the PostgreSQL read model the API reads."""

from __future__ import annotations

import asyncio
import logging

import faust
import psycopg

from agents.app import app, events_topic, settings
from agents.dead_letters import dead_letter
from agents.skipped_messages import handled
from events import codec
from projections.read_model import project

log = logging.getLogger(__name__)


@app.agent(events_topic)
async def projection_agent(stream: faust.StreamT[bytes]) -> None:
    conn: psycopg.AsyncConnection | None = None
    async for key, value in stream.items():
        handled(stream)
        try:
            event = codec.decode(value)
        except codec.UndecodableMessage as exc:
            await dead_letter(settings.events_topic, key, value, str(exc))
            continue
        # The read model must not miss an event: retry until the database takes it.
        delay = 0.5
        while True:
            try:
                if conn is None or conn.closed:
                    conn = await psycopg.AsyncConnection.connect(settings.service_database_url)
                await project(conn, event)  # type: ignore[arg-type]
                break
            except psycopg.OperationalError as exc:
                log.warning("read model unavailable (%s); retrying in %.1f s", exc, delay)
                conn = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
            except Exception as exc:  # a bad event must not stop the read model
                log.exception("event on key %r could not be projected", key)
                await dead_letter(settings.events_topic, key, value, f"not projected: {exc!r}")
                break
