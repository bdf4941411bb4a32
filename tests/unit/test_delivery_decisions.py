"""Delivery after a job ends: who is delivered, how attempts are recorded and retried."""

from __future__ import annotations

from datetime import timedelta

from domain import delivery, inbox
from domain.decisions import decide, record
from domain.job import JobState
from export_contract import models as ev
from export_contract.ids import job_id_for
from export_contract.plan import ChunkPlan
from export_contract.request import DeliveryMethod, ExportStatus
from tests.unit.builders import CONTEXT, NOW, TENANT, USER, export_request

JOB = job_id_for(TENANT, "command-d")
SFTP = {"method": "SFTP", "sftp": {"host": "h", "username": "u", "path": "in"}}
EMAIL = {"method": "EMAIL", "email": {"recipients": ["a@example.com"]}}


def run(state: JobState | None, message: inbox.InboxMessage, seconds: float = 0):  # type: ignore[no-untyped-def]
    now = NOW + timedelta(seconds=seconds)
    drafts = decide(state, message, CONTEXT, now)
    return record(state, drafts, (TENANT, USER), JOB, message.message_id, now)


def completed_job(delivery_config: dict[str, object] | None) -> JobState:
    request = export_request(delivery=delivery_config) if delivery_config else export_request()
    chunk = ChunkPlan(index=1, first_row=0, row_count=3, key_max=3)
    acceptance = inbox.Acceptance(
        total_rows=3, high_water_mark=3, max_rows_per_file=10, chunks=[chunk]
    )
    opened = inbox.OpenJob(
        job_id=JOB,
        message_id="m1",
        tenant_id=TENANT,
        user_id=USER,
        command_id="command-d",
        request=request,
        outcome=acceptance,
    )
    state, _ = run(None, opened)
    file = ev.ExportFile(
        chunk_index=1, name="part-00001.csv", path="/p", rows=3, bytes=9, sha256="0"
    )
    state, _ = run(state, inbox.ChunkDone(job_id=JOB, message_id="m2", chunk_index=1, files=[file]))
    assert state is not None and state.status is ExportStatus.COMPLETED
    return state


def attempt(n: int, delivered: bool, permanent: bool = False) -> inbox.DeliveryAttempted:
    return inbox.DeliveryAttempted(
        job_id=JOB,
        message_id=f"a{n}",
        attempt=n,
        method="SFTP",
        delivered=delivered,
        destination="sftp://u@h:22/in" if delivered else "",
        reason=None if delivered else "connection refused",
        permanent=permanent,
    )


def test_download_needs_no_delivery_and_sftp_waits_for_one() -> None:
    assert completed_job(None).delivery_status is None
    assert completed_job(SFTP).delivery_status == delivery.PENDING


def test_email_is_due_for_every_outcome_and_sftp_only_for_completed_exports() -> None:
    email = export_request(delivery=EMAIL)
    sftp = export_request(delivery=SFTP)
    assert email.delivery_method() is DeliveryMethod.EMAIL
    for outcome in (ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED):
        assert delivery.delivery_due(email, outcome)
    assert delivery.delivery_due(sftp, ExportStatus.COMPLETED)
    assert not delivery.delivery_due(sftp, ExportStatus.FAILED)


def test_a_transient_failure_is_retried_with_growing_waits_then_delivered() -> None:
    state = completed_job(SFTP)
    state, events = run(state, attempt(1, delivered=False), seconds=0)
    failed = events[0]
    assert isinstance(failed, ev.DeliveryFailed) and failed.next_attempt_at is not None
    assert failed.next_attempt_at - NOW == timedelta(seconds=CONTEXT.delivery_retry_seconds)
    state, events = run(state, attempt(2, delivered=False), seconds=10)
    assert isinstance(events[0], ev.DeliveryFailed) and events[0].next_attempt_at is not None
    assert events[0].next_attempt_at - (NOW + timedelta(seconds=10)) == timedelta(
        seconds=2 * CONTEXT.delivery_retry_seconds
    )
    state, events = run(state, attempt(3, delivered=True))
    assert isinstance(events[0], ev.ExportDelivered)
    assert state is not None and state.delivery_status == delivery.DELIVERED
    assert state.status is ExportStatus.COMPLETED and state.delivered_to == "sftp://u@h:22/in"


def test_a_permanent_failure_ends_delivery_at_once_and_keeps_the_export() -> None:
    state, events = run(completed_job(SFTP), attempt(1, delivered=False, permanent=True))
    assert isinstance(events[0], ev.DeliveryFailed) and events[0].next_attempt_at is None
    assert state is not None and state.delivery_status == delivery.FAILED
    assert state.status is ExportStatus.COMPLETED and state.download_url
    assert state.delivery_error == "attempt 1: connection refused"


def test_attempts_stop_at_the_configured_maximum() -> None:
    state: JobState | None = completed_job(SFTP)
    for n in range(1, CONTEXT.delivery_max_attempts + 1):
        state, events = run(state, attempt(n, delivered=False))
    assert isinstance(events[0], ev.DeliveryFailed) and events[0].next_attempt_at is None
    assert state is not None and state.delivery_status == delivery.FAILED


def test_a_repeated_or_stale_attempt_report_changes_nothing() -> None:
    state, _ = run(completed_job(SFTP), attempt(1, delivered=False))
    again, events = run(state, attempt(1, delivered=False))
    assert events == [] and again == state
    assert run(completed_job(None), attempt(1, delivered=True))[1] == []


def test_backoff_is_capped() -> None:
    late = delivery.next_attempt_at(30, False, 40, 60.0, NOW)
    assert late == NOW + delivery.MAX_BACKOFF
