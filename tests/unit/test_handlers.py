"""The command handler's, job handler's and reactions' rules, with fakes for their
collaborators: a dict for each table, a recorded planner, no Kafka and no database."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from agents import task_consumers
from agents.command_agent import CommandCollaborators, handle_command_topics
from agents.extractor_agent import is_database_failure
from agents.job_agent import JobCollaborators, handle_inbox
from agents.partitioning import owner_partition
from agents.quota_keeper import QuotaKeeper
from agents.runner import AgentRunner, Effect, Put, Received, Send, Undecodable, _Registration
from agents.worker import build_worker
from config.settings import Settings
from config.topology import APP_GROUP, consumer_groups
from domain import inbox
from domain.quota import Limits
from domain.validation import ResolvedQuery
from export_contract import codec
from export_contract import models as ev
from export_contract.ids import job_id_for
from export_contract.plan import ChunkPlan
from stores.export_store import ExportStore
from tests.unit.builders import CONTEXT, TENANT, USER, export_request

SETTINGS = Settings(
    kafka_bootstrap_servers="unused:9092",
    admin_database_url="postgresql://unused",
    reader_database_url="postgresql://unused",
    service_database_url="postgresql://unused",
    store_dir=Path("/store"),
    worker_data_dir=Path("/worker"),
    jwt_secret="jwt",
    link_secret="link",
    api_port=8080,
    api_url="http://api",
)
KEY = f"{TENANT}:{USER}".encode()
PLAN = inbox.Acceptance(
    total_rows=15,
    high_water_mark=99,
    max_rows_per_file=10,
    chunks=[
        ChunkPlan(index=1, first_row=0, row_count=10, key_max=10),
        ChunkPlan(index=2, first_row=10, row_count=5, key_min=11, key_max=99),
    ],
)


class FakeLimits:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def for_user(self, tenant_id: str, user_id: str) -> Limits:
        return self.limits

    def wait_until_loaded(self, timeout: float = 30) -> bool:
        return True

    def wait_until_current(self, timeout: float) -> bool:
        return True


class RecordedPlanner:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, tenant: str, query: ResolvedQuery, rows_per_file: int) -> Any:
        self.calls.append((tenant, rows_per_file))
        return PLAN


def command_collaborators(
    quotas: dict[bytes, bytes], limits: Limits | None = None
) -> tuple[CommandCollaborators, RecordedPlanner]:
    planner = RecordedPlanner()
    keeper = QuotaKeeper(quotas, FakeLimits(limits or Limits()), read_model=None)
    collaborators = CommandCollaborators(
        settings=SETTINGS,
        plan=planner,
        quota=keeper,
        output_location=lambda tenant, job: f"/store/{tenant}/{job}",
        webhook_problems=no_webhook_problems,
    )
    return collaborators, planner


async def no_webhook_problems(tenant: str, request: Any) -> list[Any]:
    return []


def request_command(roles: tuple[str, ...] = ("exports:create",), command_id: str = "c-1") -> bytes:
    command = ev.RequestExport(
        command_id=command_id,
        tenant_id=TENANT,
        user_id=USER,
        roles=list(roles),
        issued_at=datetime(2026, 12, 1, tzinfo=UTC),
        request=export_request(),
    )
    return codec.encode(command)


def on_commands(value: bytes, partition: int | None = None) -> Received:
    owner = owner_partition(KEY, SETTINGS.partitions)
    return Received(
        SETTINGS.commands_topic, owner if partition is None else partition, 0, KEY, value
    )


def opened(effects: list[Any]) -> inbox.OpenJob:
    [send] = effects
    assert isinstance(send, Send) and send.topic == SETTINGS.job_inbox_topic
    message = inbox.decode_inbox(send.value)
    assert isinstance(message, inbox.OpenJob)
    return message


async def test_a_request_is_planned_reserved_and_handed_to_its_job() -> None:
    quotas: dict[bytes, bytes] = {}
    collaborators, planner = command_collaborators(quotas)
    effects = await handle_command_topics(on_commands(request_command()), collaborators)
    message = opened(effects)
    assert message.job_id == job_id_for(TENANT, "c-1")
    assert isinstance(message.outcome, inbox.Acceptance)
    assert message.outcome.output_location == f"/store/{TENANT}/{message.job_id}"
    assert planner.calls == [(TENANT, SETTINGS.default_max_rows_per_file)]
    assert KEY in quotas, "the reservation is written to the quota table"


async def test_a_plan_of_more_files_than_an_export_may_have_is_rejected_naming_the_field() -> None:
    """Its job state would not fit in one Kafka message; nothing is reserved for it."""
    quotas: dict[bytes, bytes] = {}
    collaborators, _ = command_collaborators(quotas)
    collaborators = replace(collaborators, settings=replace(SETTINGS, max_files_per_export=1))
    message = opened(await handle_command_topics(on_commands(request_command()), collaborators))
    assert isinstance(message.outcome, inbox.Rejection)
    assert message.outcome.code == "INVALID_REQUEST"
    assert message.outcome.field == "maxRowsPerFile"
    assert message.outcome.reason == (
        "15 rows at 10 per file would make 2 files, more than the 1 one export may have;"
        " set maxRowsPerFile to at least 15"
    )
    assert KEY not in quotas


async def test_a_request_without_the_create_role_is_refused_without_planning() -> None:
    collaborators, planner = command_collaborators({})
    received = on_commands(request_command(roles=("exports:read",)))
    message = opened(await handle_command_topics(received, collaborators))
    assert isinstance(message.outcome, inbox.Rejection)
    assert message.outcome.code == "FORBIDDEN"
    assert planner.calls == []


async def test_a_request_over_the_concurrency_limit_is_refused_naming_the_limit() -> None:
    quotas: dict[bytes, bytes] = {}
    collaborators, _ = command_collaborators(quotas, Limits(max_concurrent_exports=1))
    await handle_command_topics(on_commands(request_command(command_id="c-1")), collaborators)
    received = on_commands(request_command(command_id="c-2"))
    message = opened(await handle_command_topics(received, collaborators))
    assert isinstance(message.outcome, inbox.Rejection)
    assert (message.outcome.code, message.outcome.field) == (
        "QUOTA_EXCEEDED",
        "maxConcurrentExports",
    )
    assert message.outcome.reason == "Maximum concurrent exports reached (1)"


async def test_a_command_on_another_partition_is_moved_to_its_owner_unread() -> None:
    collaborators, planner = command_collaborators({})
    owner = owner_partition(KEY, SETTINGS.partitions)
    value = request_command()
    [send] = await handle_command_topics(
        on_commands(value, partition=(owner + 1) % SETTINGS.partitions), collaborators
    )
    assert send == Send(SETTINGS.commands_topic, KEY, value, partition=owner, headers={})
    assert planner.calls == []


async def test_bytes_that_are_no_command_are_undecodable() -> None:
    collaborators, _ = command_collaborators({})
    with pytest.raises(Undecodable):
        await handle_command_topics(on_commands(b"not avro"), collaborators)


async def test_a_settlement_frees_the_slot_it_reserved() -> None:
    quotas: dict[bytes, bytes] = {}
    collaborators, _ = command_collaborators(quotas, Limits(max_concurrent_exports=1))
    message = opened(await handle_command_topics(on_commands(request_command()), collaborators))
    settlement = inbox.QuotaSettlement(
        tenant_id=TENANT,
        user_id=USER,
        job_id=message.job_id,
        completed_rows=15,
        occurred_at=datetime.now(UTC),
    )
    received = Received(
        SETTINGS.quota_inbox_topic, 0, 0, KEY, settlement.model_dump_json().encode()
    )
    assert await handle_command_topics(received, collaborators) == []
    again = opened(
        await handle_command_topics(on_commands(request_command(command_id="c-2")), collaborators)
    )
    assert isinstance(again.outcome, inbox.Acceptance)


def job_collaborators(jobs: dict[bytes, bytes]) -> JobCollaborators:
    return JobCollaborators(SETTINGS, jobs, ExportStore(SETTINGS), CONTEXT)


def on_inbox(message: inbox.InboxMessage) -> Received:
    return Received(
        SETTINGS.job_inbox_topic, 0, 0, message.job_id.encode(), inbox.encode_inbox(message)
    )


def open_job(job_id: str) -> inbox.OpenJob:
    return inbox.OpenJob(
        job_id=job_id,
        message_id="c-1",
        tenant_id=TENANT,
        user_id=USER,
        command_id="c-1",
        request=export_request(),
        outcome=PLAN.model_copy(update={"output_location": "/store/x"}),
    )


async def test_an_accepted_job_sends_its_events_then_one_task_per_chunk_then_its_state() -> None:
    jobs: dict[bytes, bytes] = {}
    job_id = job_id_for(TENANT, "c-1")
    effects = await handle_inbox(on_inbox(open_job(job_id)), job_collaborators(jobs))
    kinds = [
        type(codec.decode(e.value)).__name__
        if isinstance(e, Send) and e.topic == SETTINGS.events_topic
        else ("table" if isinstance(e, Put) else e.topic)
        for e in effects
    ]
    assert kinds == [
        "ExportRequested",
        "ExportAccepted",
        SETTINGS.tasks_topic,
        SETTINGS.tasks_topic,
        "table",
    ]
    tasks = [inbox.ExtractChunk.model_validate_json(e.value) for e in effects[2:4]]
    assert [t.chunk.index for t in tasks] == [1, 2]
    assert [t.chunk_count for t in tasks] == [2, 2], "each task knows its export's chunks"
    assert jobs == {}, "the table is written by the runner, in its turn"


async def test_a_message_handled_again_before_its_state_was_stored_reacts_again() -> None:
    """A crash after the reactions were sent but before the state was stored: the message
    handled again sends the same events and reactions, so none is ever lost."""
    jobs: dict[bytes, bytes] = {}
    job_id = job_id_for(TENANT, "c-1")
    first = await handle_inbox(on_inbox(open_job(job_id)), job_collaborators(jobs))
    again = await handle_inbox(on_inbox(open_job(job_id)), job_collaborators(jobs))

    def sent(effects: list[Effect]) -> list[tuple[str, object]]:
        # Event ids are derived, so the same events carry the same ids (times differ).
        return [
            (e.topic, codec.decode(e.value).envelope.event_id)  # type: ignore[attr-defined]
            if isinstance(e, Send) and e.topic == SETTINGS.events_topic
            else (e.topic if isinstance(e, Send) else "table", e.key)
            for e in effects
        ]

    assert sent(again) == sent(first) and len(first) == 5


async def test_a_message_handled_twice_decides_nothing_the_second_time() -> None:
    jobs: dict[bytes, bytes] = {}
    job_id = job_id_for(TENANT, "c-1")
    effects = await handle_inbox(on_inbox(open_job(job_id)), job_collaborators(jobs))
    for effect in effects:
        if isinstance(effect, Put):
            effect.table[effect.key] = effect.value
    assert await handle_inbox(on_inbox(open_job(job_id)), job_collaborators(jobs)) == []


async def test_a_cancelled_job_settles_its_quota_stops_its_chunks_and_sends_its_notice() -> None:
    jobs: dict[bytes, bytes] = {}
    job_id = job_id_for(TENANT, "c-1")
    for effect in await handle_inbox(on_inbox(open_job(job_id)), job_collaborators(jobs)):
        if isinstance(effect, Put):
            effect.table[effect.key] = effect.value
    cancel = inbox.CancelRequested(
        job_id=job_id,
        message_id="cancel-1",
        tenant_id=TENANT,
        user_id=USER,
        reason="no longer needed",
    )
    effects = await handle_inbox(on_inbox(cancel), job_collaborators(jobs))
    topics = [e.topic if isinstance(e, Send) else "table" for e in effects]
    assert topics == [
        SETTINGS.events_topic,
        SETTINGS.quota_inbox_topic,
        SETTINGS.stops_topic,
        SETTINGS.completions_topic,
        "table",
    ]
    notice = codec.decode(effects[-2].value)
    assert isinstance(notice, ev.ExportCompletionNotice)
    assert notice.status.value == "CANCELLED"


async def test_an_inbox_message_that_is_not_one_is_undecodable() -> None:
    with pytest.raises(Undecodable):
        await handle_inbox(
            Received(SETTINGS.job_inbox_topic, 0, 0, b"k", b"{}"), job_collaborators({})
        )


def test_the_declared_faust_group_reads_exactly_the_topics_the_worker_registers() -> None:
    worker = build_worker(SETTINGS, "1")
    assert worker.runner.watched_topics == set(consumer_groups(SETTINGS)[APP_GROUP])


async def test_a_slow_handler_is_reported_with_where_it_waits() -> None:
    runner = AgentRunner(faust.App("slow-test"), {}, "export.dead-letter", lambda _tp, _o: None)

    async def inner_wait() -> None:
        await asyncio.sleep(10)

    async def handler(_received: Received) -> list[Effect]:
        await inner_wait()
        return []

    registration = _Registration("command-agent", ("export.commands",), handler)
    runner._registrations.append(registration)
    message = Received("export.commands", 2, 41, b"k", b"v", {})
    registration.busy_since, registration.busy_with = 100.0, message
    registration.task = asyncio.create_task(handler(message))
    await asyncio.sleep(0)  # let it reach its wait
    try:
        assert runner.slow_handlers(now=105.0, longer_than=10) == []
        [slow] = runner.slow_handlers(now=111.0, longer_than=10)
        assert slow.agent == "command-agent" and slow.message.offset == 41 and slow.seconds == 11
        assert "in handler" in slow.awaiting[0] and any("inner_wait" in f for f in slow.awaiting)
    finally:
        registration.task.cancel()


def test_committed_offsets_wait_out_a_coordinator_not_yet_placed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers: list[object] = [
        KafkaException(KafkaError(KafkaError.NOT_COORDINATOR)),
        [TopicPartition("export.tasks", 0, 7), TopicPartition("export.tasks", 1, -1001)],
    ]

    class FreshBroker:
        def __init__(self, _config: object) -> None:
            pass

        def committed(self, tps: object, timeout: float) -> object:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        def close(self) -> None:
            pass

    monkeypatch.setattr(task_consumers, "Consumer", FreshBroker)
    monkeypatch.setattr(task_consumers.time, "sleep", lambda _s: None)
    found = task_consumers.committed_offsets("broker:9092", "g", [], timeout=5)
    assert [(tp.partition, tp.offset) for tp in found] == [(0, 7)] and answers == []


def test_a_connection_lost_while_arrow_batches_stream_is_a_database_failure() -> None:
    lost = OSError("[libpq] Execution error [PGRES_FATAL_ERROR]: FATAL:  terminating connection")
    assert is_database_failure(lost)
    assert not is_database_failure(FileNotFoundError("[libpq] no: a missing file is ours"))
    assert not is_database_failure(OSError("No space left on device"))
