"""Resuming downloads: Range from the .part file's size, 206 appended, 200 started over, the
whole file's SHA-256 checked before it takes its name."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from cli.downloads import choose, safe_name
from export_client.api_client import (
    ApiError,
    ChecksumMismatch,
    ClientError,
    DownloadResult,
    ExportApi,
)

BODY = bytes(range(256)) * 40  # 10,240 bytes
SHA = hashlib.sha256(BODY).hexdigest()


class FileServer:
    """Serves BODY as the API does (Range → 206), or ignoring Range, and records requests."""

    def __init__(self, honour_range: bool = True, body: bytes = BODY) -> None:
        self.honour_range = honour_range
        self.body = body
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.url.path == "/v1/exports/j1/download"
        assert request.url.params["file"] == "part-00001.csv"
        header = request.headers.get("range")
        sha = {"X-Content-SHA256": hashlib.sha256(self.body).hexdigest()}
        if header and self.honour_range:
            start = int(header.removeprefix("bytes=").removesuffix("-"))
            if start >= len(self.body):
                return httpx.Response(416, headers={"Content-Range": f"bytes */{len(self.body)}"})
            end = len(self.body) - 1
            return httpx.Response(
                206,
                content=self.body[start:],
                headers={**sha, "Content-Range": f"bytes {start}-{end}/{len(self.body)}"},
            )
        return httpx.Response(200, content=self.body, headers=sha)

    def api(self) -> ExportApi:
        return ExportApi("http://api", "t", transport=httpx.MockTransport(self))


def download(
    server: FileServer, dest: Path, sha: str | None = SHA, chunk: int = 1000
) -> DownloadResult:
    return server.api().download_file("j1", "part-00001.csv", dest, sha, chunk_size=chunk)


def test_a_fresh_download_sends_no_range_and_renames_the_part(tmp_path: Path) -> None:
    server = FileServer()
    result = download(server, tmp_path / "part-00001.csv")
    assert "range" not in server.requests[0].headers
    assert (result.bytes_fetched, result.resumed, result.sha256) == (len(BODY), False, SHA)
    assert (tmp_path / "part-00001.csv").read_bytes() == BODY
    assert not (tmp_path / "part-00001.csv.part").exists()


def test_a_part_file_is_resumed_with_range_and_the_rest_appended(tmp_path: Path) -> None:
    (tmp_path / "part-00001.csv.part").write_bytes(BODY[:4000])
    server = FileServer()
    result = download(server, tmp_path / "part-00001.csv")
    assert server.requests[0].headers["range"] == "bytes=4000-"
    assert (result.bytes_fetched, result.resumed, result.size) == (len(BODY) - 4000, True, 10240)
    assert (tmp_path / "part-00001.csv").read_bytes() == BODY


def test_a_server_that_ignores_range_starts_the_file_over(tmp_path: Path) -> None:
    (tmp_path / "part-00001.csv.part").write_bytes(b"x" * 4000)
    server = FileServer(honour_range=False)
    result = download(server, tmp_path / "part-00001.csv")
    assert server.requests[0].headers["range"] == "bytes=4000-"
    assert (result.bytes_fetched, result.resumed) == (len(BODY), False)
    assert (tmp_path / "part-00001.csv").read_bytes() == BODY


def test_a_checksum_mismatch_raises_and_keeps_nothing(tmp_path: Path) -> None:
    with pytest.raises(ChecksumMismatch) as caught:
        download(FileServer(), tmp_path / "part-00001.csv", sha="0" * 64)
    assert (caught.value.expected, caught.value.actual) == ("0" * 64, SHA)
    assert list(tmp_path.iterdir()) == []


def test_a_file_already_there_is_left_alone_when_the_mismatch_raises(tmp_path: Path) -> None:
    dest = tmp_path / "part-00001.csv"
    dest.write_bytes(b"the user's older copy")
    with pytest.raises(ChecksumMismatch):
        download(FileServer(), dest, sha="0" * 64)
    assert dest.read_bytes() == b"the user's older copy"


def test_without_a_manifest_checksum_the_servers_header_is_checked(tmp_path: Path) -> None:
    server = FileServer()
    assert download(server, tmp_path / "f", sha=None).sha256 == SHA

    def lying(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=BODY, headers={"X-Content-SHA256": "ab" * 32})

    api = ExportApi("http://api", "t", transport=httpx.MockTransport(lying))
    with pytest.raises(ChecksumMismatch):
        api.download_file("j1", "part-00001.csv", tmp_path / "g")


def test_a_stale_part_that_does_not_add_up_is_fetched_again_whole(tmp_path: Path) -> None:
    (tmp_path / "part-00001.csv.part").write_bytes(b"y" * 4000)
    server = FileServer()
    result = download(server, tmp_path / "part-00001.csv")
    assert [r.headers.get("range") for r in server.requests] == ["bytes=4000-", None]
    assert (result.resumed, result.bytes_fetched) == (False, len(BODY) - 4000 + len(BODY))
    assert (tmp_path / "part-00001.csv").read_bytes() == BODY


def test_a_complete_part_is_checked_and_renamed_without_fetching(tmp_path: Path) -> None:
    (tmp_path / "part-00001.csv.part").write_bytes(BODY)
    result = download(FileServer(), tmp_path / "part-00001.csv")
    assert (result.bytes_fetched, result.resumed) == (0, True)
    assert (tmp_path / "part-00001.csv").read_bytes() == BODY


def test_a_part_longer_than_the_file_is_dropped(tmp_path: Path) -> None:
    (tmp_path / "part-00001.csv.part").write_bytes(BODY + b"extra")
    result = download(FileServer(), tmp_path / "part-00001.csv", sha=None)
    assert (result.bytes_fetched, result.resumed) == (len(BODY), False)
    assert (tmp_path / "part-00001.csv").read_bytes() == BODY


def test_redirects_are_followed_with_the_range_and_without_the_token(tmp_path: Path) -> None:
    (tmp_path / "part-00001.csv.part").write_bytes(BODY[:100])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api":
            return httpx.Response(307, headers={"Location": "http://s3.example/bucket/obj?sig=1"})
        start = int(request.headers["range"].removeprefix("bytes=").removesuffix("-"))
        return httpx.Response(
            206,
            content=BODY[start:],
            headers={"Content-Range": f"bytes {start}-{len(BODY) - 1}/{len(BODY)}"},
        )

    api = ExportApi("http://api", "t", transport=httpx.MockTransport(handler))
    result = api.download_file("j1", "part-00001.csv", tmp_path / "part-00001.csv", SHA)
    assert result.resumed and result.bytes_fetched == len(BODY) - 100
    assert seen[1].headers["range"] == "bytes=100-"
    assert "authorization" not in seen[1].headers


def test_an_error_answer_is_an_api_error_and_keeps_the_part(tmp_path: Path) -> None:
    (tmp_path / "f.part").write_bytes(b"abc")

    def gone(request: httpx.Request) -> httpx.Response:
        return httpx.Response(410, json={"error": "EXPIRED", "message": "Export expired"})

    api = ExportApi("http://api", "t", transport=httpx.MockTransport(gone))
    with pytest.raises(ApiError) as caught:
        api.download_file("j1", "part-00001.csv", tmp_path / "f", SHA)
    assert (caught.value.status, caught.value.code) == (410, "EXPIRED")
    assert (tmp_path / "f.part").read_bytes() == b"abc"


def test_progress_is_reported_from_the_resumed_offset(tmp_path: Path) -> None:
    (tmp_path / "f.part").write_bytes(BODY[:4000])
    seen: list[tuple[int, int | None]] = []
    FileServer().api().download_file(
        "j1",
        "part-00001.csv",
        tmp_path / "f",
        SHA,
        chunk_size=5000,
        on_progress=lambda *a: seen.append(a),
    )
    assert seen[0][0] > 4000 and seen[-1] == (len(BODY), len(BODY))


def test_file_names_from_a_manifest_must_be_plain() -> None:
    assert safe_name("part-00001.csv") == "part-00001.csv"
    for bad in ("../etc/passwd", "a/b", "..", "", "a\\b"):
        with pytest.raises(ClientError):
            safe_name(bad)


def test_choose_files_by_name() -> None:
    files = [{"name": "a"}, {"name": "b"}]
    assert choose(files, []) == files
    assert choose(files, ["b"]) == [{"name": "b"}]
    with pytest.raises(ClientError, match="no file 'c'"):
        choose(files, ["c"])
