"""Cancellation rights, the export size limit and expiry, decided without Kafka."""

from __future__ import annotations

from datetime import timedelta

from domain import inbox
from domain.decisions import ADMIN_ROLE, decide, record
from domain.job import JobState
from export_contract import models as ev
from export_contract.ids import job_id_for
from export_contract.plan import ChunkPlan
from export_contract.request import ExportStatus
from tests.unit.builders import CONTEXT, NOW, TENANT, USER, export_request

JOB = job_id_for(TENANT, "command-l")
OTHER_USER = "0e0e0e0e-0000-4000-8000-00000000000e"
CHUNKS = [ChunkPlan(index=i, first_row=0, row_count=5, key_max=i) for i in (1, 2)]


def run(state: JobState | None, message: inbox.InboxMessage, minutes: int = 0):  # type: ignore[no-untyped-def]
    now = NOW + timedelta(minutes=minutes)
    return record(state, decide(state, message, CONTEXT, now), (TENANT, USER), JOB, "m", now)


def accepted(max_bytes: int | None = None, retention_days: int | None = None) -> JobState:
    acceptance = inbox.Acceptance(
        total_rows=10,
        high_water_mark=2,
        max_rows_per_file=5,
        chunks=CHUNKS,
        max_export_bytes=max_bytes,
        retention_days=retention_days,
    )
    opened = inbox.OpenJob(
        job_id=JOB,
        message_id="o",
        tenant_id=TENANT,
        user_id=USER,
        command_id="command-l",
        request=export_request(),
        outcome=acceptance,
    )
    state, _ = run(None, opened)
    assert state is not None
    return state


def done(index: int, size: int) -> inbox.ChunkDone:
    file = ev.ExportFile(
        chunk_index=index, name=f"part-{index}.csv", path="/p", rows=5, bytes=size, sha256="0"
    )
    return inbox.ChunkDone(job_id=JOB, message_id=f"d{index}", chunk_index=index, files=[file])


def cancel(user: str, roles: list[str], tenant: str = TENANT) -> inbox.CancelRequested:
    return inbox.CancelRequested(
        job_id=JOB, message_id="c", tenant_id=tenant, user_id=user, reason="stop", roles=roles
    )


def test_the_requesting_user_or_a_tenant_admin_may_cancel() -> None:
    assert run(accepted(), cancel(OTHER_USER, ["exports:create"]))[1] == []
    assert run(accepted(), cancel(OTHER_USER, [ADMIN_ROLE], tenant=OTHER_USER))[1] == []
    for who, roles in ((USER, []), (OTHER_USER, [ADMIN_ROLE])):
        state, events = run(accepted(), cancel(who, roles))
        assert isinstance(events[0], ev.ExportCancelled)
        assert state is not None and state.status is ExportStatus.CANCELLED


def test_a_queued_job_can_be_cancelled_and_a_finished_one_cannot() -> None:
    state, _ = run(accepted(), cancel(USER, []))
    assert run(state, cancel(USER, []))[1] == []


def test_an_export_past_its_size_limit_fails_naming_the_limit() -> None:
    state, events = run(accepted(max_bytes=1_000), done(1, 600))
    assert isinstance(events[-1], ev.ChunkExtracted)
    state, events = run(state, done(2, 600))
    failed = events[0]
    assert isinstance(failed, ev.ExportFailed) and failed.code == "EXPORT_TOO_LARGE"
    assert "size limit of 1,000 bytes (1,200 bytes stored)" in failed.reason


def test_the_tenants_retention_sets_the_expiry_and_the_sweep_honours_it() -> None:
    state, _ = run(accepted(retention_days=2), done(1, 10))
    state, events = run(state, done(2, 10))
    completed = events[-1]
    assert isinstance(completed, ev.ExportCompleted)
    assert completed.expires_at == NOW + timedelta(days=2)
    early = inbox.ExpireJob(job_id=JOB, message_id="e1", as_of=NOW + timedelta(days=1))
    assert run(state, early)[1] == []
    due = inbox.ExpireJob(job_id=JOB, message_id="e2", as_of=NOW + timedelta(days=2))
    expired, events = run(state, due)
    assert isinstance(events[0], ev.ExportExpired)
    assert expired is not None and expired.status is ExportStatus.EXPIRED
    assert expired.download_url is None
    assert run(expired, due)[1] == []
