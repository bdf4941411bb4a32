"""What a client may ask for, as data: sources, columns, operators, formats and options.

Built from the same definitions validation uses (the catalogue, the operator enum, the
option models), so the web page's form and `exportctl catalogue` cannot offer anything the
service would then refuse.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from domain.catalogue import CATALOGUE, Column, ColumnType
from domain.validation import COMPRESSIONS, Operator
from export_contract.request import (
    CsvOptions,
    DeliveryMethod,
    ExcelOptions,
    ExportFormat,
    JsonOptions,
    ParquetOptions,
)

# How many values each operator takes: one, a list, a [low, high] pair, or none.
OPERATOR_VALUES = {
    Operator.IN: "list",
    Operator.NOT_IN: "list",
    Operator.BETWEEN: "range",
    Operator.IS_NULL: "none",
    Operator.IS_NOT_NULL: "none",
}
# The formats' option models, the key each sits under in formatOptions, and whether the
# file as a whole may be compressed (Excel and Parquet compress inside).
FORMATS: dict[ExportFormat, tuple[str, type[BaseModel], bool]] = {
    ExportFormat.CSV: ("csv", CsvOptions, True),
    ExportFormat.EXCEL: ("excel", ExcelOptions, False),
    ExportFormat.JSON: ("json", JsonOptions, True),
    ExportFormat.NDJSON: ("json", JsonOptions, True),
    ExportFormat.PARQUET: ("parquet", ParquetOptions, False),
}


def operators_for(column: Column) -> list[str]:
    return [
        op.value for op in Operator if op is not Operator.LIKE or column.type is ColumnType.TEXT
    ]


def describe_catalogue() -> dict[str, Any]:
    return {
        "sources": [
            {
                "name": source.name,
                "keyColumn": source.key_column,
                "dateColumn": source.date_column,
                "columns": [
                    {
                        "name": c.name,
                        "type": c.type.value,
                        "precision": c.precision,
                        "scale": c.scale,
                        "operators": operators_for(c),
                    }
                    for c in source.columns
                ],
            }
            for source in CATALOGUE.values()
        ],
        "operators": [
            {"name": op.value, "value": OPERATOR_VALUES.get(op, "single")} for op in Operator
        ],
        "formats": [
            {
                "name": fmt.value,
                "optionsKey": key,
                "compressible": compressible,
                "options": _options(model),
            }
            for fmt, (key, model, compressible) in FORMATS.items()
        ],
        "compressions": sorted(COMPRESSIONS, key=lambda c: (c != "NONE", c)),
        "deliveryMethods": [m.value for m in DeliveryMethod],
    }


def _options(model: type[BaseModel]) -> list[dict[str, Any]]:
    options = []
    for name, info in model.model_fields.items():
        kinds = {bool: "boolean", int: "integer"}
        annotation = info.annotation
        options.append(
            {
                "name": info.alias or name,
                "type": kinds.get(annotation, "string")
                if isinstance(annotation, type)
                else "string",
                "default": info.default,
            }
        )
    return options
