"""Peer: what many users write, pandas read_sql in chunks appended to a CSV file."""

import sys
import warnings

import pandas as pd
import psycopg
from common import READER_URL, SET_TENANT, select_sql

warnings.simplefilter("ignore")
rows, target = int(sys.argv[1]), sys.argv[2]
with psycopg.connect(READER_URL) as conn:
    conn.execute(SET_TENANT)
    for i, frame in enumerate(pd.read_sql(select_sql(rows), conn, chunksize=100_000)):
        frame.to_csv(target, mode="w" if i == 0 else "a", header=i == 0, index=False)
