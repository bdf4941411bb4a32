"""Publish a RequestExport or CancelExport to Kafka and wait for the job's completion notice.

client = ExportClient("127.0.0.1:19092")
job_id = client.request_export(tenant_id, user_id, {"name": ..., "queryDefinition": ...})
notice = client.wait_for_completion(job_id, timeout=300)
for notice in client.completions():   # or follow every job's notice as it comes
    ...
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from export_contract import codec
from export_contract import models as ev
from export_contract.ids import job_id_for, schedule_id_for
from export_contract.models import CancelExport, ExportCompletionNotice, RequestExport
from export_contract.request import ExportRequest
from export_contract.schedule import ScheduleSpec

DEFAULT_ROLES = ("exports:create", "exports:read")


class CompletionTimeout(TimeoutError):
    """No completion notice for the job arrived in time."""


class ExportClient:
    def __init__(
        self,
        bootstrap_servers: str,
        commands_topic: str = "export.commands",
        completions_topic: str = "export.completions",
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._commands_topic = commands_topic
        self._completions_topic = completions_topic
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                # Kafka's Java partitioner (murmur2), as the service's own producers use, so
                # one user's commands share a partition whoever sends them.
                "partitioner": "murmur2_random",
            }
        )
        self._consumer: Consumer | None = None
        # Notices read while waiting for another job, by job id, until someone waits for them.
        self._notices: dict[str, ExportCompletionNotice] = {}

    def request_export(
        self,
        tenant_id: str,
        user_id: str,
        request: Mapping[str, Any] | ExportRequest,
        command_id: str | None = None,
        roles: tuple[str, ...] = DEFAULT_ROLES,
    ) -> str:
        """Publish a RequestExport; returns the job id (derived from the command id)."""
        self._follow_completions()
        command_id = command_id or str(uuid.uuid4())
        body = (
            request if isinstance(request, ExportRequest) else ExportRequest.model_validate(request)
        )
        command = RequestExport(
            command_id=command_id,
            tenant_id=tenant_id,
            user_id=user_id,
            roles=list(roles),
            issued_at=datetime.now(UTC),
            request=body,
        )
        self._publish(f"{tenant_id}:{user_id}", codec.encode(command))
        return job_id_for(tenant_id, command_id)

    def cancel_export(
        self,
        tenant_id: str,
        user_id: str,
        job_id: str,
        reason: str | None = None,
        roles: tuple[str, ...] = DEFAULT_ROLES,
    ) -> None:
        command = CancelExport(
            command_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            user_id=user_id,
            roles=list(roles),
            issued_at=datetime.now(UTC),
            job_id=job_id,
            reason=reason,
        )
        self._publish(f"{tenant_id}:{user_id}", codec.encode(command))

    def create_schedule(
        self,
        tenant_id: str,
        user_id: str,
        schedule: Mapping[str, Any] | ScheduleSpec,
        command_id: str | None = None,
        roles: tuple[str, ...] = DEFAULT_ROLES,
    ) -> str:
        """Publish a CreateSchedule; returns the schedule id (derived from the command id).
        Whether it was accepted shows in the schedule's events (ScheduleCreated or
        ScheduleRejected) and the read API."""
        command_id = command_id or str(uuid.uuid4())
        spec = (
            schedule
            if isinstance(schedule, ScheduleSpec)
            else ScheduleSpec.model_validate(schedule)
        )
        command = ev.CreateSchedule(
            **self._command(tenant_id, user_id, command_id, roles), schedule=spec
        )
        self._publish(f"{tenant_id}:{user_id}", codec.encode(command))
        return schedule_id_for(tenant_id, command_id)

    def change_schedule(
        self,
        tenant_id: str,
        user_id: str,
        schedule_id: str,
        change: type[ev.PauseSchedule | ev.ResumeSchedule | ev.DeleteSchedule],
        roles: tuple[str, ...] = DEFAULT_ROLES,
    ) -> None:
        """Publish a PauseSchedule, ResumeSchedule or DeleteSchedule (the class says which)."""
        fields = self._command(tenant_id, user_id, str(uuid.uuid4()), roles)
        command = change(**fields, schedule_id=schedule_id)
        self._publish(f"{tenant_id}:{user_id}", codec.encode(command))

    @staticmethod
    def _command(
        tenant_id: str, user_id: str, command_id: str, roles: tuple[str, ...]
    ) -> dict[str, Any]:
        return {
            "command_id": command_id,
            "tenant_id": tenant_id,
            "user_id": user_id,
            "roles": list(roles),
            "issued_at": datetime.now(UTC),
        }

    def publish_raw(self, key: str, value: bytes) -> None:
        """Publish bytes as a command: for tests of what the service does with bad input."""
        self._publish(key, value)

    def wait_for_completion(self, job_id: str, timeout: float = 300) -> ExportCompletionNotice:
        """Block until the job's completion notice arrives (published after request_export)."""
        consumer = self._follow_completions()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if job_id in self._notices:
                return self._notices.pop(job_id)
            notice = self._poll_notice(consumer)
            # Notices come on several partitions in no set order: one for another job waited
            # on later is kept, not passed over.
            if notice is not None:
                self._notices[notice.job_id] = notice
        raise CompletionTimeout(f"no completion notice for job {job_id} within {timeout} s")

    def completions(self, idle_timeout: float | None = None) -> Iterator[ExportCompletionNotice]:
        """Every job's completion notice from the first call on, as each arrives (those read
        meanwhile by wait_for_completion first); ends after `idle_timeout` s without one."""
        consumer = self._follow_completions()
        while self._notices:
            yield self._notices.pop(next(iter(self._notices)))
        last = time.monotonic()
        while idle_timeout is None or time.monotonic() - last < idle_timeout:
            notice = self._poll_notice(consumer)
            if notice is not None:
                last = time.monotonic()
                yield notice

    @staticmethod
    def _poll_notice(consumer: Consumer) -> ExportCompletionNotice | None:
        message = consumer.poll(0.5)
        if message is None or message.error() or message.key() is None:
            return None
        try:
            notice = codec.decode(message.value() or b"")
        except codec.UndecodableMessage:
            # Written by a newer service with a schema this client does not know yet, or not
            # a message at all: skipped, so one such record cannot stop a subscriber.
            return None
        return notice if isinstance(notice, ExportCompletionNotice) else None

    def close(self) -> None:
        self._producer.flush(10)
        if self._consumer is not None:
            self._consumer.close()

    def _publish(self, key: str, value: bytes) -> None:
        errors: list[str] = []

        def delivered(err: object, _msg: object) -> None:
            if err is not None:
                errors.append(str(err))

        self._producer.produce(
            self._commands_topic, key=key.encode(), value=value, on_delivery=delivered
        )
        if self._producer.flush(30) or errors:
            raise KafkaException(f"command not delivered: {errors or 'timeout'}")

    def _follow_completions(self) -> Consumer:
        """Start reading the completion topic at its current end, before any command is sent,
        so no notice can slip past."""
        if self._consumer is None:
            consumer = Consumer(
                {
                    "bootstrap.servers": self._bootstrap,
                    "group.id": f"export-client-{uuid.uuid4()}",
                    "enable.auto.commit": False,
                }
            )
            metadata = consumer.list_topics(self._completions_topic, timeout=10)
            partitions = metadata.topics[self._completions_topic].partitions
            assignment = []
            for p in partitions:
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(self._completions_topic, p), timeout=10
                )
                assignment.append(TopicPartition(self._completions_topic, p, high))
            consumer.assign(assignment)
            self._consumer = consumer
        return self._consumer
