"""Logs a machine can read: one JSON object per line, with the job's context on every record.

Context (`job_id`, `tenant_id`, `chunk`, `event_type`, ...) lives in a `ContextVar`, set by
`log_context` around a piece of work; `ContextFilter` copies it onto each record as it is
handled. asyncio tasks and `asyncio.to_thread` copy the context they were started from, so
work spawned inside a `log_context` logs with it; plain threads start with an empty one.
"""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS, LogData
from pythonjsonlogger.json import JsonFormatter

# The fields the service sets; others may be added, and are printed after these.
CONTEXT_FIELDS = ("job_id", "tenant_id", "chunk", "event_type")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("json", "text")

_EMPTY: Mapping[str, object] = MappingProxyType({})
_context: ContextVar[Mapping[str, object]] = ContextVar("log_context", default=_EMPTY)
# A LogRecord's own attributes (and what formatters add to it) cannot be context fields:
# setting one would corrupt the record.
_RECORD_ATTRS = frozenset(
    [*RESERVED_ATTRS, *vars(logging.LogRecord("", 0, "", 0, "", None, None)), "taskName"]
)
# Where the filter notes which attributes it added, for the text formatter. Attributes
# starting with "_" are never written out by the JSON formatter.
_NAMES_ATTR = "_context_fields"


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` to every record logged inside the block; None values are ignored."""
    clashes = sorted(name for name in fields if name in _RECORD_ATTRS or name.startswith("_"))
    if clashes:
        raise ValueError(f"not usable as log context fields: {', '.join(clashes)}")
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> Mapping[str, object]:
    """The fields `log_context` has set here (read-only)."""
    return _context.get()


class ContextFilter(logging.Filter):
    """Copies the current log context onto each record; fields given by `extra=` win."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        added = [name for name in context if name not in record.__dict__]
        for name in added:
            setattr(record, name, context[name])
        setattr(record, _NAMES_ATTR, (*getattr(record, _NAMES_ATTR, ()), *added))
        return True


class RepeatFilter(logging.Filter):
    """Lets the same warning or error of a logger through once per `seconds`.

    While the broker is down, aiokafka logs a failed connection and a failed metadata update
    thousands of times a second (some 130,000 lines in a test run's two outages); one line per
    message every few seconds says as much. Records below WARNING, and any with a traceback,
    always pass.
    """

    def __init__(self, seconds: float = 5.0) -> None:
        super().__init__()
        self._seconds = seconds
        self._last: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.exc_info:
            return True
        key = (record.name, record.getMessage())
        last = self._last.get(key)
        if last is not None and record.created - last < self._seconds:
            return False
        if len(self._last) > 10_000:  # messages with ids in them must not grow this for ever
            self._last.clear()
        self._last[key] = record.created
        return True


class JsonLineFormatter(JsonFormatter):
    """`time`, `level`, `logger`, `message`, then the context and `exc_info` when present."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            # uvicorn's colour copy of its message is noise in a machine's log.
            reserved_attrs=[*RESERVED_ATTRS, "color_message", "taskName"],
        )

    def add_fields(
        self, log_data: LogData, record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        # First, so a reader's eye (and `sort`) finds it at the start of the line.
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        log_data["time"] = stamp.replace("+00:00", "Z")
        super().add_fields(log_data, record, message_dict)


class TextFormatter(logging.Formatter):
    """The classic one-line format, then the context fields that are set: ` [job_id=j chunk=2]`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        # formatMessage, not format: the fields belong on the first line, before a traceback.
        names = dict.fromkeys([*CONTEXT_FIELDS, *getattr(record, _NAMES_ATTR, ())])
        pairs = [
            f"{name}={record.__dict__[name]}"
            for name in names
            if record.__dict__.get(name) is not None
        ]
        line = super().formatMessage(record)
        return f"{line} [{' '.join(pairs)}]" if pairs else line


def logging_config(fmt: str, level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: the root logger writes `fmt` lines to stderr."""
    if fmt not in FORMATS:
        raise ValueError(f"EXPORT_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    level_name = level.upper()
    if not isinstance(logging.getLevelName(level_name), int):
        raise ValueError(f"EXPORT_LOG_LEVEL {level!r} is not a logging level")
    formatter = JsonLineFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        # Loggers made at import time (uvicorn's, Faust's) keep working and reach the root.
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}, "repeats": {"()": RepeatFilter}},
        "formatters": {fmt: {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": fmt,
                # On the handler, not a logger: records propagated from any logger pass it.
                "filters": ["repeats", "context"],
            }
        },
        "root": {"level": level_name, "handlers": ["stderr"]},
    }


def configure_logging(fmt: str, level: str) -> None:
    """Send every log record of the process to stderr as `fmt` ("json" or "text")."""
    logging.config.dictConfig(logging_config(fmt, level))


def kafka_client_logging() -> dict[str, object]:
    """Configuration for a confluent-kafka client whose log goes through Python's logging
    (as JSON lines like every other) instead of librdkafka's own plain lines on stderr.

    While the broker is down, librdkafka logs each failed connection attempt; attempts
    spaced up to 5 s apart keep an outage to a line every few seconds per client.
    """
    return {
        "logger": logging.getLogger("librdkafka"),
        "reconnect.backoff.ms": 500,
        "reconnect.backoff.max.ms": 5000,
    }
