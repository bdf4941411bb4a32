"""Small builders for unit tests: valid requests and states, varied per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.decisions import CompletionContext
from export_contract.request import ExportRequest

TENANT = "11111111-1111-4111-8111-111111111111"
USER = "0d0d0d0d-0000-4000-8000-000000000001"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CONTEXT = CompletionContext("http://api", "/store", timedelta(days=7), "link-secret")


def request_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "trades",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id"}, {"name": "price", "alias": "Price"}, {"name": "notes"}],
            "filters": [{"column": "symbol", "operator": "=", "value": "AAPL"}],
        },
        "format": "CSV",
    }
    payload.update(overrides)
    return payload


def export_request(**overrides: Any) -> ExportRequest:
    return ExportRequest.model_validate(request_payload(**overrides))
