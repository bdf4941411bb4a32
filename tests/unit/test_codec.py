"""Avro encoding: every message type round-trips; foreign bytes are refused, not guessed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.decisions import record
from domain.inbox import Acceptance
from export_contract import codec
from export_contract import models as ev
from export_contract.plan import ChunkPlan
from export_contract.request import ExportStatus
from export_contract.schedule import CatchUp, IfEmpty, RunStatus, ScheduleSpec
from tests.unit.builders import NOW, TENANT, USER, export_request

ENVELOPE = ev.Envelope(
    event_id="e",
    job_id="j",
    tenant_id=TENANT,
    user_id=USER,
    sequence=3,
    occurred_at=NOW,
    causation_id="c",
)
FILE = ev.ExportFile(
    chunk_index=1, name="part-00001.csv", path="/p", rows=2**40, bytes=9, sha256="a" * 64
)
REQUEST = export_request(
    description='ünïcödé, "quoted"',
    queryDefinition={
        "source": "fact_trades",
        "columns": [{"name": "id"}],
        "filters": [
            {"column": "id", "operator": "IN", "value": [1, 2**62]},
            {"column": "price", "operator": ">", "value": 1.5},
            {"column": "notes", "operator": "IS NULL"},
        ],
        "orderBy": [{"column": "price", "direction": "DESC"}],
        "dateRange": {"start": "2026-01-01", "end": "2026-01-31"},
    },
    formatOptions={"csv": {"delimiter": "\t", "includeHeaders": False}},
    maxRowsPerFile=500,
)
SPEC = ScheduleSpec(
    name="mornings",
    description="the trades of the day before",
    cron="0 9 * * 1-5",
    timezone="Europe/Zurich",
    export_request=REQUEST,
    incremental=True,
    if_empty=IfEmpty.SKIP,
    catch_up=CatchUp.ALL,
    start_at=datetime(2027, 1, 1, tzinfo=UTC),
    end_at=datetime(2028, 1, 1, tzinfo=UTC),
)
RUN = ev.ScheduledRun(
    schedule_id="s", run_number=4, slot=NOW, incremental=True, key_after=2**50, skip_if_empty=True
)
SCHEDULE_ENVELOPE = ev.ScheduleEnvelope(
    event_id="e",
    schedule_id="s",
    tenant_id=TENANT,
    user_id=USER,
    sequence=7,
    occurred_at=NOW,
    causation_id="c",
)
COMMAND = {
    "command_id": "c",
    "tenant_id": TENANT,
    "user_id": USER,
    "roles": ["r"],
    "issued_at": NOW,
}

MESSAGES: list[ev.Message] = [
    ev.RequestExport(
        command_id="c",
        tenant_id=TENANT,
        user_id=USER,
        roles=["exports:create"],
        issued_at=NOW,
        request=REQUEST,
    ),
    ev.CancelExport(
        command_id="c",
        tenant_id=TENANT,
        user_id=USER,
        roles=[],
        issued_at=NOW,
        job_id="j",
        reason=None,
    ),
    ev.RequestExport(**COMMAND, request=REQUEST, schedule=RUN),
    ev.ExportRequested(envelope=ENVELOPE, command_id="c", request=REQUEST),
    ev.ExportRequested(envelope=ENVELOPE, command_id="c", request=REQUEST, schedule=RUN),
    ev.CreateSchedule(**COMMAND, schedule=SPEC),
    ev.UpdateSchedule(**COMMAND, schedule_id="s", schedule=SPEC),
    ev.PauseSchedule(**COMMAND, schedule_id="s"),
    ev.ResumeSchedule(**COMMAND, schedule_id="s"),
    ev.DeleteSchedule(**COMMAND, schedule_id="s"),
    ev.ScheduleCreated(envelope=SCHEDULE_ENVELOPE, command_id="c", schedule=SPEC),
    ev.ScheduleRejected(
        envelope=SCHEDULE_ENVELOPE, command_id="c", code="INVALID_REQUEST", reason="r", field="cron"
    ),
    ev.ScheduleUpdated(envelope=SCHEDULE_ENVELOPE, schedule=SPEC),
    ev.ScheduleCommandRefused(
        envelope=SCHEDULE_ENVELOPE, command_id="c", code="FORBIDDEN", reason="r"
    ),
    ev.SchedulePaused(envelope=SCHEDULE_ENVELOPE),
    ev.ScheduleResumed(envelope=SCHEDULE_ENVELOPE),
    ev.ScheduleDeleted(envelope=SCHEDULE_ENVELOPE),
    ev.ScheduleRunStarted(
        envelope=SCHEDULE_ENVELOPE, slot=NOW, run_number=4, job_id="j", key_after=2**50
    ),
    ev.ScheduleRunSkipped(envelope=SCHEDULE_ENVELOPE, slot=NOW, reason="missed"),
    ev.ScheduleRunFinished(
        envelope=SCHEDULE_ENVELOPE,
        run_number=4,
        slot=NOW,
        job_id="j",
        status=RunStatus.COMPLETED,
        rows=2**40,
        key_after=1,
        key_through=2**50,
    ),
    ev.ExportAccepted(
        envelope=ENVELOPE,
        total_rows=10,
        high_water_mark=2**50,
        max_rows_per_file=5,
        chunks=[ChunkPlan(index=1, first_row=0, row_count=5, key_min=None, key_max=7)],
    ),
    ev.ExportRejected(envelope=ENVELOPE, code="INVALID_REQUEST", reason="r", field="format"),
    ev.ExportStarted(envelope=ENVELOPE),
    ev.ExportProgressed(envelope=ENVELOPE, chunk_index=1, chunk_rows=5, processed_rows=5),
    ev.ChunkExtracted(envelope=ENVELOPE, file=FILE, compression="ZSTD"),
    ev.ExportCompleted(
        envelope=ENVELOPE,
        total_rows=1,
        total_bytes=9,
        files=[FILE],
        output_path="/o",
        download_url="http://x",
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
    ),
    ev.ExportFailed(envelope=ENVELOPE, code="X", reason="y"),
    ev.ExportCancelled(envelope=ENVELOPE, reason="z"),
    ev.ExportExpired(envelope=ENVELOPE, reason="the retention period ended"),
    ev.ExportDelivered(envelope=ENVELOPE, method="SFTP", attempt=2, destination="sftp://u@h:22/p"),
    ev.DeliveryFailed(
        envelope=ENVELOPE,
        method="S3",
        attempt=1,
        reason="the bucket does not exist",
        permanent=False,
        next_attempt_at=datetime(2027, 1, 1, tzinfo=UTC),
    ),
    ev.ExportCompletionNotice(
        job_id="j",
        command_id="c",
        tenant_id=TENANT,
        user_id=USER,
        status=ExportStatus.COMPLETED,
        occurred_at=NOW,
        total_rows=1,
        files=[ev.CompletionFile(name="n", rows=1, bytes=2, sha256="s")],
    ),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(message: ev.Message) -> None:
    assert codec.decode(codec.encode(message)) == message


def test_every_message_type_is_covered() -> None:
    assert {type(m).__name__ for m in MESSAGES} == set(codec.MESSAGE_TYPES)


def test_a_recorded_event_round_trips() -> None:
    acceptance = Acceptance(total_rows=0, high_water_mark=0, max_rows_per_file=1, chunks=[])
    _, events = record(
        None,
        [
            (ev.ExportRequested, {"command_id": "c", "request": REQUEST}),
            (ev.ExportAccepted, acceptance.model_dump()),
        ],
        (TENANT, USER),
        "job",
        "cause",
        NOW,
    )
    assert [codec.decode(codec.encode(e)) for e in events] == events


@pytest.mark.parametrize("data", [b"", b'{"json": true}', b"\xc3\x01" + b"\x00" * 8 + b"x"])
def test_foreign_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(codec.UndecodableMessage):
        codec.decode(data)


def test_a_truncated_message_is_refused() -> None:
    data = codec.encode(MESSAGES[0])
    with pytest.raises(codec.UndecodableMessage):
        codec.decode(data[: len(data) // 2])
