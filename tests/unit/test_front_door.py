"""The front door's rules without a stack: rate and ETA, quota problems, the estimate's
arithmetic, the catalogue's operators, and the progress stream with a fake feed and read model."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from api.job_feed import JobFeed
from api.jobs_repository import JobsRepository, StoredState
from api.progress_stream import JustSubmitted, open_stream, progress_events
from domain import quota
from domain.catalogue import CATALOGUE
from domain.catalogue_view import describe_catalogue, operators_for
from domain.estimate import Sample, estimate
from domain.job import JobState, apply
from domain.progress_timing import timing
from export_contract import models as ev
from export_contract.plan import ChunkPlan
from export_contract.request import ExportStatus
from tests.unit.builders import NOW, TENANT, USER, export_request

JOB = "6a1f0c0e-0000-4000-8000-000000000001"


def envelope(sequence: int, seconds: float = 0) -> ev.Envelope:
    return ev.Envelope(
        event_id=f"e{sequence}",
        job_id=JOB,
        tenant_id=TENANT,
        user_id=USER,
        sequence=sequence,
        occurred_at=NOW + timedelta(seconds=seconds),
        causation_id="c",
    )


def running_job() -> JobState:
    state = apply(
        None, ev.ExportRequested(envelope=envelope(1), command_id="c", request=export_request())
    )
    chunks = [ChunkPlan(index=1, first_row=0, row_count=300, key_max=300)]
    state = apply(
        state,
        ev.ExportAccepted(
            envelope=envelope(2),
            total_rows=300,
            high_water_mark=300,
            max_rows_per_file=300,
            chunks=chunks,
        ),
    )
    return apply(state, ev.ExportStarted(envelope=envelope(3)))


def progressed(sequence: int, rows: int, seconds: float) -> ev.ExportProgressed:
    return ev.ExportProgressed(
        envelope=envelope(sequence, seconds), chunk_index=1, chunk_rows=rows, processed_rows=rows
    )


def extracted(sequence: int, seconds: float) -> ev.ChunkExtracted:
    part = ev.ExportFile(
        chunk_index=1, name="part-00001.csv", path="/s/1", rows=300, bytes=3000, sha256="0" * 64
    )
    return ev.ChunkExtracted(envelope=envelope(sequence, seconds), file=part)


def completed(sequence: int, seconds: float) -> ev.ExportCompleted:
    return ev.ExportCompleted(
        envelope=envelope(sequence, seconds),
        total_rows=300,
        total_bytes=3000,
        files=[],
        output_path="/s",
        download_url="http://x",
        expires_at=NOW + timedelta(days=7),
    )


def test_rate_and_eta_come_from_the_jobs_own_reports() -> None:
    started = NOW
    rate, eta = timing(
        ExportStatus.PROCESSING, started, NOW + timedelta(seconds=10), None, 1000, 3000
    )
    assert rate == 100.0 and eta == NOW + timedelta(seconds=30)
    assert timing(ExportStatus.PROCESSING, started, None, None, 0, 3000) == (None, None)
    assert timing(ExportStatus.QUEUED, None, None, None, 0, 3000) == (None, None)
    done = timing(ExportStatus.COMPLETED, started, None, NOW + timedelta(seconds=4), 3000, 3000)
    assert done == (750.0, None)


def test_every_quota_problem_is_named_with_the_seeds_sentence() -> None:
    limits = quota.Limits(max_rows_per_export=100, max_concurrent_exports=0)
    found = quota.problems(None, limits, 500, NOW.date())
    assert [p.limit for p in found] == ["maxConcurrentExports", "maxRowsPerExport"]
    assert found[1].message == "Export exceeds maximum row limit (500 > 100)"
    assert quota.problems(None, quota.Limits(), 500, NOW.date()) == []


def test_the_estimate_scales_the_measured_sample() -> None:
    sample = Sample(
        rows=10_000,
        rows_exact=True,
        sample_rows=2_000,
        sample_bytes=100_000,
        sample_stored_bytes=25_000,
        header_bytes=20,
    )
    request = export_request(compression="GZIP", maxRowsPerFile=3_000)
    result = estimate(request, sample, 3_000, 1_000.0, [])
    assert result["bytes"] == 10_000 * 12.5 + 4 * 20
    assert result["chunks"] == result["files"] == 4
    assert result["seconds"] == 10.5 and result["fitsQuota"] is True
    over = estimate(request, sample, 3_000, None, [{"field": "maxRowsPerDay", "reason": "r"}])
    assert over["fitsQuota"] is False and over["quotaProblems"][0]["field"] == "maxRowsPerDay"
    split = estimate(export_request(maxFileBytes=10_000), sample, 1_000_000, 1.0, [])
    assert split["chunks"] == 1 and split["files"] == 13


def test_the_catalogue_offers_like_only_on_text_columns() -> None:
    trades = CATALOGUE["fact_trades"]
    symbol, price = trades.column("symbol"), trades.column("price")
    assert symbol is not None and price is not None
    assert "LIKE" in operators_for(symbol) and "LIKE" not in operators_for(price)
    formats = {f["name"]: f for f in describe_catalogue()["formats"]}
    assert formats["PARQUET"]["compressible"] is False and formats["CSV"]["compressible"]


class FakeFeed:
    def __init__(self, recent: list[ev.JobEvent]) -> None:
        self.queue: asyncio.Queue[ev.JobEvent] = asyncio.Queue()
        self.recent = recent
        self.followed = False

    def follow(self, job_id: str) -> tuple[asyncio.Queue[ev.JobEvent], list[ev.JobEvent]]:
        self.followed = True
        return self.queue, self.recent

    def unfollow(self, job_id: str, queue: asyncio.Queue[ev.JobEvent]) -> None:
        self.followed = False


class FakeJobs:
    def __init__(self, states: list[JobState | None]) -> None:
        self.states = states

    async def state(self, tenant_id: str, job_id: str) -> StoredState | None:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return StoredState(state, NOW, NOW) if state is not None else None


def parse(chunks: list[str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for chunk in chunks:
        if chunk.startswith(":"):
            continue
        lines = dict(line.split(": ", 1) for line in chunk.strip().splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


async def collect(feed: FakeFeed, jobs: FakeJobs, keepalive: float = 5) -> list[str]:
    opening = await open_stream(feed, jobs, TENANT, JOB)  # type: ignore[arg-type]
    assert opening is not None
    stream = progress_events(feed, jobs, TENANT, JOB, opening, keepalive)  # type: ignore[arg-type]
    return [chunk async for chunk in stream]


async def test_the_stream_folds_events_in_order_and_ends_with_the_final_state() -> None:
    state = running_job()
    # The read model has seen up to sequence 3; the feed's recent list overlaps it.
    feed = FakeFeed(recent=[ev.ExportStarted(envelope=envelope(3)), progressed(4, 100, 1)])
    for event in (progressed(4, 100, 1), progressed(5, 200, 2), extracted(6, 3), completed(7, 3)):
        feed.queue.put_nowait(event)
    chunks = await collect(feed, FakeJobs([state]))
    seen = parse(chunks)
    assert [name for name, _ in seen] == ["job", "job", "job", "done"]
    assert [d["processedRows"] for _, d in seen] == [100, 200, 300, 300]
    assert seen[1][1]["rowsPerSecond"] == 100.0 and seen[-1][1]["status"] == "COMPLETED"
    assert not feed.followed, "the stream lets go of the feed when it ends"


async def test_rows_shown_never_go_back_when_a_chunk_is_redone() -> None:
    feed = FakeFeed(recent=[])
    for event in (progressed(4, 200, 1), progressed(5, 50, 2), extracted(6, 3), completed(7, 3)):
        feed.queue.put_nowait(event)
    seen = parse(await collect(feed, FakeJobs([running_job()])))
    assert [d["processedRows"] for _, d in seen] == [0, 200, 200, 300, 300]


async def test_a_quiet_feed_falls_back_to_the_read_model() -> None:
    state = running_job()
    finished = apply(apply(state, extracted(4, 3)), completed(5, 3))
    # Nothing ever comes on the feed; the read model's next look has the job completed.
    seen = parse(await collect(FakeFeed(recent=[]), FakeJobs([state, finished]), keepalive=0.01))
    assert [name for name, _ in seen] == ["job", "done"]


def test_the_fakes_match_what_they_stand_for() -> None:
    for fake, real in ((FakeFeed, JobFeed), (FakeJobs, JobsRepository)):
        for name in ("follow", "unfollow") if real is JobFeed else ("state",):
            assert hasattr(real, name) and hasattr(fake, name)


async def test_a_job_not_yet_in_the_read_model_starts_from_its_first_event() -> None:
    requested = ev.ExportRequested(envelope=envelope(1), command_id="c", request=export_request())
    feed = FakeFeed(recent=[])
    feed.queue.put_nowait(requested)
    opening = await open_stream(feed, FakeJobs([None]), TENANT, JOB)  # type: ignore[arg-type]
    assert opening is not None and opening.stored.state.status is ExportStatus.PENDING


async def test_another_tenants_new_job_is_not_found_on_the_feed_either() -> None:
    requested = ev.ExportRequested(envelope=envelope(1), command_id="c", request=export_request())
    feed = FakeFeed(recent=[requested])
    other = "22222222-2222-4222-8222-222222222222"
    assert await open_stream(feed, FakeJobs([None]), other, JOB) is None  # type: ignore[arg-type]
    assert not feed.followed
    nothing = await open_stream(FakeFeed([]), FakeJobs([None]), TENANT, JOB, 0.05)  # type: ignore[arg-type]
    assert nothing is None


def test_only_jobs_submitted_here_a_moment_ago_may_wait_for_their_first_event() -> None:
    submitted = JustSubmitted(seconds=60)
    submitted.add(JOB)
    assert JOB in submitted and "6a1f0c0e-0000-4000-8000-000000000002" not in submitted
    assert JOB not in JustSubmitted(seconds=0) and JOB in submitted
