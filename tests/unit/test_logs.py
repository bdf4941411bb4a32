"""Log lines are JSON objects that carry the context they were logged in, and only that."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from observability.logs import (
    RepeatFilter,
    configure_logging,
    current_context,
    log_context,
    logging_config,
)

Lines = Callable[[], list[dict[str, Any]]]
log = logging.getLogger("export.test")


@pytest.fixture
def configured() -> Iterator[Callable[[str], io.StringIO]]:
    """Configure logging as a process would, writing to a buffer; put the root back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def configure(fmt: str) -> io.StringIO:
        configure_logging(fmt, "info")
        buffer = io.StringIO()
        (handler,) = root.handlers
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(buffer)
        return buffer

    yield configure
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
def lines(configured: Callable[[str], io.StringIO]) -> Lines:
    buffer = configured("json")
    # Every line must parse on its own: json.loads fails the test otherwise.
    return lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_each_line_is_one_json_object_with_the_base_fields(lines: Lines) -> None:
    log.info("first %s", "line")
    log.warning("second\nline with a break")
    first, second = lines()
    assert first["level"] == "INFO" and first["logger"] == "export.test"
    assert first["message"] == "first line"
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert second["message"] == "second\nline with a break"
    assert list(first) == ["time", "level", "logger", "message"]


def test_context_fields_appear_inside_the_block_and_are_gone_after(lines: Lines) -> None:
    with log_context(job_id="j-1", tenant_id="t-1", chunk=2, event_type=None):
        log.info("inside")
    log.info("after")
    inside, after = lines()
    assert inside["job_id"] == "j-1" and inside["tenant_id"] == "t-1" and inside["chunk"] == 2
    assert "event_type" not in inside
    assert not {"job_id", "tenant_id", "chunk"} & set(after)
    assert current_context() == {}


def test_nested_contexts_add_fields_and_restore_the_outer_ones(lines: Lines) -> None:
    with log_context(job_id="j-1", chunk=1):
        with log_context(chunk=2, event_type="ChunkDone"):
            log.info("inner")
        log.info("outer")
    inner, outer = lines()
    assert (inner["job_id"], inner["chunk"], inner["event_type"]) == ("j-1", 2, "ChunkDone")
    assert (outer["job_id"], outer["chunk"]) == ("j-1", 1)
    assert "event_type" not in outer


def test_context_is_restored_when_the_block_raises(lines: Lines) -> None:
    with pytest.raises(RuntimeError), log_context(job_id="j-1"):
        raise RuntimeError("boom")
    assert current_context() == {}


def test_an_exception_is_serialised_as_a_string(lines: Lines) -> None:
    try:
        raise ValueError("bad chunk")
    except ValueError:
        with log_context(job_id="j-1"):
            log.exception("chunk failed")
    (line,) = lines()
    assert isinstance(line["exc_info"], str)
    assert "ValueError: bad chunk" in line["exc_info"] and "Traceback" in line["exc_info"]
    assert line["job_id"] == "j-1" and line["level"] == "ERROR"


async def test_asyncio_tasks_inherit_the_context_they_were_started_in(lines: Lines) -> None:
    async def work(chunk: int) -> None:
        with log_context(chunk=chunk):
            await asyncio.sleep(0)
            log.info("chunk")

    with log_context(job_id="j-1"):
        tasks = [asyncio.create_task(work(n)) for n in (1, 2)]
    log.info("outside")
    await asyncio.gather(*tasks)
    outside, *chunks = lines()
    assert "job_id" not in outside
    assert sorted((c["job_id"], c["chunk"]) for c in chunks) == [("j-1", 1), ("j-1", 2)]


def test_fields_given_by_extra_win_over_the_context(lines: Lines) -> None:
    with log_context(job_id="from-context"):
        log.info("explicit", extra={"job_id": "from-extra"})
    (line,) = lines()
    assert line["job_id"] == "from-extra"


def test_text_lines_end_with_the_fields_that_are_set(
    configured: Callable[[str], io.StringIO],
) -> None:
    buffer = configured("text")
    with log_context(job_id="j-1", chunk=2):
        log.info("working")
    log.info("idle")
    working, idle = buffer.getvalue().splitlines()
    assert working.endswith(" INFO export.test: working [job_id=j-1 chunk=2]")
    assert idle.endswith(" INFO export.test: idle")


def test_record_attributes_cannot_be_context_fields() -> None:
    with pytest.raises(ValueError, match="message"), log_context(message="x"):
        pass


def test_an_unknown_format_or_level_names_its_setting() -> None:
    with pytest.raises(ValueError, match="EXPORT_LOG_FORMAT"):
        logging_config("yaml", "INFO")
    with pytest.raises(ValueError, match="EXPORT_LOG_LEVEL"):
        logging_config("json", "LOUD")


def test_the_config_sends_the_root_logger_to_stderr_through_the_filters() -> None:
    config = logging_config("json", "warning")
    assert config["disable_existing_loggers"] is False
    assert config["root"] == {"level": "WARNING", "handlers": ["stderr"]}
    assert config["handlers"]["stderr"]["stream"] == "ext://sys.stderr"
    assert config["handlers"]["stderr"]["filters"] == ["repeats", "context"]


def test_a_warning_repeated_within_seconds_is_written_once() -> None:
    repeats = RepeatFilter(seconds=5)

    def record(message: str, at: float, level: int = logging.ERROR) -> logging.LogRecord:
        made = logging.LogRecord("aiokafka", level, __file__, 1, message, None, None)
        made.created = at
        return made

    passed = [
        repeats.filter(record("Unable connect to node with id 1", at))
        for at in (100.0, 100.1, 104.9, 105.1)
    ]
    assert passed == [True, False, False, True]
    assert repeats.filter(record("another message", 100.2))
    assert all(repeats.filter(record("progress", 100.3, logging.INFO)) for _ in range(3))
