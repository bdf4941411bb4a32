"""The job fold and the job agent's decisions, without Kafka: replay-safe by construction."""

from __future__ import annotations

from datetime import timedelta

from domain import inbox
from domain.decisions import decide, record
from domain.job import JobState, fold
from export_contract import models as ev
from export_contract.ids import job_id_for
from export_contract.plan import ChunkPlan
from export_contract.request import ExportStatus
from tests.unit.builders import CONTEXT, NOW, TENANT, USER, export_request

JOB = job_id_for(TENANT, "command-1")
CHUNKS = [
    ChunkPlan(index=1, first_row=0, row_count=10, key_max=10),
    ChunkPlan(index=2, first_row=10, row_count=5, key_min=11, key_max=99),
]


def open_job(outcome: inbox.Acceptance | inbox.Rejection) -> inbox.OpenJob:
    return inbox.OpenJob(
        job_id=JOB,
        message_id="command-1",
        tenant_id=TENANT,
        user_id=USER,
        command_id="command-1",
        request=export_request(),
        outcome=outcome,
    )


def accepted() -> inbox.Acceptance:
    return inbox.Acceptance(total_rows=15, high_water_mark=99, max_rows_per_file=10, chunks=CHUNKS)


def file(index: int, rows: int) -> ev.ExportFile:
    return ev.ExportFile(
        chunk_index=index,
        name=f"part-{index:05d}.csv",
        path=f"/s/{index}",
        rows=rows,
        bytes=rows * 10,
        sha256="0" * 64,
    )


def handle(
    state: JobState | None, message: inbox.InboxMessage, minutes: int = 0
) -> tuple[JobState | None, list[ev.JobEvent]]:
    now = NOW + timedelta(minutes=minutes)
    drafts = decide(state, message, CONTEXT, now)
    owner = (state.tenant_id, state.user_id) if state else (TENANT, USER)
    return record(state, drafts, owner, JOB, message.message_id, now)


def test_an_accepted_job_is_queued_with_its_plan() -> None:
    state, events = handle(None, open_job(accepted()))
    assert [type(e).__name__ for e in events] == ["ExportRequested", "ExportAccepted"]
    assert [e.envelope.sequence for e in events] == [1, 2]
    assert state is not None and state.status is ExportStatus.QUEUED
    assert state.total_rows == 15 and state.chunks == CHUNKS


def test_a_command_sent_twice_opens_one_job() -> None:
    state, _ = handle(None, open_job(accepted()))
    again, events = handle(state, open_job(accepted()))
    assert events == [] and again == state


def test_a_rejected_job_fails_with_the_code_and_reason() -> None:
    rejection = inbox.Rejection(code="INVALID_REQUEST", reason="format: nope", field="format")
    state, events = handle(None, open_job(rejection))
    assert isinstance(events[1], ev.ExportRejected)
    assert state is not None and state.status is ExportStatus.FAILED
    assert (state.error_code, state.error_message) == ("INVALID_REQUEST", "format: nope")


def test_chunks_complete_the_job_when_the_last_one_is_recorded() -> None:
    state, _ = handle(None, open_job(accepted()))
    state, events = handle(
        state, inbox.ChunkDone(job_id=JOB, message_id="m1", chunk_index=2, files=[file(2, 5)])
    )
    assert [type(e).__name__ for e in events] == ["ExportStarted", "ChunkExtracted"]
    assert state is not None and state.status is ExportStatus.PROCESSING
    assert state.processed_rows == 5
    state, events = handle(
        state,
        inbox.ChunkDone(job_id=JOB, message_id="m2", chunk_index=1, files=[file(1, 10)]),
        minutes=1,
    )
    completed = events[-1]
    assert isinstance(completed, ev.ExportCompleted)
    assert [f.chunk_index for f in completed.files] == [1, 2]
    assert completed.total_rows == 15 and completed.total_bytes == 150
    assert completed.expires_at == NOW + timedelta(minutes=1, days=7)
    assert state is not None and state.status is ExportStatus.COMPLETED
    assert state.progress_percent == 100


def test_a_replayed_chunk_report_records_nothing() -> None:
    state, _ = handle(None, open_job(accepted()))
    done = inbox.ChunkDone(job_id=JOB, message_id="m1", chunk_index=1, files=[file(1, 10)])
    state, _ = handle(state, done)
    again, events = handle(state, done)
    assert events == [] and again == state


def test_progress_counts_rows_across_chunks_and_never_goes_back() -> None:
    state, _ = handle(None, open_job(accepted()))
    state, events = handle(
        state, inbox.ChunkProgress(job_id=JOB, message_id="p1", chunk_index=1, rows=4)
    )
    assert isinstance(events[-1], ev.ExportProgressed) and events[-1].processed_rows == 4
    state, events = handle(
        state, inbox.ChunkProgress(job_id=JOB, message_id="p2", chunk_index=2, rows=3)
    )
    assert state is not None and state.processed_rows == 7
    assert str(state.progress_percent) == "46.66"
    _, events = handle(
        state, inbox.ChunkProgress(job_id=JOB, message_id="p3", chunk_index=2, rows=2)
    )
    assert events == []


def test_only_the_requester_can_cancel_and_only_once() -> None:
    state, _ = handle(None, open_job(accepted()))
    stranger = inbox.CancelRequested(
        job_id=JOB,
        message_id="c1",
        tenant_id=TENANT,
        user_id="0d0d0d0d-0000-4000-8000-000000000999",
        reason="x",
    )
    _, events = handle(state, stranger)
    assert events == []
    owner = inbox.CancelRequested(
        job_id=JOB, message_id="c2", tenant_id=TENANT, user_id=USER, reason="changed my mind"
    )
    state, events = handle(state, owner)
    assert state is not None and state.status is ExportStatus.CANCELLED
    late_chunk = inbox.ChunkDone(job_id=JOB, message_id="m1", chunk_index=1, files=[file(1, 10)])
    _, events = handle(state, late_chunk)
    assert events == []


def test_a_failed_chunk_fails_the_job() -> None:
    state, _ = handle(None, open_job(accepted()))
    state, _ = handle(
        state,
        inbox.ChunkFailed(
            job_id=JOB, message_id="f", chunk_index=2, code="EXTRACTION_FAILED", reason="boom"
        ),
    )
    assert state is not None and state.status is ExportStatus.FAILED
    assert state.error_message == "chunk 2 failed: boom"


def test_folding_the_log_with_duplicates_gives_the_same_state() -> None:
    state, first = handle(None, open_job(accepted()))
    state, second = handle(
        state, inbox.ChunkDone(job_id=JOB, message_id="m1", chunk_index=1, files=[file(1, 10)])
    )
    log = first + second
    assert fold(log + log[1:]) == state


def test_event_ids_are_derived_so_replays_repeat_them() -> None:
    _, first = handle(None, open_job(accepted()))
    _, again = handle(None, open_job(accepted()), minutes=5)
    assert [e.envelope.event_id for e in first] == [e.envelope.event_id for e in again]


def test_the_job_id_depends_on_tenant_and_command() -> None:
    other_tenant = "22222222-2222-4222-8222-222222222222"
    assert job_id_for(TENANT, "c") == job_id_for(TENANT, "c")
    assert job_id_for(TENANT, "c") != job_id_for(other_tenant, "c")


def test_chunk_events_say_how_the_stored_file_is_compressed() -> None:
    state, _ = handle(None, open_job(accepted()))
    state = state.model_copy(update={"request": export_request(compression="ZSTD")})
    _, events = handle(
        state, inbox.ChunkDone(job_id=JOB, message_id="d1", chunk_index=1, files=[file(1, 10)])
    )
    assert isinstance(events[-1], ev.ChunkExtracted) and events[-1].compression == "ZSTD"


def test_a_chunk_split_by_size_records_every_part_in_order() -> None:
    state, _ = handle(None, open_job(accepted()))
    parts = [
        file(1, 6).model_copy(update={"part": 1, "name": "part-00001-001.csv"}),
        file(1, 4).model_copy(update={"part": 2, "name": "part-00001-002.csv"}),
    ]
    state, events = handle(
        state, inbox.ChunkDone(job_id=JOB, message_id="a", chunk_index=1, files=parts)
    )
    extracted = [e for e in events if isinstance(e, ev.ChunkExtracted)]
    assert [(e.file.part, e.chunk_files) for e in extracted] == [(1, 2), (2, 2)]
    assert state is not None and state.chunk_rows[1] == 10
    state, events = handle(
        state,
        inbox.ChunkDone(
            job_id=JOB,
            message_id="b",
            chunk_index=2,
            files=[file(2, 5).model_copy(update={"name": "part-00002-001.csv"})],
        ),
    )
    completed = events[-1]
    assert isinstance(completed, ev.ExportCompleted)
    assert [f.name for f in completed.files] == [
        "part-00001-001.csv",
        "part-00001-002.csv",
        "part-00002-001.csv",
    ]


def test_a_failed_copy_of_a_chunk_already_done_changes_nothing() -> None:
    state, _ = handle(None, open_job(accepted()))
    state, _ = handle(
        state, inbox.ChunkDone(job_id=JOB, message_id="d", chunk_index=1, files=[file(1, 10)])
    )
    failed = inbox.ChunkFailed(job_id=JOB, message_id="f", chunk_index=1, code="X", reason="late")
    again, events = handle(state, failed)
    assert events == [] and again == state
