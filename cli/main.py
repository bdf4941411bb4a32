"""The exportctl command line (a typer app): one function per command, each turning the
client's answers into tables, a live bar or one JSON document. `main()` is the entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from cli import render, watch
from cli.config import DEFAULT_API_URL, Config, default_token_file, save_token
from cli.downloads import choose, download_all
from cli.errors import FAILED, INTERRUPTED, JobUnsuccessful, reported, write_json
from cli.request_flags import FILTER_HELP, RequestFlags, build_request
from cli.schedule_commands import schedule_app
from export_client.api_client import DEFAULT_CHUNK_SIZE, ApiError, ExportApi

app = typer.Typer(
    name="exportctl",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Messages are soft-wrapped (one line each, however narrow the terminal or pipe); tables fit
# the width.
stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout, for scripts.")
]


def open_api(config: Config, with_token: bool = True) -> ExportApi:
    """The client the commands use (unit tests put one over a mock transport here)."""
    return ExportApi(config.api_url, config.resolve_token() if with_token else None)


def config_of(ctx: typer.Context) -> Config:
    config = ctx.find_object(Config)
    assert config is not None, "the app's callback sets the configuration"
    return config


def wants_json(ctx: typer.Context, flag: bool) -> bool:
    root = ctx.find_root()
    return flag or bool(root.meta.get("json"))


@app.callback()
def configure(
    ctx: typer.Context,
    api_url: Annotated[
        str, typer.Option(envvar="EXPORT_API_URL", metavar="URL", help="The export API's base URL.")
    ] = DEFAULT_API_URL,
    token: Annotated[
        str | None,
        typer.Option(envvar="EXPORT_TOKEN", metavar="JWT", help="Bearer token."),
    ] = None,
    token_file: Annotated[
        str | None,
        typer.Option(
            envvar="EXPORT_TOKEN_FILE",
            metavar="PATH",
            help="File holding the token [default: ~/.config/exportctl/token].",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """exportctl: submit, watch, list and download exports of the data export service.

    Exit codes: 0 done; 1 failed or refused (an API error, a job that FAILED or was
    CANCELLED, a quota refused, a checksum mismatch); 2 bad usage; 130 interrupted.
    """
    ctx.obj = Config(
        api_url=api_url,
        token=token or None,
        # An empty EXPORT_TOKEN_FILE counts as unset, as an empty EXPORT_TOKEN does.
        token_file=Path(token_file) if token_file else default_token_file(),
        token_file_from_flag=_from_command_line(ctx, "token_file"),
        token_from_flag=_from_command_line(ctx, "token"),
    )
    ctx.meta["json"] = as_json


def _from_command_line(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


# The request flags, shared by submit and estimate.
FileOpt = Annotated[
    str | None,
    typer.Option("--file", "-f", metavar="PATH", help="The request as a JSON file (- for stdin)."),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source", "-s", metavar="NAME", help="fact_trades, fact_quotes, fact_orders, ..."
    ),
]
ColumnsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--columns",
        "-c",
        metavar="COLS",
        help="Comma list of columns, NAME or NAME:ALIAS; repeatable.",
    ),
]
FilterOpt = Annotated[list[str] | None, typer.Option("--filter", metavar="COND", help=FILTER_HELP)]
DateFromOpt = Annotated[
    str | None,
    typer.Option(metavar="DATE", help="First day (YYYY-MM-DD) on the source's date column."),
]
DateToOpt = Annotated[
    str | None, typer.Option(metavar="DATE", help="Last day (YYYY-MM-DD), included.")
]
OrderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--order", metavar="COL[:DIR]", help="COL, COL:asc or COL:desc; comma list; repeatable."
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option("--format", metavar="FMT", help="CSV (default), EXCEL, JSON, NDJSON or PARQUET."),
]
CompressionOpt = Annotated[
    str | None, typer.Option(metavar="ALG", help="NONE, GZIP or ZSTD (CSV, JSON and NDJSON only).")
]
OptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        metavar="KEY=VALUE",
        help="A format option KEY=VALUE (e.g. delimiter=';', include_headers=false,"
        " sheet_name=Trades); repeatable. `exportctl catalogue` lists them.",
    ),
]
NameOpt = Annotated[
    str | None, typer.Option(metavar="TEXT", help="The export's name [default: SOURCE export].")
]
DescriptionOpt = Annotated[str | None, typer.Option(metavar="TEXT", help="A longer description.")]
MaxRowsOpt = Annotated[
    int | None, typer.Option(metavar="N", help="Split into files of at most N rows.")
]
MaxBytesOpt = Annotated[
    int | None, typer.Option(metavar="N", help="Split into files of about N bytes.")
]
DeliveryOpt = Annotated[
    str | None,
    typer.Option(
        metavar="WHERE",
        help="download (default), email:ADDR[,ADDR], s3://BUCKET/KEY,"
        " sftp://USER@HOST[:PORT]/PATH or webhook:URL.",
    ),
]


@app.command()
def submit(
    ctx: typer.Context,
    file: FileOpt = None,
    source: SourceOpt = None,
    columns: ColumnsOpt = None,
    filters: FilterOpt = None,
    date_from: DateFromOpt = None,
    date_to: DateToOpt = None,
    order: OrderOpt = None,
    format: FormatOpt = None,
    compression: CompressionOpt = None,
    options: OptionOpt = None,
    name: NameOpt = None,
    description: DescriptionOpt = None,
    max_rows_per_file: MaxRowsOpt = None,
    max_file_bytes: MaxBytesOpt = None,
    delivery: DeliveryOpt = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(metavar="KEY", help="Makes a retry safe: the same key gives the same job."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Follow the export to its end with a live bar.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Submit an export. With --wait, show its progress and end with its files (exit 1 when
    it fails, is cancelled or its delivery fails).

    Example: exportctl submit --source fact_orders --columns id,symbol,quantity
    --filter 'id<100' --filter 'symbol IN AAPL,MSFT' --order id:desc --format CSV --wait
    """
    as_json = wants_json(ctx, as_json)
    flags = RequestFlags(
        file=file,
        source=source,
        columns=columns or [],
        filters=filters or [],
        date_from=date_from,
        date_to=date_to,
        order=order or [],
        format=format,
        compression=compression,
        options=options or [],
        name=name,
        description=description,
        max_rows_per_file=max_rows_per_file,
        max_file_bytes=max_file_bytes,
        delivery=delivery,
    )
    with reported(as_json, request_from_flags=True):
        request = build_request(flags)
        with open_api(config_of(ctx)) as api:
            accepted = api.submit(request, idempotency_key)
            job_id = str(accepted["id"])
            if not wait:
                if as_json:
                    write_json(accepted)
                else:
                    stdout.print(f"submitted export {job_id} ({accepted.get('status')})")
                    stdout.print(
                        f"follow it: exportctl status {job_id}"
                        f"   files: exportctl download {job_id}",
                        style="dim",
                    )
                return
            if not as_json:
                stderr.print(f"submitted export {job_id}; following its progress (Ctrl-C stops)")
            _wait_and_report(api, job_id, as_json)


def _wait_and_report(api: ExportApi, job_id: str, as_json: bool) -> None:
    try:
        job = watch.follow(api, job_id, None if as_json else stderr)
    except KeyboardInterrupt:
        stderr.print(
            f"stopped watching; export {job_id} goes on: exportctl status {job_id}", style="yellow"
        )
        raise typer.Exit(INTERRUPTED) from None
    files = watch.files_when_listed(api, job) if job.get("status") == "COMPLETED" else []
    if as_json:
        write_json({**job, "files": files})
    else:
        _report_end(job, files)
    # A delivery that failed leaves the files here, but not what was asked for.
    if job.get("status") != "COMPLETED" or job.get("deliveryStatus") == "FAILED":
        raise JobUnsuccessful(job)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _report_end(job: dict[str, Any], files: list[dict[str, Any]]) -> None:
    job_id = job.get("id")
    status = str(job.get("status"))
    if status == "COMPLETED":
        rows = render.count(job.get("processedRows"))
        stdout.print(
            Text.assemble(
                ("COMPLETED", "bold green"),
                f"  export {job_id}: {rows} rows in {plural(len(files), 'file')},"
                f" {render.size(job.get('fileSizeBytes'))}",
            )
        )
        stdout.print(render.files_table(files))
        _report_delivery(job)
        stdout.print(f"download: exportctl download {job_id}", style="dim")
        return
    error = f"{job.get('errorCode') or ''} {job.get('errorMessage') or ''}".strip()
    stderr.print(
        Text.assemble((status, "bold red"), f"  export {job_id}" + (f": {error}" if error else ""))
    )


def _report_delivery(job: dict[str, Any]) -> None:
    method = (job.get("delivery") or {}).get("method")
    if method in (None, "DOWNLOAD"):
        return
    if job.get("deliveryStatus") == "FAILED":
        stderr.print(
            Text.assemble(
                ("DELIVERY FAILED", "bold red"), f"  {method}: {job.get('deliveryError')}"
            )
        )
    else:
        where = job.get("deliveredTo") or ""
        stdout.print(f"delivered by {method} {where}".rstrip())


@app.command()
def estimate(
    ctx: typer.Context,
    file: FileOpt = None,
    source: SourceOpt = None,
    columns: ColumnsOpt = None,
    filters: FilterOpt = None,
    date_from: DateFromOpt = None,
    date_to: DateToOpt = None,
    order: OrderOpt = None,
    format: FormatOpt = None,
    compression: CompressionOpt = None,
    options: OptionOpt = None,
    name: NameOpt = None,
    description: DescriptionOpt = None,
    max_rows_per_file: MaxRowsOpt = None,
    max_file_bytes: MaxBytesOpt = None,
    delivery: DeliveryOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """What an export would be (rows, bytes, files, chunks, seconds) and whether it fits your
    quota, without starting it: the same flags as submit. Exits 1 when it would not fit."""
    as_json = wants_json(ctx, as_json)
    flags = RequestFlags(
        file=file,
        source=source,
        columns=columns or [],
        filters=filters or [],
        date_from=date_from,
        date_to=date_to,
        order=order or [],
        format=format,
        compression=compression,
        options=options or [],
        name=name,
        description=description,
        max_rows_per_file=max_rows_per_file,
        max_file_bytes=max_file_bytes,
        delivery=delivery,
    )
    with reported(as_json, request_from_flags=True):
        request = build_request(flags)
        with open_api(config_of(ctx)) as api:
            result = api.estimate(request)
    if as_json:
        write_json(result)
    else:
        stdout.print(render.estimate_table(result))
    if not result.get("fitsQuota", True):
        raise typer.Exit(FAILED)


@app.command("list")
def list_exports(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(metavar="STATUS", help="Only exports in this status, e.g. PROCESSING."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, metavar="N", help="How many.")] = 20,
    offset: Annotated[
        int, typer.Option(min=0, metavar="N", help="How many newer ones to skip.")
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Your exports, newest first."""
    as_json = wants_json(ctx, as_json)
    with reported(as_json), open_api(config_of(ctx)) as api:
        page = api.list(status.upper() if status else None, limit, offset)
    if as_json:
        write_json(page)
    else:
        exports = page.get("exports") or []
        stdout.print(render.jobs_table(exports, int(page.get("total") or 0), offset, stdout.width))


JobIdArg = Annotated[str, typer.Argument(metavar="ID", help="The export's id.")]


@app.command()
def status(ctx: typer.Context, job_id: JobIdArg, as_json: JsonFlag = False) -> None:
    """One export: its state, progress and, once completed, its files."""
    as_json = wants_json(ctx, as_json)
    with reported(as_json), open_api(config_of(ctx)) as api:
        job = api.get(job_id)
        files: list[dict[str, Any]] = []
        if job.get("status") == "COMPLETED":
            try:
                files = list(api.files(job_id).get("files") or [])
            except ApiError:
                files = []  # expired or gone meanwhile: the job's own fields say so
    if as_json:
        write_json({**job, "files": files} if files else job)
        return
    stdout.print(render.job_summary(job))
    if files:
        stdout.print(render.files_table(files))


@app.command()
def events(ctx: typer.Context, job_id: JobIdArg, as_json: JsonFlag = False) -> None:
    """An export's audit trail: every event, in order."""
    as_json = wants_json(ctx, as_json)
    with reported(as_json), open_api(config_of(ctx)) as api:
        trail = api.events(job_id)
    if as_json:
        write_json(trail)
    else:
        stdout.print(render.events_table(trail.get("events") or []))


@app.command()
def cancel(ctx: typer.Context, job_id: JobIdArg, as_json: JsonFlag = False) -> None:
    """Cancel a running export (exit 1 when it has already ended)."""
    as_json = wants_json(ctx, as_json)
    with reported(as_json), open_api(config_of(ctx)) as api:
        answer = api.cancel(job_id)
    if as_json:
        write_json(answer)
    else:
        stdout.print(f"cancellation of export {job_id} requested")


@app.command()
def download(
    ctx: typer.Context,
    job_id: JobIdArg,
    files: Annotated[
        list[str] | None,
        typer.Option(
            "--file",
            "-f",
            metavar="NAME",
            help="Only this file (repeatable) [default: every file].",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="DIR", help="Folder to write into [default: ./ID]."),
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(min=1, metavar="BYTES", help="Bytes read at a time.")
    ] = DEFAULT_CHUNK_SIZE,
    limit_rate: Annotated[
        float | None,
        typer.Option(min=1, metavar="BYTES", help="At most this many bytes per second."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Download an export's files, each checked against the manifest's SHA-256. A download
    that was interrupted goes on from where it stopped (its .part file) when run again."""
    as_json = wants_json(ctx, as_json)
    out_dir = out or Path(job_id)
    with reported(as_json), open_api(config_of(ctx)) as api:
        manifest = api.manifest(job_id)
        chosen = choose(manifest.get("files") or [], files or [])
        try:
            results = download_all(
                api,
                job_id,
                chosen,
                out_dir,
                None if as_json else stderr,
                chunk_size,
                limit_rate,
            )
        except KeyboardInterrupt:
            stderr.print(f"interrupted: {_partial_files(out_dir, chosen)}", style="yellow")
            stderr.print("run the same command again to resume", style="yellow")
            raise typer.Exit(INTERRUPTED) from None
    if as_json:
        write_json(
            {"id": job_id, "directory": str(out_dir), "files": [r.as_json() for r in results]}
        )
        return
    for r in results:
        line = Text.assemble(("✓ ", "green"), (r.name, "bold"), f"  {render.size(r.size)}  ")
        if r.skipped:
            line.append("already here, not fetched")
        else:
            line.append(f"fetched {r.bytes_fetched:,} bytes")
            if r.resumed:
                line.append(f" (resumed at byte {r.size - r.bytes_fetched:,})", style="yellow")
        line.append(
            f"  sha256 {'ok' if r.verified else 'unchecked'} {render.short_sha(r.sha256)}",
            style="dim",
        )
        stdout.print(line)
    stdout.print(f"{plural(len(results), 'file')} in {out_dir}", style="dim")


def _partial_files(out_dir: Path, chosen: list[dict[str, Any]]) -> str:
    kept = []
    for entry in chosen:
        part = out_dir / f"{entry.get('name')}.part"
        if part.exists():
            of = f" of {render.count(entry.get('bytes'))}" if entry.get("bytes") else ""
            kept.append(f"{part.name} ({render.count(part.stat().st_size)}{of} bytes)")
    return f"kept {', '.join(kept)} in {out_dir}" if kept else "no partial file kept"


@app.command()
def quota(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Your usage today against your limits."""
    as_json = wants_json(ctx, as_json)
    with reported(as_json), open_api(config_of(ctx)) as api:
        usage = api.quota()
    if as_json:
        write_json(usage)
    else:
        stdout.print(render.quota_table(usage, stdout.width))


@app.command()
def catalogue(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option("--source", "-s", metavar="NAME", help="Only this source.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """What can be exported: sources, their columns and types, operators, formats, options."""
    as_json = wants_json(ctx, as_json)
    with reported(as_json), open_api(config_of(ctx)) as api:
        described = api.catalogue()
    if as_json:
        write_json(described)
        return
    stdout.print(render.catalogue_view(described, source))
    if source and not any(s.get("name") == source for s in described.get("sources") or []):
        raise typer.Exit(FAILED)


@app.command()
def login(
    ctx: typer.Context,
    dev: Annotated[
        bool, typer.Option("--dev", help="Get a development token (local stacks only).")
    ] = False,
    tenant: Annotated[
        str | None, typer.Option(metavar="UUID", help="Tenant id [default: the API's].")
    ] = None,
    user: Annotated[
        str | None, typer.Option(metavar="UUID", help="User id [default: the API's].")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Store a token for the other commands (in --token-file / EXPORT_TOKEN_FILE, else
    ~/.config/exportctl/token, readable by you alone)."""
    as_json = wants_json(ctx, as_json)
    if not dev:
        raise typer.BadParameter(
            "only `login --dev` exists: for a real token, set EXPORT_TOKEN or --token-file",
            param_hint="--dev",
        )
    config = config_of(ctx)
    with reported(as_json), open_api(config, with_token=False) as api:
        try:
            session = api.dev_login(tenant, user)
        except ApiError as exc:
            if exc.status == 404:
                raise ApiError(
                    404,
                    "DEV_LOGIN_OFF",
                    f"the API at {config.api_url} offers no development login"
                    " (EXPORT_DEV_LOGIN is not set there); set EXPORT_TOKEN instead",
                ) from None
            raise
    save_token(config.token_file, str(session["token"]))
    if as_json:
        write_json({**session, "tokenFile": str(config.token_file)})
        return
    stdout.print(
        f"logged in as user {session.get('userId')} of tenant {session.get('tenantId')}"
        f" (roles: {', '.join(session.get('roles') or [])})"
    )
    stdout.print(
        f"this is a DEVELOPMENT token, valid until {render.when(session.get('expiresAt'))};"
        f" stored in {config.token_file}",
        style="yellow",
    )
    if config.token:
        stderr.print(
            "note: EXPORT_TOKEN (or --token) is set and is sent instead of the stored token",
            style="yellow",
        )


@app.command()
def whoami(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Who the token says you are: tenant, user and roles."""
    as_json = wants_json(ctx, as_json)
    with reported(as_json), open_api(config_of(ctx)) as api:
        me = api.me()
    if as_json:
        write_json(me)
    else:
        stdout.print(
            f"user {me.get('userId')} of tenant {me.get('tenantId')}"
            f" (roles: {', '.join(me.get('roles') or [])})"
        )


app.add_typer(schedule_app)


def main() -> None:
    app(prog_name="exportctl")


if __name__ == "__main__":
    main()
