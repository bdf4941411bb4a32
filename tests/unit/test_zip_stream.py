"""The streamed ZIP is a valid archive holding every file byte for byte."""

from __future__ import annotations

import io
import zipfile
from functools import partial
from pathlib import Path

from api.zip_stream import Opener, zip_stream


def test_the_archive_holds_every_file(tmp_path: Path) -> None:
    files = []
    for i, size in enumerate((0, 10, 3 * (1 << 20) + 7)):
        path = tmp_path / f"part-{i:05d}.csv"
        path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        files.append(path)
    data = b"".join(zip_stream(_entries(files)))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [p.name for p in files]
        for path in files:
            assert archive.read(path.name) == path.read_bytes()


def test_the_archive_is_the_same_for_the_same_files(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert b"".join(zip_stream(_entries([path]))) == b"".join(zip_stream(_entries([path])))


def _entries(paths: list[Path]) -> list[tuple[str, Opener]]:
    return [(path.name, partial(path.open, "rb")) for path in paths]
