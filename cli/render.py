"""How jobs, files, quotas, estimates, schedules and the catalogue look in a terminal (rich)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.filesize import decimal
from rich.table import Table
from rich.text import Text

STATUS_STYLES = {
    "PENDING": "dim",
    "QUEUED": "blue",
    "PROCESSING": "cyan",
    "COMPLETED": "green",
    "FAILED": "bold red",
    "CANCELLED": "yellow",
    "EXPIRED": "magenta",
    # Schedules and their runs.
    "ACTIVE": "green",
    "PAUSED": "yellow",
    "DELETED": "dim",
    "REJECTED": "bold red",
    "RUNNING": "cyan",
    "SKIPPED": "dim",
}
Job = Mapping[str, Any]


def status_text(status: str | None) -> Text:
    return Text(status or "-", style=STATUS_STYLES.get(status or "", ""))


def size(value: int | float | None) -> str:
    return "-" if value is None else decimal(int(value))


def count(value: int | float | None) -> str:
    return "-" if value is None else f"{int(value):,}"


def short_sha(sha256: str | None) -> str:
    return (sha256 or "-")[:12]


def when(iso: str | None, with_zone: bool = True) -> str:
    """A time in the terminal's local zone, to the second; tables name the zone in their
    header instead."""
    if not iso:
        return "-"
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S" + (" %Z" if with_zone else ""))


def plain_table(title: str | None = None) -> Table:
    """A table without borders: a header rule, and two spaces between columns."""
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )


def local_zone() -> str:
    return datetime.now().astimezone().strftime("%Z")


def files_table(files: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="Files", title_justify="left", show_footer=len(files) > 1)
    table.add_column("file", footer=f"{len(files)} files")
    table.add_column("rows", justify="right", footer=count(sum(f.get("rows") or 0 for f in files)))
    total_bytes = sum(f.get("bytes") or 0 for f in files)
    table.add_column("size", justify="right", footer=size(total_bytes))
    table.add_column("bytes", justify="right", footer=count(total_bytes))
    table.add_column("sha256")
    for f in files:
        table.add_row(
            str(f.get("name")),
            count(f.get("rows")),
            size(f.get("bytes")),
            count(f.get("bytes")),
            short_sha(f.get("sha256")),
        )
    return table


def job_summary(job: Job) -> Table:
    """One export's description as label / value lines."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    query = job.get("queryDefinition") or {}
    rows = f"{count(job.get('processedRows'))} of {count(job.get('totalRows'))}"
    percent = job.get("progressPercent")
    if percent is not None:
        rows += f" ({float(percent):.0f} %)"
    lines: list[tuple[str, RenderableType]] = [
        ("id", str(job.get("id"))),
        ("name", str(job.get("name") or "-")),
        ("status", status_text(job.get("status"))),
        ("source", str(query.get("source") or "-")),
        ("format", _format_of(job)),
        ("rows", rows),
    ]
    if job.get("status") == "PROCESSING":
        rate = job.get("rowsPerSecond")
        lines.append(("rate", f"{count(rate)} rows/s" if rate is not None else "-"))
        lines.append(("done by", when(job.get("estimatedCompletionAt"))))
    lines += [
        ("requested", when(job.get("requestedAt"))),
        ("started", when(job.get("startedAt"))),
        ("completed", when(job.get("completedAt"))),
    ]
    if job.get("fileCount"):
        lines.append(("files", f"{job['fileCount']} ({size(job.get('fileSizeBytes'))})"))
    if job.get("expiresAt"):
        lines.append(("expires", when(job.get("expiresAt"))))
    if job.get("errorCode") or job.get("errorMessage"):
        error = f"{job.get('errorCode') or ''} {job.get('errorMessage') or ''}".strip()
        lines.append(("error", Text(error, style="red")))
    delivery = job.get("delivery") or {}
    if delivery.get("method") not in (None, "DOWNLOAD"):
        status = job.get("deliveryStatus") or "-"
        detail = job.get("deliveredTo") or job.get("deliveryError") or ""
        lines.append(("delivery", f"{delivery['method']}: {status} {detail}".rstrip()))
    for label, value in lines:
        grid.add_row(label, value)
    return grid


def _format_of(job: Job) -> str:
    compression = job.get("compression") or (job.get("formatOptions") or {}).get("compression")
    fmt = str(job.get("format") or "-")
    return f"{fmt}, {compression}" if compression and compression != "NONE" else fmt


def jobs_table(exports: Sequence[Job], total: int, offset: int, width: int) -> RenderableType:
    """One line per export; below 110 columns only what fits beside a whole id (ids are for
    copying, so they never wrap). The name takes what room is left."""
    if not exports:
        return Text(f"no exports here ({total} in all)")
    wide = width >= 110
    headers = ["id", "status", "rows", "size"]
    if wide:
        headers += ["format", f"requested ({local_zone()})"]
    rows: list[list[Text]] = []
    for job in exports:
        cells = [
            Text(str(job.get("id"))),
            status_text(job.get("status")),
            Text(count(job.get("processedRows"))),
            Text(size(job.get("fileSizeBytes"))),
        ]
        if wide:
            cells += [Text(_format_of(job)), Text(when(job.get("requestedAt"), False)[:16])]
        rows.append(cells)
    table = plain_table()
    used = 0
    for index, header in enumerate(headers):
        widest = max(len(header), *(len(row[index]) for row in rows))
        right = header in ("rows", "size")
        table.add_column(header, justify="right" if right else "left", no_wrap=True)
        used += widest + 2
    names = max(len(str(job.get("name") or "")) for job in exports)
    table.add_column(
        "name", overflow="ellipsis", no_wrap=True, max_width=max(4, min(names, width - used - 1))
    )
    for job, cells in zip(exports, rows, strict=True):
        table.add_row(*cells, Text(str(job.get("name") or "")))
    shown = f"{offset + 1}-{offset + len(exports)} of {total} exports, newest first"
    return Group(table, Text(shown, style="dim"))


def events_table(events: Sequence[Mapping[str, Any]]) -> Table:
    table = Table()
    table.add_column("#", justify="right")
    table.add_column(f"time ({local_zone()})", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("details")
    for number, event in enumerate(events, 1):
        envelope = event.get("envelope") or {}
        table.add_row(
            str(envelope.get("sequence", number)),
            when(envelope.get("occurredAt"), False),
            str(event.get("type")),
            event_details(event),
        )
    return table


def event_details(event: Mapping[str, Any]) -> str:
    """The event's own fields in one line: scalars as key=value, a file by its name."""
    parts = []
    for key, value in event.items():
        if key in ("type", "envelope") or value is None or value == []:
            continue
        if isinstance(value, Mapping):
            label = value.get("name") or value.get("source") or f"{{{len(value)} fields}}"
            parts.append(f"{key}={label}")
        elif isinstance(value, list):
            parts.append(f"{key}=[{len(value)}]")
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def quota_table(quota: Mapping[str, Any], width: int) -> Table:
    table = plain_table(title="Quota")
    table.add_column("limit", no_wrap=True)
    table.add_column("used", justify="right", no_wrap=True)
    table.add_column("of", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("%", justify="right", no_wrap=True)
    rows = (
        ("rows today", quota.get("dailyRowsUsed"), _limit(quota, "dailyRows")),
        ("exports today", quota.get("dailyExportsUsed"), _limit(quota, "dailyExports")),
        ("running now", quota.get("concurrentActive"), quota.get("concurrentLimit")),
    )
    numbers = max(len(count(r[2])) for r in rows)
    bar_width = max(10, min(40, width - 2 * numbers - 34))
    for label, used, limit in rows:
        used_n, limit_n = int(used or 0), int(limit or 0)
        share = used_n / limit_n if limit_n else 0.0
        style = "red" if share >= 0.9 else "yellow" if share >= 0.7 else "green"
        bar = usage_bar(share, bar_width, style)
        percent = "<0.1" if 0 < share < 0.001 else f"{share * 100:.1f}"
        table.add_row(label, count(used_n), count(limit_n), bar, percent)
    return table


def usage_bar(share: float, width: int, style: str) -> Text:
    """A bar drawn in characters, so it shows without colours too (a pipe, NO_COLOR)."""
    filled = round(min(max(share, 0.0), 1.0) * width)
    if share > 0 and filled == 0:
        filled = 1  # some use is never drawn as none
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"))


def _limit(quota: Mapping[str, Any], prefix: str) -> int:
    return int(quota.get(f"{prefix}Used") or 0) + int(quota.get(f"{prefix}Remaining") or 0)


def estimate_table(estimate: Mapping[str, Any]) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_column(style="dim")
    exact = bool(estimate.get("rowsExact"))
    grid.add_row("rows", count(estimate.get("rows")), "exact" if exact else "estimated")
    grid.add_row("size", size(estimate.get("bytes")), f"{count(estimate.get('bytes'))} bytes")
    grid.add_row("files", count(estimate.get("files")), "")
    grid.add_row("chunks", count(estimate.get("chunks")), "")
    seconds = estimate.get("seconds")
    grid.add_row("time", "-" if seconds is None else f"{float(seconds):,.0f} s", "estimated")
    fits = bool(estimate.get("fitsQuota"))
    verdict = Text("fits your quota", style="green") if fits else Text("over quota", style="red")
    lines: list[RenderableType] = [grid, verdict]
    for problem in estimate.get("quotaProblems") or []:
        lines.append(Text(f"  {problem.get('field')}: {problem.get('reason')}", style="red"))
    return Group(*lines)


def catalogue_view(catalogue: Mapping[str, Any], source: str | None = None) -> RenderableType:
    parts: list[RenderableType] = []
    for src in catalogue.get("sources") or []:
        if source and src.get("name") != source:
            continue
        title = (
            f"{src.get('name')}  (key column {src.get('keyColumn')},"
            f" --date-from/--date-to filter {src.get('dateColumn')})"
        )
        table = Table(title=title, title_justify="left", title_style="bold")
        table.add_column("column")
        table.add_column("type")
        table.add_column("operators")
        for column in src.get("columns") or []:
            table.add_row(
                str(column.get("name")), column_type(column), " ".join(column.get("operators", []))
            )
        parts.append(table)
    if source and not parts:
        names = ", ".join(str(s.get("name")) for s in catalogue.get("sources") or [])
        return Text(f"no source named {source!r}; one of {names}", style="red")
    operators = Table(title="Operators", title_justify="left", title_style="bold")
    operators.add_column("operator")
    operators.add_column("value")
    for op in catalogue.get("operators") or []:
        operators.add_row(str(op.get("name")), OPERATOR_VALUES.get(op.get("value"), "?"))
    formats = Table(title="Formats (--option KEY=VALUE)", title_justify="left", title_style="bold")
    formats.add_column("format")
    formats.add_column("compression")
    formats.add_column("options (default)")
    for fmt in catalogue.get("formats") or []:
        options = ", ".join(
            f"{o.get('name')} ({o.get('type')}, default {json.dumps(o.get('default'))})"
            for o in fmt.get("options") or []
        )
        formats.add_row(
            str(fmt.get("name")),
            " ".join(catalogue.get("compressions") or []) if fmt.get("compressible") else "NONE",
            options,
        )
    methods = " ".join(catalogue.get("deliveryMethods") or [])
    parts += [operators, formats, Text(f"delivery methods: {methods}")]
    return Group(*parts)


OPERATOR_VALUES = {
    "single": "one value",
    "list": "a comma list",
    "range": "low,high",
    "none": "no value",
}


def column_type(column: Mapping[str, Any]) -> str:
    kind = str(column.get("type"))
    if column.get("precision") is not None:
        return f"{kind}({column['precision']},{column.get('scale') or 0})"
    return kind


def print_to(console: Console, *renderables: RenderableType) -> None:
    for renderable in renderables:
        console.print(renderable)


Schedule = Mapping[str, Any]


def schedules_table(schedules: Sequence[Schedule]) -> RenderableType:
    if not schedules:
        return Text("no schedules yet: exportctl schedule create --help")
    table = plain_table()
    table.add_column("id", no_wrap=True)
    table.add_column("name")
    table.add_column("when")
    table.add_column("status", no_wrap=True)
    table.add_column(f"next run ({local_zone()})", no_wrap=True)
    for schedule in schedules:
        described = schedule.get("cronDescription") or schedule.get("cron")
        table.add_row(
            str(schedule.get("id", "")),
            str(schedule.get("name") or "-"),
            f"{described} ({schedule.get('timezone')})",
            status_text(schedule.get("status")),
            when(schedule.get("nextRunAt"), False),
        )
    return table


def schedule_summary(schedule: Schedule) -> Table:
    """One schedule as label / value lines; next runs in the terminal's zone."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("id", str(schedule.get("id")))
    grid.add_row("status", status_text(schedule.get("status")))
    rejection = schedule.get("rejection")
    if rejection:
        reason = f"{rejection.get('field') or ''}: {rejection.get('reason')}".lstrip(": ")
        grid.add_row("refused", Text(reason, style="red"))
        return grid
    request = schedule.get("exportRequest") or {}
    source = (request.get("queryDefinition") or {}).get("source") or "-"
    lines: list[tuple[str, RenderableType]] = [
        ("name", str(schedule.get("name") or "-")),
        ("cron", f"{schedule.get('cron')}: {schedule.get('cronDescription')}"),
        ("zone", str(schedule.get("timezone"))),
        ("exports", f"{source} as {request.get('format') or '-'}"),
        ("incremental", "yes" if schedule.get("incremental") else "no"),
        ("if empty", str(schedule.get("ifEmpty"))),
        ("catch up", str(schedule.get("catchUp"))),
        ("starts", when(schedule.get("startAt"))),
        ("ends", when(schedule.get("endAt"))),
        ("next runs", "\n".join(when(t) for t in schedule.get("nextRuns") or []) or "-"),
    ]
    for label, value in lines:
        grid.add_row(label, value)
    return grid


def runs_table(runs: Sequence[Mapping[str, Any]]) -> RenderableType:
    if not runs:
        return Text("no runs yet")
    table = plain_table()
    table.add_column("#", justify="right")
    table.add_column(f"slot ({local_zone()})", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("keys")
    table.add_column("job / reason")
    for run in runs:
        keys = run.get("keyRange")
        table.add_row(
            str(run.get("runNumber") or "-"),
            when(run.get("slot"), False),
            status_text(run.get("status")),
            count(run.get("rows")),
            f"{keys.get('after') or '-'} to {keys.get('through')}" if keys else "-",
            str(run.get("reason") or run.get("jobId") or "-"),
        )
    return table
