"""The exact Arrow type of every catalogue column, and conversion of ADBC's batches to it.

Numerics are read as PostgreSQL's text (extraction.sql_builder.as_text), so the precision and
scale come from the catalogue, never from the data: a decimal must stay decimal128(p, s).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from domain.catalogue import Column, ColumnType
from domain.validation import ResolvedQuery


def arrow_type(column: Column) -> pa.DataType:
    match column.type:
        case ColumnType.BIGINT:
            return pa.int64()
        case ColumnType.UUID:
            return pa.uuid()
        case ColumnType.DATE:
            return pa.date32()
        case ColumnType.TIMESTAMPTZ:
            return pa.timestamp("us", tz="UTC")
        case ColumnType.NUMERIC:
            assert column.precision is not None and column.scale is not None
            return pa.decimal128(column.precision, column.scale)
        case ColumnType.TEXT:
            return pa.string()
    raise ValueError(f"no Arrow type for {column.type}")


def export_schema(query: ResolvedQuery) -> pa.Schema:
    return pa.schema(
        [pa.field(c.output_name, arrow_type(c.column), nullable=True) for c in query.columns]
    )


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch with each column in the schema's type (vectorised casts, no per-row Python)."""
    columns = []
    for array, target in zip(batch.columns, schema.types, strict=True):
        if array.type != target:
            array = pc.cast(array, target)
        columns.append(array)
    return pa.RecordBatch.from_arrays(columns, schema=schema)
