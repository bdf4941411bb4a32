"""Following a job: the bar's figures, reconnects, and rows that never go back."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console

from cli import watch
from export_client.api_client import ApiError, ApiUnreachable


class ScriptedApi:
    """Each progress() call plays the next script: events, then maybe an exception."""

    def __init__(self, *scripts: list[Any]) -> None:
        self.scripts = list(scripts)
        self.calls = 0

    def progress(self, job_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        self.calls += 1
        for item in self.scripts.pop(0):
            if isinstance(item, BaseException):
                raise item
            yield item


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch.time, "sleep", lambda _s: None)


def job(status: str, rows: int, total: int | None = 100, **extra: Any) -> dict[str, Any]:
    return {"id": "j", "status": status, "processedRows": rows, "totalRows": total, **extra}


def console(width: int = 120) -> Console:
    return Console(file=io.StringIO(), width=width, force_terminal=True)


def test_follow_returns_the_done_state_through_a_broken_stream() -> None:
    api = ScriptedApi(
        [("job", job("PROCESSING", 40)), ApiUnreachable("cut")],
        [("job", job("PROCESSING", 60)), ("done", job("COMPLETED", 100))],
    )
    final = watch.follow(api, "j", console())  # type: ignore[arg-type]
    assert final["status"] == "COMPLETED" and api.calls == 2


def test_follow_gives_up_after_repeated_breaks() -> None:
    api = ScriptedApi(*[[ApiUnreachable("down")] for _ in range(watch.RECONNECTS + 1)])
    with pytest.raises(ApiUnreachable):
        watch.follow(api, "j", None)  # type: ignore[arg-type]


def test_follow_waits_for_a_just_submitted_job_then_gives_up() -> None:
    missing = ApiError(404, "NOT_FOUND", "Export job not found")
    api = ScriptedApi([missing], [("done", job("COMPLETED", 100))])
    assert watch.follow(api, "j", None)["status"] == "COMPLETED"  # type: ignore[arg-type]
    with pytest.raises(ApiError):
        watch.follow(ScriptedApi([missing]), "j", None, appear_seconds=0)  # type: ignore[arg-type]


def test_other_api_errors_end_the_watch_at_once() -> None:
    api = ScriptedApi([ApiError(403, "FORBIDDEN", "no")])
    with pytest.raises(ApiError):
        watch.follow(api, "j", None)  # type: ignore[arg-type]


def test_the_bar_never_shows_fewer_rows_than_it_showed() -> None:
    out = console()
    progress = watch.new_progress(out)
    gauge = watch.RateGauge()
    task = watch._draw(progress, None, job("PROCESSING", 50), 50, gauge)
    watch._draw(progress, task, job("PROCESSING", 30), 50, gauge)
    assert progress.tasks[0].completed == 50
    watch._draw(progress, task, job("COMPLETED", 90, total=100), 90, gauge)
    assert progress.tasks[0].completed == 100  # a completed job is drawn full


def test_the_servers_rate_and_eta_are_used_when_sent() -> None:
    eta = datetime.now(UTC) + timedelta(seconds=30)
    served = job("PROCESSING", 10, rowsPerSecond=1234.5, estimatedCompletionAt=eta.isoformat())
    gauge = watch.RateGauge()
    assert gauge.rate(served) == 1234.5
    assert watch.eta_of(served, 1234.5) == eta


def test_without_the_servers_figures_the_rate_is_measured_here() -> None:
    now = [100.0]
    gauge = watch.RateGauge(clock=lambda: now[0])
    assert gauge.rate(job("PROCESSING", 0)) is None
    now[0] = 102.0
    assert gauge.rate(job("PROCESSING", 1000)) == 500.0
    eta = watch.eta_of(job("PROCESSING", 1000, total=2000), 500.0)
    assert eta is not None
    assert 1.5 < (eta - datetime.now(UTC)).total_seconds() <= 2.0


@pytest.mark.parametrize("status", ["CANCELLED", "FAILED", "COMPLETED"])
def test_an_ended_job_shows_no_time_left(status: str) -> None:
    out = console()
    progress = watch.new_progress(out)
    eta = (datetime.now(UTC) + timedelta(seconds=125)).isoformat()
    running = job("PROCESSING", 34, rowsPerSecond=10.0, estimatedCompletionAt=eta)
    task = watch._draw(progress, None, running, 34, watch.RateGauge())
    assert "ETA 0:02:0" in plain(out, next(iter(progress.get_renderables())))
    # The last event of a cancelled or failed job still carries the estimate it had.
    watch._draw(progress, task, {**running, "status": status}, 34, watch.RateGauge())
    text = plain(out, next(iter(progress.get_renderables())))
    assert "ETA -:--:--" in text and status in text


@pytest.mark.parametrize("width", [120, 100, 80])
def test_a_drawn_line_fits_the_terminal_at_a_million_rows(width: int) -> None:
    out = console(width)
    progress = watch.new_progress(out)
    eta = (datetime.now(UTC) + timedelta(seconds=3725)).isoformat()
    big = job(
        "PROCESSING",
        999_999,
        total=1_000_000,
        rowsPerSecond=123_456.0,
        estimatedCompletionAt=eta,
    )
    watch._draw(progress, None, big, 999_999, watch.RateGauge())
    text = plain(out, next(iter(progress.get_renderables())))
    assert "999,999/1,000,000 rows" in text and "123,456 rows/s" in text
    assert ("ETA 1:02:0" in text) is (width >= 100)
    assert ("elapsed" in text) is (width >= 120)
    assert len(text.splitlines()) == 1
    assert len(text.rstrip()) <= width


def plain(out: Console, renderable: Any) -> str:
    with out.capture() as captured:
        out.print(renderable)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", captured.get())
