"""Publishes commands to export.commands, keyed by tenant:user, and waits for the broker's ack."""

from __future__ import annotations

import asyncio

from confluent_kafka import KafkaException, Producer
from fastapi import HTTPException

from api.auth import Principal
from export_contract import codec
from export_contract.models import Command
from observability.logs import kafka_client_logging


class CommandPublisher:
    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self._topic = topic
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
                # Kafka's own (Java) partitioner, as the service's agents use: a user's
                # commands land where the user's quota lives (agents/partitioning.py).
                "partitioner": "murmur2_random",
                **kafka_client_logging(),
            }
        )

    async def publish(self, principal: Principal, command: Command) -> None:
        """Send and wait for the ack; 503 if the broker does not take it within 10 s."""
        loop = asyncio.get_running_loop()
        delivered: asyncio.Future[None] = loop.create_future()

        def on_delivery(err: object, _msg: object) -> None:
            if err is None:
                loop.call_soon_threadsafe(delivered.set_result, None)
            else:
                loop.call_soon_threadsafe(delivered.set_exception, KafkaException(err))

        key = f"{principal.tenant_id}:{principal.user_id}".encode()
        self._producer.produce(
            self._topic, key=key, value=codec.encode(command), on_delivery=on_delivery
        )
        try:
            await asyncio.wait_for(asyncio.to_thread(self._producer.flush, 10), 11)
            await asyncio.wait_for(delivered, 1)
        except (TimeoutError, KafkaException) as exc:
            raise HTTPException(
                503, {"error": "UNAVAILABLE", "message": f"the command could not be queued: {exc}"}
            ) from None

    async def ask_metadata(self, timeout: float) -> None:
        """A metadata request through the producer's own connections; raises if none answers."""
        await asyncio.to_thread(self._producer.list_topics, timeout=timeout)

    def close(self) -> None:
        self._producer.flush(5)
