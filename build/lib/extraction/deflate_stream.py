"""A raw-deflate stream into a temporary file, deflated on a thread of its own.

zlib lets go of the GIL while it deflates, so the next batch of rows is fetched and made into
XML on the other core meanwhile: deflating is the largest part of writing an xlsx file.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import zlib
from pathlib import Path
from typing import IO

Buffer = bytes | bytearray | memoryview
# Batches waiting to be deflated (each a few MB of XML): enough to keep the thread busy.
_WAITING = 2


class DeflateStream:
    """Data written in order, deflated into `file` together with its CRC-32 and size."""

    def __init__(self, folder: Path, level: int) -> None:
        # Closed by close(), whatever happens to the stream.
        self.file: IO[bytes] = tempfile.TemporaryFile(dir=folder, suffix=".deflate")  # noqa: SIM115
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        self._crc = 0
        self._size = 0
        self._error: BaseException | None = None
        self._queue: queue.Queue[Buffer | None] = queue.Queue(_WAITING)
        self._thread = threading.Thread(target=self._run, name="xlsx-deflate", daemon=True)
        self._thread.start()

    def write(self, data: Buffer) -> None:
        self._raise_error()
        self._queue.put(data)

    def finish(self, last: bytes) -> tuple[int, int]:
        """Deflate `last`, end the stream and return the CRC-32 and size of all its data."""
        self._stop()
        self._raise_error()
        self._deflate(last)
        self.file.write(self._compressor.flush())
        return self._crc, self._size

    def close(self) -> None:
        self._stop()
        self.file.close()

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._deflate(data)
                except BaseException as error:  # raised in the writer's thread
                    self._error = error

    def _deflate(self, data: Buffer) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += memoryview(data).nbytes
        self.file.write(self._compressor.compress(data))

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error
