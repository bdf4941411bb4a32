"""`exportctl schedule ...`: create, list, show, pause, resume, delete a recurring export and
list its runs. The export a schedule runs is the body of POST /v1/exports, from a file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli import render
from cli.errors import reported, write_json
from cli.request_flags import webhook_delivery
from export_client.api_client import ExportApi

schedule_app = typer.Typer(
    name="schedule",
    help="Recurring exports: a cron expression in a time zone, and the export to run.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
stdout = Console(soft_wrap=True)

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout, for scripts.")
]
ScheduleIdArg = Annotated[str, typer.Argument(metavar="ID", help="The schedule's id.")]


@schedule_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="What the schedule is called.")],
    cron: Annotated[
        str, typer.Option(help="Five fields: minute hour day-of-month month day-of-week.")
    ],
    request_file: Annotated[
        Path,
        typer.Option(
            "--request",
            metavar="FILE",
            help="The export to run, as the JSON body of POST /v1/exports ('-': stdin).",
        ),
    ],
    timezone: Annotated[
        str, typer.Option(metavar="ZONE", help="IANA zone the cron is read in.")
    ] = "UTC",
    incremental: Annotated[
        bool, typer.Option(help="Each run exports only the rows added since the last run.")
    ] = False,
    if_empty: Annotated[
        str, typer.Option(metavar="SKIP|DELIVER", help="A run with no rows: skip or deliver.")
    ] = "DELIVER",
    catch_up: Annotated[
        str, typer.Option(metavar="ONE|ALL|NONE", help="Slots missed while the service was down.")
    ] = "ONE",
    start_at: Annotated[str | None, typer.Option(metavar="TIME", help="ISO 8601.")] = None,
    end_at: Annotated[str | None, typer.Option(metavar="TIME", help="ISO 8601.")] = None,
    webhook: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="POST each run's signed completion notice here (the request's delivery).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a schedule (checked at once: a bad one is refused with its fields)."""
    as_json = wants_json(ctx, as_json)
    export_request = _request_from(request_file)
    if webhook:
        export_request["delivery"] = webhook_delivery(webhook)
    body: dict[str, Any] = {
        "name": name,
        "cron": cron,
        "timezone": timezone,
        "exportRequest": export_request,
        "incremental": incremental,
        "ifEmpty": if_empty.upper(),
        "catchUp": catch_up.upper(),
        **({"startAt": start_at} if start_at else {}),
        **({"endAt": end_at} if end_at else {}),
    }
    with reported(as_json), open_from_context(ctx) as api:
        created = api.create_schedule(body)
    if as_json:
        write_json(created)
    else:
        stdout.print(f"schedule {created['id']} created: {name}, {cron} ({timezone})")


@schedule_app.command("list")
def list_schedules(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Your schedules (active and paused), newest first, with their next run."""
    as_json = wants_json(ctx, as_json)
    with reported(as_json), open_from_context(ctx) as api:
        found = api.schedules()
    if as_json:
        write_json(found)
    else:
        stdout.print(render.schedules_table(found.get("schedules") or []))


@schedule_app.command("show")
def show(ctx: typer.Context, schedule_id: ScheduleIdArg, as_json: JsonFlag = False) -> None:
    """One schedule: when it runs, what it exports, its next runs."""
    as_json = wants_json(ctx, as_json)
    with reported(as_json), open_from_context(ctx) as api:
        schedule = api.schedule(schedule_id)
    if as_json:
        write_json(schedule)
    else:
        stdout.print(render.schedule_summary(schedule))


@schedule_app.command("runs")
def runs(
    ctx: typer.Context,
    schedule_id: ScheduleIdArg,
    limit: Annotated[int, typer.Option(min=1, max=500, metavar="N", help="How many.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """A schedule's runs, latest first: slot, job, status, rows, key range."""
    as_json = wants_json(ctx, as_json)
    with reported(as_json), open_from_context(ctx) as api:
        found = api.schedule_runs(schedule_id, limit)
    if as_json:
        write_json(found)
    else:
        stdout.print(render.runs_table(found.get("runs") or []))


def _change(ctx: typer.Context, schedule_id: str, as_json: bool, action: str) -> None:
    as_json = wants_json(ctx, as_json)
    with reported(as_json), open_from_context(ctx) as api:
        answer = {
            "pause": api.pause_schedule,
            "resume": api.resume_schedule,
            "delete": api.delete_schedule,
        }[action](schedule_id)
    if as_json:
        write_json(answer)
    else:
        stdout.print(f"schedule {schedule_id}: {action} requested")


@schedule_app.command("pause")
def pause(ctx: typer.Context, schedule_id: ScheduleIdArg, as_json: JsonFlag = False) -> None:
    """Start no run until resumed."""
    _change(ctx, schedule_id, as_json, "pause")


@schedule_app.command("resume")
def resume(ctx: typer.Context, schedule_id: ScheduleIdArg, as_json: JsonFlag = False) -> None:
    """Run again from the next slot (slots passed while paused are not caught up)."""
    _change(ctx, schedule_id, as_json, "resume")


@schedule_app.command("delete")
def delete(ctx: typer.Context, schedule_id: ScheduleIdArg, as_json: JsonFlag = False) -> None:
    """Delete the schedule: it starts no run again (its runs' exports stay)."""
    _change(ctx, schedule_id, as_json, "delete")


def open_from_context(ctx: typer.Context) -> ExportApi:
    # Imported when a command runs: the main app registers this one, and its open_api is
    # the one unit tests replace with a client over a mock transport.
    from cli import main

    return main.open_api(main.config_of(ctx))


def wants_json(ctx: typer.Context, flag: bool) -> bool:
    from cli import main

    return main.wants_json(ctx, flag)


def _request_from(path: Path) -> dict[str, Any]:
    text = sys.stdin.read() if str(path) == "-" else path.read_text()
    try:
        request = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{path} is not JSON: {exc}", param_hint="--request") from None
    if not isinstance(request, dict):
        raise typer.BadParameter(f"{path} must hold a JSON object", param_hint="--request")
    return request
