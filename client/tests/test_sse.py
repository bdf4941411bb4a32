"""The server-sent events parser, and the client's progress stream over it."""

from __future__ import annotations

import json

import httpx
import pytest

from export_client.api_client import ApiError, ApiUnreachable, ExportApi
from export_client.sse import SseEvent, parse_sse


def events_of(text: str) -> list[SseEvent]:
    return list(parse_sse(text.splitlines(keepends=True)))


def test_an_event_has_its_name_id_and_data() -> None:
    assert events_of('event: job\nid: 7\ndata: {"a": 1}\n\n') == [SseEvent("job", '{"a": 1}', "7")]


def test_data_lines_are_joined_with_newlines() -> None:
    [event] = events_of("data: first\ndata: second\ndata:\ndata: fourth\n\n")
    assert event.data == "first\nsecond\n\nfourth"


def test_comments_are_skipped_and_a_block_of_comments_dispatches_nothing() -> None:
    text = ": keep-alive 2026-12-02T00:00:00\n\nevent: job\n: in the middle\ndata: x\n\n"
    assert events_of(text) == [SseEvent("job", "x")]


def test_the_event_name_defaults_to_message_and_resets_after_each_event() -> None:
    names = [e.event for e in events_of("event: job\ndata: 1\n\ndata: 2\n\n")]
    assert names == ["job", "message"]


def test_the_last_id_carries_over_to_later_events() -> None:
    ids = [e.id for e in events_of("id: 1\ndata: a\n\ndata: b\n\nid: 3\ndata: c\n\n")]
    assert ids == ["1", "1", "3"]


def test_one_leading_space_is_stripped_and_no_space_is_needed() -> None:
    [a, b] = events_of("data:tight\n\ndata:  two spaces\n\n")
    assert (a.data, b.data) == ("tight", " two spaces")


def test_crlf_line_ends_and_retry() -> None:
    [event] = events_of("retry: 3000\r\nevent: done\r\ndata: {}\r\n\r\n")
    assert (event.event, event.data, event.retry) == ("done", "{}", 3000)


def test_an_unterminated_block_at_the_end_is_dropped() -> None:
    assert events_of("event: job\ndata: complete\n\nevent: job\ndata: cut off") == [
        SseEvent("job", "complete")
    ]


def stream_api(body: str, status: int = 200) -> ExportApi:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/exports/j1/progress"
        assert request.headers["accept"] == "text/event-stream"
        if status != 200:
            return httpx.Response(status, json={"error": "NOT_FOUND", "message": "not found"})
        return httpx.Response(200, text=body, headers={"Content-Type": "text/event-stream"})

    return ExportApi("http://api", "t", transport=httpx.MockTransport(handler))


def job_event(name: str, sequence: int, **fields: object) -> str:
    return f"event: {name}\nid: {sequence}\ndata: {json.dumps(fields)}\n\n"


def test_the_progress_stream_yields_job_events_and_ends_after_done() -> None:
    body = (
        job_event("job", 3, status="PROCESSING", processedRows=10)
        + ": keep-alive\n\n"
        + job_event("done", 9, status="COMPLETED", processedRows=20)
        + job_event("job", 10, status="AFTER")
    )
    assert list(stream_api(body).progress("j1")) == [
        ("job", {"status": "PROCESSING", "processedRows": 10}),
        ("done", {"status": "COMPLETED", "processedRows": 20}),
    ]


def test_a_stream_that_ends_before_done_raises_so_the_caller_can_reconnect() -> None:
    stream = stream_api(job_event("job", 1, status="PROCESSING")).progress("j1")
    assert next(stream)[0] == "job"
    with pytest.raises(ApiUnreachable, match="ended before"):
        next(stream)


def test_an_unknown_job_is_an_api_error() -> None:
    with pytest.raises(ApiError) as caught:
        list(stream_api("", status=404).progress("j1"))
    assert (caught.value.status, caught.value.code) == (404, "NOT_FOUND")
