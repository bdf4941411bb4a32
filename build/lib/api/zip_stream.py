"""A ZIP of an export's files, produced block by block for a one-click download.

Entries are stored (the files are compressed already, or are formats that compress inside)
with ZIP64 sizes, so memory stays at one block whatever the export's size.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any

BLOCK = 1 << 20
# A fixed entry time keeps the archive the same for the same files.
ENTRY_TIME = (1980, 1, 1, 0, 0, 0)


class _Sink:
    """A write-only, unseekable target: zipfile then writes data descriptors after entries."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._position = 0

    def write(self, data: bytes) -> int:
        self._pending += data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self._pending)
        self._pending.clear()
        return data


Opener = Callable[[], IO[bytes]]


def zip_stream(entries: list[tuple[str, Opener]]) -> Iterator[bytes]:
    """The ZIP of (name, opener) entries; each source is opened only when its turn comes."""
    sink = _Sink()
    # The stubs want a seekable file; zipfile itself takes any object with write and tell.
    archive_target: Any = sink
    with zipfile.ZipFile(archive_target, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for name, opener in entries:
            info = zipfile.ZipInfo(name, date_time=ENTRY_TIME)
            with archive.open(info, "w", force_zip64=True) as entry, opener() as source:
                while block := source.read(BLOCK):
                    entry.write(block)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
