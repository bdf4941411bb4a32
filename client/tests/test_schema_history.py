"""Schemas evolve forward: every recorded version still decodes with today's reader."""

from __future__ import annotations

import io
import random

import pytest
from fastavro import schemaless_writer
from fastavro.utils import generate_one

from export_contract import codec
from export_contract.schema_history import (
    current_schema,
    fingerprint_of,
    history_path,
    recorded_versions,
)

VERSIONS = recorded_versions()


def _sample(schema: object, seed: int) -> object:
    """A reproducible random record of the schema (fastavro draws from `random`)."""
    random.seed(seed)
    return generate_one(schema)


def test_the_current_version_of_every_schema_is_recorded() -> None:
    for name in codec.MESSAGE_TYPES:
        path = history_path(name, fingerprint_of(current_schema(name)))
        assert path.exists(), f"run `python -m export_contract.schema_history` to record {name}"


def test_recorded_files_are_named_by_their_fingerprint() -> None:
    for _name, fp, writer in VERSIONS:
        assert fingerprint_of(writer) == fp


@pytest.mark.parametrize(("name", "fp", "writer"), VERSIONS, ids=lambda v: str(v)[:40])
def test_a_message_written_with_any_version_decodes_today(
    name: str, fp: bytes, writer: object
) -> None:
    for seed in range(5):
        out = io.BytesIO()
        out.write(codec.MAGIC)
        out.write(fp)
        schemaless_writer(out, writer, _sample(writer, seed))
        message = codec.decode(out.getvalue())
        assert type(message).__name__ == name


def test_an_older_version_reads_with_the_new_fields_defaults() -> None:
    old = [
        (fp, w)
        for n, fp, w in VERSIONS
        if n == "ChunkExtracted" and fp != fingerprint_of(current_schema("ChunkExtracted"))
    ]
    assert old, "the history keeps the ChunkExtracted of before compression and parts"
    fp, writer = old[0]
    out = io.BytesIO()
    out.write(codec.MAGIC + fp)
    schemaless_writer(out, writer, _sample(writer, 1))
    event = codec.decode(out.getvalue())
    assert event.compression == "NONE" and event.chunk_files == 1  # type: ignore[attr-defined]
    assert event.file.part == 1 and event.file.notes == []  # type: ignore[attr-defined]
