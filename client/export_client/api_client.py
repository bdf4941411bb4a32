"""The export service's HTTP API from Python: submit, watch, list and download exports.

api = ExportApi("http://127.0.0.1:8080", token)
job = api.submit({"name": ..., "queryDefinition": ..., "format": "CSV"})
for event, view in api.progress(job["id"]):
    print(event, view["progressPercent"])
for file in api.manifest(job["id"])["files"]:
    api.download_file(job["id"], file["name"], file["name"], expected_sha256=file["sha256"])
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from export_client.sse import parse_sse

Json = dict[str, Any]
FieldProblems = list[dict[str, str]]
# Called with the bytes the file holds so far and its full size when the server said it.
ProgressCallback = Callable[[int, int | None], None]

DEFAULT_CHUNK_SIZE = 1024 * 1024
# The progress stream sends a keep-alive comment every 15 s; silence for much longer than
# that means the connection is gone.
STREAM_READ_TIMEOUT = 60.0
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class ClientError(Exception):
    """Anything the client could not do; the subclasses say why."""


class ApiError(ClientError):
    """The API answered with an error: its HTTP status, code, sentence and field details."""

    def __init__(
        self, status: int, code: str, message: str, details: FieldProblems | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


class ApiUnreachable(ClientError):
    """No answer from the API: refused connection, timeout, a stream cut short."""


class ChecksumMismatch(ClientError):
    """A downloaded file's SHA-256 differs from the manifest's; nothing was kept."""

    def __init__(self, name: str, expected: str, actual: str) -> None:
        super().__init__(f"{name}: SHA-256 is {actual}, the manifest says {expected}")
        self.name = name
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class DownloadResult:
    bytes_fetched: int
    resumed: bool
    sha256: str
    size: int


class ExportApi:
    """A synchronous client of /v1; every method raises ApiError or ApiUnreachable."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> ExportApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # Session and identity.

    def session(self) -> Json:
        return self._json("GET", "/v1/session")

    def dev_login(self, tenant_id: str | None = None, user_id: str | None = None) -> Json:
        body = {k: v for k, v in {"tenantId": tenant_id, "userId": user_id}.items() if v}
        return self._json("POST", "/v1/session/dev-login", json=body)

    def me(self) -> Json:
        return self._json("GET", "/v1/me")

    def catalogue(self) -> Json:
        return self._json("GET", "/v1/catalogue")

    # Exports.

    def submit(self, request: Mapping[str, Any], idempotency_key: str | None = None) -> Json:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._json("POST", "/v1/exports", json=dict(request), headers=headers)

    def estimate(self, request: Mapping[str, Any]) -> Json:
        return self._json("POST", "/v1/exports/estimate", json=dict(request))

    def list(self, status: str | None = None, limit: int = 20, offset: int = 0) -> Json:
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status
        return self._json("GET", "/v1/exports", params=params)

    def get(self, job_id: str) -> Json:
        return self._json("GET", f"/v1/exports/{job_id}")

    def events(self, job_id: str) -> Json:
        return self._json("GET", f"/v1/exports/{job_id}/events")

    def cancel(self, job_id: str) -> Json:
        return self._json("DELETE", f"/v1/exports/{job_id}")

    def quota(self) -> Json:
        return self._json("GET", "/v1/exports/quota")

    def files(self, job_id: str) -> Json:
        return self._json("GET", f"/v1/exports/{job_id}/files")

    def manifest(self, job_id: str) -> Json:
        return self._json("GET", f"/v1/exports/{job_id}/manifest", follow_redirects=True)

    # Schedules.

    def create_schedule(self, schedule: Mapping[str, Any]) -> Json:
        return self._json("POST", "/v1/schedules", json=dict(schedule))

    def schedules(self) -> Json:
        return self._json("GET", "/v1/schedules")

    def schedule(self, schedule_id: str) -> Json:
        return self._json("GET", f"/v1/schedules/{schedule_id}")

    def update_schedule(self, schedule_id: str, changes: Mapping[str, Any]) -> Json:
        return self._json("PATCH", f"/v1/schedules/{schedule_id}", json=dict(changes))

    def pause_schedule(self, schedule_id: str) -> Json:
        return self._json("POST", f"/v1/schedules/{schedule_id}/pause")

    def resume_schedule(self, schedule_id: str) -> Json:
        return self._json("POST", f"/v1/schedules/{schedule_id}/resume")

    def delete_schedule(self, schedule_id: str) -> Json:
        return self._json("DELETE", f"/v1/schedules/{schedule_id}")

    def schedule_runs(self, schedule_id: str, limit: int = 50) -> Json:
        return self._json("GET", f"/v1/schedules/{schedule_id}/runs", params={"limit": limit})

    def progress(self, job_id: str) -> Iterator[tuple[str, Json]]:
        """The job's server-sent events as (event name, job JSON), the first being the job as
        it is now; ends after `done`. A stream that ends before `done` raises ApiUnreachable,
        so a caller can open it again (it starts over from the current state)."""
        timeout = httpx.Timeout(self._timeout, read=STREAM_READ_TIMEOUT)
        path = f"/v1/exports/{job_id}/progress"
        try:
            with self._http.stream(
                "GET", path, headers={"Accept": "text/event-stream"}, timeout=timeout
            ) as response:
                if response.is_error:
                    response.read()
                    raise _api_error(response)
                for message in parse_sse(response.iter_lines()):
                    data = json.loads(message.data) if message.data else {}
                    yield message.event, data
                    if message.event == "done":
                        return
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"the progress stream of {job_id} broke off: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ApiUnreachable(f"the progress stream sent data that is not JSON: {exc}") from exc
        raise ApiUnreachable(f"the progress stream of {job_id} ended before the export did")

    def download_file(
        self,
        job_id: str,
        name: str,
        dest_path: str | os.PathLike[str],
        expected_sha256: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        on_progress: ProgressCallback | None = None,
        max_bytes_per_second: float | None = None,
    ) -> DownloadResult:
        """Fetch one file into dest_path by way of dest_path + ".part", going on from where an
        interrupted run left the .part file (HTTP Range). The whole file's SHA-256 must match
        expected_sha256 (else the server's X-Content-SHA256) before it takes its final name;
        on a mismatch the .part file is deleted and ChecksumMismatch raised."""
        dest = Path(dest_path)
        part = dest.with_name(dest.name + ".part")
        fetched = 0
        while True:
            outcome = self._fetch_into(
                job_id, name, part, chunk_size, on_progress, max_bytes_per_second
            )
            fetched += outcome.fetched
            expected = (expected_sha256 or outcome.header_sha256 or "").strip().lower()
            if expected and outcome.sha256 != expected:
                part.unlink(missing_ok=True)
                if outcome.resumed:
                    # The kept part may come from another copy of the file: fetch it whole once.
                    continue
                raise ChecksumMismatch(name, expected, outcome.sha256)
            os.replace(part, dest)
            return DownloadResult(fetched, outcome.resumed, outcome.sha256, outcome.size)

    def _fetch_into(
        self,
        job_id: str,
        name: str,
        part: Path,
        chunk_size: int,
        on_progress: ProgressCallback | None,
        max_bytes_per_second: float | None,
    ) -> _Fetched:
        offset = part.stat().st_size if part.exists() else 0
        hasher = hashlib.sha256()
        if offset:
            _hash_file(part, hasher)
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        timeout = httpx.Timeout(self._timeout, read=STREAM_READ_TIMEOUT)
        path = f"/v1/exports/{job_id}/download"
        try:
            with self._http.stream(
                "GET",
                path,
                params={"file": name},
                headers=headers,
                timeout=timeout,
                follow_redirects=True,
            ) as response:
                header_sha = response.headers.get("X-Content-SHA256")
                if response.status_code == 416 and offset:
                    size = _unsatisfied_size(response)
                    if size is None or size == offset:
                        # The part already holds the whole file: the checksum decides.
                        return _Fetched(0, True, hasher.hexdigest(), offset, header_sha)
                    # Longer than the file: not a part of it.
                    part.unlink()
                    return self._fetch_into(
                        job_id, name, part, chunk_size, on_progress, max_bytes_per_second
                    )
                if response.is_error:
                    response.read()
                    raise _api_error(response)
                if response.status_code == 206:
                    start, total = _content_range(response)
                    if start != offset:
                        raise ApiUnreachable(
                            f"asked for {name} from byte {offset}, got it from byte {start}"
                        )
                    mode, resumed = "ab", True
                elif response.status_code == 200:
                    # The server ignored the Range: what it sends is the whole file.
                    hasher, offset, mode, resumed = hashlib.sha256(), 0, "wb", False
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                else:
                    raise ApiError(
                        response.status_code,
                        f"HTTP_{response.status_code}",
                        f"unexpected answer to a download of {name}",
                    )
                sink = _Sink(part, mode, hasher, offset, total, on_progress)
                fetched = sink.copy(response.iter_bytes(chunk_size), max_bytes_per_second)
                return _Fetched(fetched, resumed, hasher.hexdigest(), offset + fetched, header_sha)
        except httpx.TransportError as exc:
            raise ApiUnreachable(
                f"the download of {name} broke off ({exc}); run it again to resume"
            ) from exc

    def _json(
        self,
        method: str,
        path: str,
        *,
        json: Json | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
    ) -> Json:
        try:
            response = self._http.request(
                method,
                path,
                json=json,
                params=params,
                headers=headers,
                follow_redirects=follow_redirects,
            )
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"cannot reach the export API at {self.base_url}: {exc}") from exc
        if response.is_error:
            raise _api_error(response)
        try:
            body = response.json()
        except ValueError:
            raise ApiError(
                response.status_code, "NOT_JSON", f"{method} {path} answered without JSON"
            ) from None
        if not isinstance(body, dict):
            raise ApiError(response.status_code, "NOT_JSON", f"{method} {path}: not an object")
        return body


@dataclass(frozen=True)
class _Fetched:
    fetched: int
    resumed: bool
    sha256: str
    size: int
    header_sha256: str | None


class _Sink:
    """Appends a response's bytes to the .part file, hashing them and reporting progress."""

    def __init__(
        self,
        part: Path,
        mode: str,
        hasher: _Hasher,
        offset: int,
        total: int | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.part, self.mode, self.hasher = part, mode, hasher
        self.offset, self.total, self.on_progress = offset, total, on_progress

    def copy(self, chunks: Iterator[bytes], max_bytes_per_second: float | None) -> int:
        fetched = 0
        started = time.monotonic()
        with self.part.open(self.mode) as out:
            for chunk in chunks:
                out.write(chunk)
                # Handed to the OS at once, so a killed process leaves a .part file holding
                # exactly what was hashed; a resume hashes the file again anyway.
                out.flush()
                self.hasher.update(chunk)
                fetched += len(chunk)
                if self.on_progress is not None:
                    self.on_progress(self.offset + fetched, self.total)
                if max_bytes_per_second:
                    ahead = fetched / max_bytes_per_second - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        return fetched


def _content_range(response: httpx.Response) -> tuple[int, int | None]:
    match = CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None:
        raise ApiUnreachable("a partial download came without a valid Content-Range")
    total = match.group(3)
    return int(match.group(1)), None if total == "*" else int(total)


def _unsatisfied_size(response: httpx.Response) -> int | None:
    """The file's size from a 416's `Content-Range: bytes */N`, when the server sent it."""
    match = re.fullmatch(r"bytes \*/(\d+)", response.headers.get("Content-Range", "").strip())
    return int(match.group(1)) if match else None


def _hash_file(path: Path, hasher: _Hasher) -> None:
    with path.open("rb") as source:
        for block in iter(lambda: source.read(DEFAULT_CHUNK_SIZE), b""):
            hasher.update(block)


def _api_error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        details = body.get("details")
        return ApiError(
            response.status_code,
            body["error"],
            str(body.get("message") or body["error"]),
            [d for d in details if isinstance(d, dict)] if isinstance(details, list) else None,
        )
    if isinstance(body, dict) and "detail" in body:
        # FastAPI's own answers (an unknown route) carry only `detail`.
        return ApiError(response.status_code, f"HTTP_{response.status_code}", str(body["detail"]))
    text = response.text.strip()[:200] or response.reason_phrase
    return ApiError(response.status_code, f"HTTP_{response.status_code}", text)
