"""Peer: a plain xlsxwriter constant-memory script fed by a server-side cursor."""

import sys

import psycopg
import xlsxwriter
from common import READER_URL, SET_TENANT, select_sql

rows, target = int(sys.argv[1]), sys.argv[2]
workbook = xlsxwriter.Workbook(target, {"constant_memory": True})
sheet = workbook.add_worksheet("Data")
with psycopg.connect(READER_URL) as conn:
    conn.execute(SET_TENANT)
    with conn.cursor(name="peer") as cursor:
        cursor.itersize = 5000
        cursor.execute(select_sql(rows))
        r, n = 0, 0
        for record in cursor:
            if r == 1_048_576:
                n += 1
                sheet = workbook.add_worksheet(f"Data ({n + 1})")
                r = 0
            sheet.write_row(
                r,
                0,
                [
                    v.replace(tzinfo=None)
                    if hasattr(v, "tzinfo")
                    else float(v)
                    if v.__class__.__name__ == "Decimal"
                    else v
                    for v in record
                ],
            )
            r += 1
workbook.close()
