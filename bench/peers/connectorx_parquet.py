"""Peer: connectorx reading the whole result into Arrow (one partition, its default, as a
user's one-liner would), then one pyarrow write_table (snappy). It holds every row in memory
at once, so its peak RSS is part of the comparison. connectorx cannot set a session variable
before its query, so it reads as the database's owner; the query names the tenant itself."""

import sys

import connectorx as cx
import pyarrow.parquet as pq
from common import select_sql

from config.settings import Settings

rows, target = int(sys.argv[1]), sys.argv[2]
url = Settings.from_env().admin_database_url
table = cx.read_sql(url, select_sql(rows), return_type="arrow")
pq.write_table(table, target, compression="snappy")
