"""Readiness names what is down and why, and answers within its deadline when a part hangs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from psycopg_pool import PoolTimeout

from api.readiness import check_kafka, check_postgresql, readiness
from observability.health import Check


class FakeConnection:
    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def execute(self, query: str) -> None:
        assert query == "SELECT 1"
        await asyncio.sleep(self.delay)


class FakePool:
    """Hands out a connection that answers after `delay`, or fails to connect."""

    def __init__(self, delay: float = 0.0, refuse: bool = False) -> None:
        self.delay, self.refuse = delay, refuse

    @asynccontextmanager
    async def connection(self, timeout: float) -> AsyncIterator[FakeConnection]:
        if self.refuse:
            raise PoolTimeout(f"couldn't get a connection after {timeout} sec")
        yield FakeConnection(self.delay)


class FakePublisher:
    def __init__(self, delay: float = 0.0, error: Exception | None = None) -> None:
        self.delay, self.error = delay, error

    async def ask_metadata(self, timeout: float) -> None:
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error


async def test_both_answering_is_ready() -> None:
    pool: Any = FakePool()
    publisher: Any = FakePublisher()
    check = await readiness(pool, publisher)
    assert check == Check(True, {"postgresql": "ok", "kafka": "ok"})
    assert check.status_code == 200 and check.body()["status"] == "ok"


async def test_each_part_down_is_named_with_its_reason() -> None:
    pool: Any = FakePool(refuse=True)
    error = KafkaException(KafkaError(KafkaError._TRANSPORT, "Broker transport failure"))
    publisher: Any = FakePublisher(error=error)
    check = await readiness(pool, publisher)
    assert check.status_code == 503 and check.body()["status"] == "unavailable"
    assert check.checks["postgresql"] == "no connection to PostgreSQL could be made within 2 s"
    assert check.checks["kafka"].startswith("Kafka did not answer a metadata request: ")
    assert "Broker transport failure" in check.checks["kafka"]


async def test_a_part_that_hangs_is_cut_off_at_its_deadline() -> None:
    pool: Any = FakePool(delay=60)
    publisher: Any = FakePublisher(delay=60)
    started = time.monotonic()
    postgresql, kafka = await asyncio.gather(
        check_postgresql(pool, timeout=0.1), check_kafka(publisher, timeout=0.1)
    )
    assert time.monotonic() - started < 2
    assert postgresql == "PostgreSQL did not answer SELECT 1 within 0.1 s"
    assert kafka == "Kafka did not answer a metadata request within 0.1 s"


def test_a_check_is_fit_only_when_every_verdict_is_ok() -> None:
    assert Check.of({}).ok
    assert not Check.of({"a": "ok", "b": "the disk is full"}).ok
