"""Slots that bound how many COPY streams run per export and per database, across workers.

A slot is a PostgreSQL advisory lock held by the stream's own session, so the database
itself does the counting: the bound holds whichever workers the streams run on, and a
stream whose worker dies gives its slots back when its connection goes. Session locks need
a session of their own, so this does not work through a pooler in transaction mode.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import Cursor

# Database slots use the one-bigint form of the lock from this base; export slots use the
# two-int4 form (export, slot). PostgreSQL keeps the two forms apart, so they never meet.
DATABASE_SLOT_BASE = 0x4558_5054_0000_0000  # "EXPT"


def export_class(job_id: str) -> int:
    """A signed 32-bit number for the export: the first four bytes of its id."""
    value = int.from_bytes(uuid.UUID(job_id).bytes[:4], "big")
    return value - (1 << 32) if value >= 1 << 31 else value


def take_slots(cursor: Cursor[Any], job_id: str, per_export: int, per_database: int) -> bool:
    """Take a free slot of the export and one of the database for this cursor's session;
    False (holding neither) when either bound is reached."""
    if not _take_first_free(
        cursor,
        "SELECT pg_try_advisory_lock(%s, %s)",
        [(export_class(job_id), n) for n in range(per_export)],
    ):
        return False
    if _take_first_free(
        cursor,
        "SELECT pg_try_advisory_lock(%s)",
        [(DATABASE_SLOT_BASE + n,) for n in range(per_database)],
    ):
        return True
    cursor.execute("SELECT pg_advisory_unlock_all()")
    return False


def _take_first_free(cursor: Cursor[Any], statement: str, keys: list[tuple[int, ...]]) -> bool:
    for key in keys:
        cursor.execute(statement, key)
        row = cursor.fetchone()
        if row is not None and row[0]:
            return True
    return False
