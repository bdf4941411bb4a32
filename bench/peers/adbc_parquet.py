"""Peer: a plain script streaming ADBC record batches into ParquetWriter (snappy)."""

import sys

import adbc_driver_postgresql.dbapi as adbc
import pyarrow.parquet as pq
from common import READER_URL, SET_TENANT, select_sql

rows, target = int(sys.argv[1]), sys.argv[2]
with adbc.connect(READER_URL) as conn, conn.cursor() as cursor:
    cursor.execute(SET_TENANT)
    cursor.fetchall()
    cursor.execute(select_sql(rows))
    reader = cursor.fetch_record_batch()
    with pq.ParquetWriter(target, reader.schema, compression="snappy") as writer:
        for batch in reader:
            writer.write_batch(batch)
