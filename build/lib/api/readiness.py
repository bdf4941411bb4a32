"""Whether the API can do its work: PostgreSQL answers a query and Kafka a metadata request.

Both are asked at once, each with its own deadline, so a probe answers within ~2 s even
when both are down.
"""

from __future__ import annotations

import asyncio

from psycopg_pool import AsyncConnectionPool, PoolTimeout

from api.command_publisher import CommandPublisher
from observability.health import OK, Check

TIMEOUT_SECONDS = 2.0


async def check_postgresql(pool: AsyncConnectionPool, timeout: float = TIMEOUT_SECONDS) -> str:
    try:
        # The pool's own wait ends first when no connection can be made, which says more
        # than a bare timeout; the outer one bounds a connection that hangs mid-query.
        async with asyncio.timeout(timeout + 0.5), pool.connection(timeout=timeout) as conn:
            await conn.execute("SELECT 1")
    except PoolTimeout:
        return f"no connection to PostgreSQL could be made within {timeout:g} s"
    except TimeoutError:
        return f"PostgreSQL did not answer SELECT 1 within {timeout:g} s"
    except Exception as exc:
        return f"PostgreSQL refused SELECT 1: {_reason(exc)}"
    return OK


async def check_kafka(publisher: CommandPublisher, timeout: float = TIMEOUT_SECONDS) -> str:
    try:
        # The thread keeps its own deadline (list_topics's timeout); this one bounds the wait.
        async with asyncio.timeout(timeout + 0.5):
            await publisher.ask_metadata(timeout)
    except TimeoutError:
        return f"Kafka did not answer a metadata request within {timeout:g} s"
    except Exception as exc:
        return f"Kafka did not answer a metadata request: {_reason(exc)}"
    return OK


async def readiness(pool: AsyncConnectionPool, publisher: CommandPublisher) -> Check:
    postgresql, kafka = await asyncio.gather(check_postgresql(pool), check_kafka(publisher))
    return Check.of({"postgresql": postgresql, "kafka": kafka})


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
