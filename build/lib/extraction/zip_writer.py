"""A ZIP file written entry by entry from data deflated ahead, for the xlsx writer.

zipfile compresses what it is given itself; the xlsx writer instead deflates each sheet as
its rows come and learns the sheet's first bytes (its dimension) only at the end, so it hands
this writer finished raw-deflate streams with their CRC-32 and sizes. ZIP64 fields are
written only where a size or an offset needs them, as zipfile does.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from dataclasses import dataclass
from typing import IO

# Sizes and offsets from here on go to ZIP64 fields; the 32-bit field then says _FULL.
ZIP64_LIMIT = 0xFFFFFFFF
_FULL = 0xFFFFFFFF
_ENTRIES_LIMIT = 0xFFFF
_DEFLATED = 8
# A fixed entry time (1980-01-01 00:00): the same rows give the same bytes.
_DOS_TIME, _DOS_DATE = 0, (1 << 5) | 1


@dataclass(frozen=True)
class _Entry:
    name: bytes
    crc: int
    size: int
    compressed_size: int
    offset: int


class ZipWriter:
    """Writes entries to `out` in turn, then the central directory on `close`."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._entries: list[_Entry] = []
        self._offset = 0

    def add(self, name: str, data: bytes, level: int) -> None:
        """A small entry, deflated here at once."""
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        deflated = compressor.compress(data) + compressor.flush()
        self.add_deflated(name, zlib.crc32(data), len(data), [deflated], None)

    def add_deflated(
        self,
        name: str,
        crc: int,
        size: int,
        parts: list[bytes],
        rest: IO[bytes] | None,
    ) -> None:
        """An entry whose raw-deflate stream is `parts` followed by the whole of `rest` (a file
        read from its start), of `size` bytes once inflated, with that data's CRC-32."""
        compressed = sum(len(p) for p in parts)
        if rest is not None:
            compressed += rest.seek(0, 2)
            rest.seek(0)
        encoded = name.encode()
        zip64 = size >= ZIP64_LIMIT or compressed >= ZIP64_LIMIT
        extra = struct.pack("<HHQQ", 1, 16, size, compressed) if zip64 else b""
        header = struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            45 if zip64 else 20,
            0,
            _DEFLATED,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            _FULL if zip64 else compressed,
            _FULL if zip64 else size,
            len(encoded),
            len(extra),
        )
        self._entries.append(_Entry(encoded, crc, size, compressed, self._offset))
        self._write(header + encoded + extra)
        for part in parts:
            self._write(part)
        if rest is not None:
            shutil.copyfileobj(rest, self._out, 1 << 20)
            self._offset += compressed - sum(len(p) for p in parts)

    def close(self) -> None:
        """The central directory and its end records; `out` stays open."""
        start = self._offset
        for entry in self._entries:
            self._write(_central_header(entry))
        size = self._offset - start
        count = len(self._entries)
        if start >= ZIP64_LIMIT or size >= ZIP64_LIMIT or count >= _ENTRIES_LIMIT:
            end64 = self._offset
            self._write(
                struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, size, start)
            )
            self._write(struct.pack("<IIQI", 0x07064B50, 0, end64, 1))
        self._write(
            struct.pack(
                "<IHHHHIIH",
                0x06054B50,
                0,
                0,
                min(count, _ENTRIES_LIMIT),
                min(count, _ENTRIES_LIMIT),
                _wide(size),
                _wide(start),
                0,
            )
        )

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._offset += len(data)


def _central_header(entry: _Entry) -> bytes:
    # ZIP64 extra fields hold only the values that overflow, in this order.
    wide = [
        value for value in (entry.size, entry.compressed_size, entry.offset) if value >= ZIP64_LIMIT
    ]
    extra = struct.pack(f"<HH{len(wide)}Q", 1, 8 * len(wide), *wide) if wide else b""
    return (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            45 if wide else 20,
            45 if wide else 20,
            0,
            _DEFLATED,
            _DOS_TIME,
            _DOS_DATE,
            entry.crc,
            _wide(entry.compressed_size),
            _wide(entry.size),
            len(entry.name),
            len(extra),
            0,
            0,
            0,
            0,
            _wide(entry.offset),
        )
        + entry.name
        + extra
    )


def _wide(value: int) -> int:
    """A size or offset as its 32-bit field holds it."""
    return _FULL if value >= ZIP64_LIMIT else value


def stored_block(data: bytes) -> bytes:
    """`data` as uncompressed (stored) deflate blocks, none final: a raw-deflate stream from a
    fresh compressor may follow them directly."""
    out = bytearray()
    for start in range(0, len(data), 0xFFFF):
        piece = data[start : start + 0xFFFF]
        out += struct.pack("<BHH", 0, len(piece), len(piece) ^ 0xFFFF) + piece
    return bytes(out)


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A+B from crc32(A), crc32(B) and len(B), as zlib's crc32_combine does
    (Python's zlib does not offer it): B's length in zero bits is applied to crc32(A) by
    repeated squaring of the CRC's shift operator over GF(2)."""
    if length2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    even = _square(odd)  # two zero bits
    odd = _square(even)  # four zero bits
    while True:
        even = _square(odd)
        if length2 & 1:
            crc1 = _times(even, crc1)
        length2 >>= 1
        if not length2:
            break
        odd = _square(even)
        if length2 & 1:
            crc1 = _times(odd, crc1)
        length2 >>= 1
        if not length2:
            break
    return crc1 ^ crc2


def _times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _square(matrix: list[int]) -> list[int]:
    return [_times(matrix, matrix[n]) for n in range(32)]
