"""Download an export's files into a folder, each checked against the manifest's SHA-256,
going on from any .part file an interrupted run left."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from export_client.api_client import ClientError, ExportApi


def to_camel(name: str) -> str:
    head, *tail = name.split("_")
    return head + "".join(part.title() for part in tail)


class UnknownFile(ClientError):
    """A --file that the export does not have."""


@dataclass(frozen=True)
class FileDownload:
    name: str
    path: str
    size: int
    bytes_fetched: int
    resumed: bool
    skipped: bool
    sha256: str
    verified: bool

    def as_json(self) -> dict[str, Any]:
        # camelCase, as the API's own JSON.
        return {to_camel(key): value for key, value in asdict(self).items()}


def choose(manifest_files: Sequence[dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """The manifest's entries for the named files (all when none are named)."""
    if not names:
        return list(manifest_files)
    by_name = {str(f.get("name")): f for f in manifest_files}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UnknownFile(
            f"the export has no file {', '.join(map(repr, unknown))}; it has {', '.join(by_name)}"
        )
    return [by_name[n] for n in names]


def safe_name(name: str) -> str:
    # The name becomes a path here: it must not climb out of the chosen folder.
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
        raise ClientError(f"the manifest names a file {name!r} that is not a plain file name")
    return name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def download_all(
    api: ExportApi,
    job_id: str,
    files: Sequence[dict[str, Any]],
    out_dir: Path,
    console: Console | None,
    chunk_size: int,
    max_bytes_per_second: float | None = None,
) -> list[FileDownload]:
    """Fetch each file (a finished one whose checksum matches is left alone), with a byte
    progress bar on `console` when given."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    progress = _progress(console) if console is not None else None
    if progress is not None:
        progress.start()
    try:
        for entry in files:
            name = safe_name(str(entry.get("name")))
            expected = str(entry.get("sha256") or "").lower() or None
            dest = out_dir / name
            if expected and dest.exists() and sha256_of(dest) == expected:
                results.append(
                    FileDownload(
                        name, str(dest), dest.stat().st_size, 0, False, True, expected, True
                    )
                )
                continue
            task: TaskID | None = None
            if progress is not None:
                task = progress.add_task(name, total=entry.get("bytes"))

            def advance(done: int, total: int | None, task: TaskID | None = task) -> None:
                # rich keeps the listed size when the server sent none (total=None).
                if progress is not None and task is not None:
                    progress.update(task, completed=done, total=total)

            result = api.download_file(
                job_id,
                name,
                dest,
                expected_sha256=expected,
                chunk_size=chunk_size,
                on_progress=advance,
                max_bytes_per_second=max_bytes_per_second,
            )
            if progress is not None and task is not None:
                progress.update(task, completed=result.size, total=result.size)
            results.append(
                FileDownload(
                    name,
                    str(dest),
                    result.size,
                    result.bytes_fetched,
                    result.resumed,
                    False,
                    result.sha256,
                    expected is not None,
                )
            )
    finally:
        if progress is not None:
            progress.stop()
    return results


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}", style="bold"),
        BarColumn(bar_width=34),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
