"""Peer: ADBC record batches written as NDJSON by polars."""

import sys

import adbc_driver_postgresql.dbapi as adbc
import polars as pl
import pyarrow as pa
from common import READER_URL, SET_TENANT, select_sql

rows, target = int(sys.argv[1]), sys.argv[2]
with adbc.connect(READER_URL) as conn, conn.cursor() as cursor, open(target, "wb") as out:
    cursor.execute(SET_TENANT)
    cursor.fetchall()
    cursor.execute(select_sql(rows))
    for batch in cursor.fetch_record_batch():
        # polars has no PostgreSQL numeric type: cast ADBC's opaque numerics to their text.
        columns = [c.storage if isinstance(c.type, pa.ExtensionType) else c for c in batch.columns]
        frame = pl.from_arrow(pa.RecordBatch.from_arrays(columns, names=batch.schema.names))
        frame.write_ndjson(out)
