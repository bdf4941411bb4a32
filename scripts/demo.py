"""`make demo`: submit a CSV export through the API, follow its progress, say how to fetch it."""

from __future__ import annotations

import sys
import time
import uuid

import httpx

from api.dev_token import DEMO_TENANTS, DEMO_USER, mint
from config.settings import Settings

REQUEST = {
    "name": "Demo: all trades of tenant 1",
    "description": "Submitted by make demo",
    "queryDefinition": {
        "source": "fact_trades",
        "columns": [
            {"name": "id"},
            {"name": "trade_date"},
            {"name": "executed_at"},
            {"name": "symbol"},
            {"name": "side"},
            {"name": "quantity"},
            {"name": "price"},
            {"name": "notional"},
            {"name": "counterparty"},
            {"name": "notes"},
        ],
        "filters": [],
        "orderBy": [{"column": "id", "direction": "ASC"}],
    },
    "format": "CSV",
    "formatOptions": {
        "csv": {"delimiter": ",", "includeHeaders": True, "quoteStrings": True, "dateFormat": "ISO"}
    },
    "delivery": {"method": "DOWNLOAD"},
    "maxRowsPerFile": 250000,
}


def main() -> int:
    settings = Settings.from_env()
    token = mint(DEMO_TENANTS[0], DEMO_USER)
    api = httpx.Client(
        base_url=settings.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    answer = api.post("/v1/exports", json=REQUEST, headers={"Idempotency-Key": str(uuid.uuid4())})
    if answer.status_code != 202:
        print(f"the API refused the export: {answer.status_code} {answer.text}", file=sys.stderr)
        return 1
    job_id = answer.json()["id"]
    print(f"submitted export {job_id}")
    deadline = time.monotonic() + 300
    job: dict = {}
    while time.monotonic() < deadline:
        response = api.get(f"/v1/exports/{job_id}")
        if response.status_code == 200:
            job = response.json()
            print(
                f"\r  {job['status']:<10} {job['processedRows']:>9,} / "
                f"{job['totalRows'] or 0:>9,} rows  {job['progressPercent']:6.2f}%",
                end="",
                flush=True,
            )
            if job["status"] in {"COMPLETED", "FAILED", "CANCELLED"}:
                break
        time.sleep(0.5)
    print()
    if job.get("status") != "COMPLETED":
        print(
            f"the export did not complete: {job.get('status')} {job.get('errorMessage')}",
            file=sys.stderr,
        )
        return 1
    files = api.get(f"/v1/exports/{job_id}/files").json()["files"]
    print(
        f"completed: {job['processedRows']:,} rows in {len(files)} files, "
        f"{job['fileSizeBytes']:,} bytes, in {job['outputPath']}"
    )
    for f in files:
        print(f"  {f['name']}  {f['rows']:>9,} rows  sha256 {f['sha256']}")
    print("\nFetch a file through the API (the token is valid for 12 hours):")
    print(f"  export TOKEN={token}")
    print(
        f'  curl -H "Authorization: Bearer $TOKEN" -o {files[0]["name"]} '
        f"'{settings.api_url}{files[0]['url']}'"
    )
    print("\nThe worker and the API keep running; `make down` stops everything.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
