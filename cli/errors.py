"""Exit codes scripts can rely on, and how a failure is told: one line on stderr, the API's
field details one per line, and in --json mode the error as the one JSON document on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from cli.config import NoToken
from cli.request_flags import FlagError, flag_for_field
from export_client.api_client import ApiError, ApiUnreachable, ChecksumMismatch, ClientError

OK = 0
FAILED = 1  # an API error, a failed or cancelled job, a refused quota, a checksum mismatch
USAGE = 2  # bad flags (click's own usage errors exit 2 too)
INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class JobUnsuccessful(Exception):
    """The job ended FAILED, CANCELLED or EXPIRED; the job's JSON is already printed."""

    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__(f"export {job.get('id')} ended {job.get('status')}")
        self.job = job


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, FlagError):
        return USAGE
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    return FAILED


def error_document(exc: BaseException) -> dict[str, Any]:
    """The error as --json prints it."""
    if isinstance(exc, ApiError):
        document: dict[str, Any] = {"error": exc.code, "message": exc.message, "status": exc.status}
        if exc.details:
            document["details"] = exc.details
        return document
    if isinstance(exc, ChecksumMismatch):
        return {
            "error": "CHECKSUM_MISMATCH",
            "message": str(exc),
            "file": exc.name,
            "expected": exc.expected,
            "actual": exc.actual,
        }
    if isinstance(exc, ApiUnreachable):
        return {"error": "UNREACHABLE", "message": str(exc)}
    if isinstance(exc, NoToken):
        return {"error": "NO_TOKEN", "message": str(exc)}
    return {"error": type(exc).__name__, "message": str(exc)}


def error_lines(exc: BaseException, request_from_flags: bool = False) -> list[str]:
    """What stderr shows: the error, then each field the API named as `field: reason`."""
    if isinstance(exc, ApiError):
        if not exc.details:
            return [f"error: {exc.message} ({exc.code}, HTTP {exc.status})"]
        lines = [f"error: the API refused the request ({exc.code}, HTTP {exc.status}):"]
        for detail in exc.details:
            field = str(detail.get("field", "(body)"))
            flag = flag_for_field(field) if request_from_flags else None
            hint = f" [{flag}]" if flag else ""
            lines.append(f"  {field}{hint}: {detail.get('reason', '')}")
        return lines
    if isinstance(exc, KeyboardInterrupt):
        return ["interrupted"]
    return [f"error: {exc}"]


def write_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def reported(as_json: bool, request_from_flags: bool = False) -> Iterator[None]:
    """Turn the client's exceptions into a message and an exit code; FlagError becomes a
    usage error, so it looks and exits (2) as typer's own do."""
    try:
        yield
    except FlagError as exc:
        raise typer.BadParameter(exc.message, param_hint=exc.flag) from None
    except JobUnsuccessful:
        raise typer.Exit(FAILED) from None
    except KeyboardInterrupt:
        # click would say "Aborted!" and exit 1, which a script would take for a failure.
        typer.echo("interrupted", err=True)
        raise typer.Exit(INTERRUPTED) from None
    except (ClientError, NoToken, OSError) as exc:
        if as_json:
            write_json(error_document(exc))
        for line in error_lines(exc, request_from_flags):
            typer.echo(line, err=True)
        raise typer.Exit(exit_code_for(exc)) from None
