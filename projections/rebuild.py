"""`python -m projections.rebuild`: empty the read model and fold it again from the logs,
export.events (jobs) and export.schedules (schedules and their runs).

Safe while the service runs: the live projections and this command both skip events at or
below a job's or schedule's stored sequence, so whichever applies an event first wins and
the other skips it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from config.settings import Settings
from events.log_reader import read_to_end
from export_contract import codec
from projections.read_model import Projection, project
from projections.schedule_read_model import project_schedule

log = logging.getLogger(__name__)


async def rebuild(settings: Settings) -> int:
    """Empty the read model and apply every event in the logs; returns how many applied."""
    async with await psycopg.AsyncConnection.connect(settings.service_database_url) as conn:
        await conn.execute(
            "TRUNCATE export_service.export_jobs, export_service.export_schedules CASCADE"
        )
        await conn.commit()
        applied = await _fold(conn, settings, settings.events_topic, project)
        applied += await _fold(conn, settings, settings.schedules_topic, project_schedule)
    return applied


async def _fold(
    conn: psycopg.AsyncConnection[Any], settings: Settings, topic: str, projection: Projection
) -> int:
    applied = 0
    for message in read_to_end(settings.kafka_bootstrap_servers, topic):
        try:
            event = codec.decode(message.value() or b"")
        except codec.UndecodableMessage as exc:
            log.error(
                "skipping undecodable event at %s offset %s: %s", topic, message.offset(), exc
            )
            continue
        applied += await projection(conn, event)
    return applied


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    applied = asyncio.run(rebuild(Settings.from_env()))
    print(f"read model rebuilt from the log: {applied} events applied")


if __name__ == "__main__":
    main()
