"""Server-sent events parsed from a stream's lines, as the WHATWG event-stream format says."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: str
    id: str | None = None
    retry: int | None = None


def parse_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """One event per blank-line-terminated block; `:` comments are skipped, `data` lines are
    joined with newlines, and an unterminated block at the end of the stream is dropped."""
    event = ""
    data: list[str] = []
    last_id: str | None = None
    retry: int | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            # A block with no data (only comments, or only an id) dispatches nothing.
            if data:
                yield SseEvent(event or "message", "\n".join(data), last_id, retry)
            event, data, retry = "", [], None
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            # The last event id carries over to later events until a new one is sent.
            if "\0" not in value:
                last_id = value
        elif name == "retry" and value.isdigit():
            retry = int(value)
