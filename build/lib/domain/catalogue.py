"""The allowlisted catalogue of exportable sources.

Identifiers in SQL come only from here, never from a request: a request names a source and
columns, and validation maps those names onto these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ColumnType(str, Enum):
    BIGINT = "bigint"
    UUID = "uuid"
    DATE = "date"
    TIMESTAMPTZ = "timestamptz"
    NUMERIC = "numeric"
    TEXT = "text"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    precision: int | None = None
    scale: int | None = None


@dataclass(frozen=True)
class Source:
    name: str
    schema: str
    table: str
    key_column: str
    date_column: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _num(name: str, precision: int, scale: int) -> Column:
    return Column(name, ColumnType.NUMERIC, precision, scale)


T = ColumnType
CATALOGUE: dict[str, Source] = {
    "fact_trades": Source(
        name="fact_trades",
        schema="analytics",
        table="fact_trades",
        key_column="id",
        date_column="trade_date",
        columns=(
            Column("id", T.BIGINT),
            Column("tenant_id", T.UUID),
            Column("trade_date", T.DATE),
            Column("executed_at", T.TIMESTAMPTZ),
            Column("symbol", T.TEXT),
            Column("side", T.TEXT),
            _num("quantity", 18, 4),
            _num("price", 18, 6),
            _num("notional", 24, 6),
            Column("counterparty", T.TEXT),
            Column("trader", T.TEXT),
            Column("notes", T.TEXT),
        ),
    ),
    "fact_quotes": Source(
        name="fact_quotes",
        schema="analytics",
        table="fact_quotes",
        key_column="id",
        date_column="quote_date",
        columns=(
            Column("id", T.BIGINT),
            Column("tenant_id", T.UUID),
            Column("quote_date", T.DATE),
            Column("quoted_at", T.TIMESTAMPTZ),
            Column("symbol", T.TEXT),
            _num("bid", 18, 6),
            _num("ask", 18, 6),
            _num("bid_size", 18, 4),
            _num("ask_size", 18, 4),
            Column("venue", T.TEXT),
            Column("notes", T.TEXT),
        ),
    ),
    "fact_orders": Source(
        name="fact_orders",
        schema="analytics",
        table="fact_orders",
        key_column="id",
        date_column="order_date",
        columns=(
            Column("id", T.BIGINT),
            Column("tenant_id", T.UUID),
            Column("order_date", T.DATE),
            Column("created_at", T.TIMESTAMPTZ),
            Column("symbol", T.TEXT),
            Column("side", T.TEXT),
            Column("order_type", T.TEXT),
            _num("quantity", 18, 4),
            _num("limit_price", 18, 6),
            Column("status", T.TEXT),
            Column("client_ref", T.TEXT),
            Column("notes", T.TEXT),
        ),
    ),
}
