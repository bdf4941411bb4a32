"""Avro encoding of commands and events in the single-object format of the Avro spec.

Each message is `C3 01` + the 8-byte CRC-64-AVRO fingerprint of its writer schema + the
Avro body, so any reader holding the schemas (`schemas/`) can tell the type and decode it without a
schema registry.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from export_contract import models
from export_contract.schema_history import current_schema, fingerprint_of, recorded_versions

MAGIC = b"\xc3\x01"

# The message classes that travel on Kafka, by their Avro record name.
MESSAGE_TYPES: dict[str, type[models.Message]] = {
    cls.__name__: cls
    for cls in (
        models.RequestExport,
        models.CancelExport,
        models.ExportRequested,
        models.ExportAccepted,
        models.ExportRejected,
        models.ExportStarted,
        models.ExportProgressed,
        models.ChunkExtracted,
        models.ExportCompleted,
        models.ExportFailed,
        models.ExportCancelled,
        models.ExportExpired,
        models.ExportDelivered,
        models.DeliveryFailed,
        models.ExportCompletionNotice,
        models.CreateSchedule,
        models.UpdateSchedule,
        models.PauseSchedule,
        models.ResumeSchedule,
        models.DeleteSchedule,
        models.ScheduleCreated,
        models.ScheduleRejected,
        models.ScheduleUpdated,
        models.ScheduleCommandRefused,
        models.SchedulePaused,
        models.ScheduleResumed,
        models.ScheduleDeleted,
        models.ScheduleRunStarted,
        models.ScheduleRunSkipped,
        models.ScheduleRunFinished,
    )
}


class UndecodableMessage(ValueError):
    """The bytes are not a message of a schema we know."""


class _Schemas:
    """Current schemas by message name; every known writer schema by fingerprint."""

    def __init__(self) -> None:
        self.by_name: dict[str, tuple[Any, bytes]] = {}
        # fingerprint -> (message name, writer schema, reader schema)
        self.by_fingerprint: dict[bytes, tuple[str, Any, Any]] = {}
        for name in MESSAGE_TYPES:
            parsed = current_schema(name)
            fp = fingerprint_of(parsed)
            self.by_name[name] = (parsed, fp)
            self.by_fingerprint[fp] = (name, parsed, parsed)
        for name, fp, writer in recorded_versions():
            if fp not in self.by_fingerprint and name in self.by_name:
                self.by_fingerprint[fp] = (name, writer, self.by_name[name][0])


@cache
def _schemas() -> _Schemas:
    return _Schemas()


def encode(message: models.Message) -> bytes:
    """Serialize a command, event or notice."""
    parsed, fp = _schemas().by_name[type(message).__name__]
    out = io.BytesIO()
    out.write(MAGIC)
    out.write(fp)
    schemaless_writer(out, parsed, message.model_dump(by_alias=True, mode="python"))
    return out.getvalue()


def decode(data: bytes) -> models.Message:
    """Deserialize bytes written by `encode`; raise UndecodableMessage for anything else."""
    if len(data) < 10 or data[:2] != MAGIC:
        raise UndecodableMessage("not an Avro single-object message")
    known = _schemas().by_fingerprint.get(bytes(data[2:10]))
    if known is None:
        raise UndecodableMessage(f"unknown schema fingerprint {bytes(data[2:10]).hex()}")
    name, writer, reader = known
    try:
        record = schemaless_reader(
            io.BytesIO(data[10:]), writer, None if reader is writer else reader
        )
        return MESSAGE_TYPES[name].model_validate(record)
    except Exception as exc:  # any decoding failure means the same to callers
        raise UndecodableMessage(f"cannot decode {name}: {exc}") from exc
