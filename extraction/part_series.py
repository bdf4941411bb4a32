"""The files one chunk's rows go into, shared by every format.

Part 1, 2, ... are each written as a `.partial` beside their final name and published (synced
and renamed) when finished. A chunk is reported whole or not at all: abandoning it removes
its finished parts and its partial. Formats say only how a part's writer opens and closes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from extraction.store import partial_path, publish, remove_chunk_files, rename


@dataclass(frozen=True)
class ExtractedFile:
    path: Path
    rows: int
    bytes: int
    sha256: str
    notes: tuple[str, ...] = ()


class PartSeries:
    def __init__(self, name_for: Callable[[int], Path]) -> None:
        self.name_for = name_for
        self.done: list[ExtractedFile] = []
        self.open_part(1)

    def open_part(self, part: int) -> None:
        self.part = part
        self.target = self.name_for(part)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.partial = partial_path(self.target)
        self.rows = 0
        self._open_writer()

    def finish(self, notes: tuple[str, ...] = ()) -> None:
        """Close the current part and publish it under its final name."""
        size, digest = self._close_writer()
        publish(self.partial, self.target)
        self.done.append(ExtractedFile(self.target, self.rows, size, digest, notes))

    def adopt(self, files: list[ExtractedFile]) -> None:
        """Files another stream finished and published under names of its own, as this
        series' next parts in order (after `finish`). Empty ones are dropped."""
        for file in files:
            if not file.rows:
                file.path.unlink(missing_ok=True)
                continue
            self.part += 1
            target = self.name_for(self.part)
            rename(file.path, target)
            self.done.append(replace(file, path=target))

    def next(self) -> None:
        self.finish()
        self.open_part(self.part + 1)

    def stored_bytes(self) -> int:
        """What this chunk has stored so far (compressed, where it is)."""
        return sum(f.bytes for f in self.done) + self.partial.stat().st_size

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self._drop_writer()
        remove_chunk_files([f.path for f in self.done], self.partial)

    def _open_writer(self) -> None:
        """Open the format's writer on `self.partial`."""
        raise NotImplementedError

    def _close_writer(self) -> tuple[int, str]:
        """Close the format's writer; the part's size in bytes and its SHA-256."""
        raise NotImplementedError

    def _drop_writer(self) -> None:
        """Stop the format's writer for good (its partial is removed next)."""
        self._close_writer()
