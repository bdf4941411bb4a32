"""`python -m projections.rebuild`: empty the read model and fold it again from export.events.

Safe while the service runs: the live projection and this command both skip events at or
below a job's stored sequence, so whichever applies an event first wins and the other
skips it.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg

from config.settings import Settings
from events.log_reader import read_to_end
from export_contract import codec
from projections.read_model import project

log = logging.getLogger(__name__)


async def rebuild(settings: Settings) -> int:
    """Empty the read model and apply every event in the log; returns how many applied."""
    applied = 0
    async with await psycopg.AsyncConnection.connect(settings.service_database_url) as conn:
        await conn.execute("TRUNCATE export_service.export_jobs CASCADE")
        await conn.commit()
        for message in read_to_end(settings.kafka_bootstrap_servers, settings.events_topic):
            try:
                event = codec.decode(message.value() or b"")
            except codec.UndecodableMessage as exc:
                log.error("skipping undecodable event at offset %s: %s", message.offset(), exc)
                continue
            applied += await project(conn, event)  # type: ignore[arg-type]
    return applied


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    applied = asyncio.run(rebuild(Settings.from_env()))
    print(f"read model rebuilt from the log: {applied} events applied")


if __name__ == "__main__":
    main()
