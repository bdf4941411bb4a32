"""How close POST /v1/exports/estimate comes to what the export then is, for every format.

Each case is estimated, then run; the table prints the estimate's rows, bytes and seconds
against the finished job's, and the error in percent. Needs the local stack with its API
(`make services`); run with `.venv/bin/python bench/estimate_accuracy.py`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from api.dev_token import mint
from config.settings import Settings

TENANT = "11111111-1111-4111-8111-111111111111"
TRADES = ["id", "trade_date", "executed_at", "symbol", "side", "quantity", "price", "notes"]
ORDERS = ["id", "order_date", "symbol", "order_type", "quantity", "limit_price", "status"]


def case(name: str, source: str, columns: list[str], **request: Any) -> tuple[str, dict[str, Any]]:
    body = {
        "name": f"estimate accuracy: {name}",
        "queryDefinition": {"source": source, "columns": [{"name": c} for c in columns]},
        **request,
    }
    return name, body


CASES = [
    case("CSV trades", "fact_trades", TRADES, format="CSV"),
    case("CSV gzip trades", "fact_trades", TRADES, format="CSV", compression="GZIP"),
    case("CSV zstd orders", "fact_orders", ORDERS, format="CSV", compression="ZSTD"),
    case("NDJSON trades", "fact_trades", TRADES, format="NDJSON"),
    case("JSON orders", "fact_orders", ORDERS, format="JSON"),
    case("Parquet trades", "fact_trades", TRADES, format="PARQUET"),
    case("Parquet orders", "fact_orders", ORDERS, format="PARQUET"),
    case("Excel orders", "fact_orders", ORDERS, format="EXCEL"),
]


def finished(api: httpx.Client, job_id: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = api.get(f"/v1/exports/{job_id}").json()
        if job.get("status") in {"COMPLETED", "FAILED", "CANCELLED"}:
            return job
        time.sleep(0.2)


def error(estimated: float, actual: float) -> str:
    return f"{100 * (estimated - actual) / actual:+.1f} %" if actual else "n/a"


def main() -> None:
    settings = Settings.from_env()
    token = mint(TENANT, str(uuid.uuid4()), secret=settings.jwt_secret)
    api = httpx.Client(
        base_url=settings.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    print(
        f"{'export':<18} {'rows':>9} {'est. bytes':>12} {'bytes':>12} {'error':>8}"
        f" {'est. s':>7} {'s':>6}"
    )
    for name, body in CASES:
        estimate = api.post("/v1/exports/estimate", json=body).json()
        job = finished(api, api.post("/v1/exports", json=body).json()["id"])
        assert job["status"] == "COMPLETED", job["errorMessage"]
        assert estimate["rows"] == job["totalRows"], (estimate, job["totalRows"])
        seconds = _time(job["completedAt"]) - _time(job["requestedAt"])
        print(
            f"{name:<18} {job['totalRows']:>9,} {estimate['bytes']:>12,}"
            f" {job['fileSizeBytes']:>12,} {error(estimate['bytes'], job['fileSizeBytes']):>8}"
            f" {estimate['seconds']:>7.1f} {seconds:>6.1f}"
        )


def _time(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


if __name__ == "__main__":
    main()
