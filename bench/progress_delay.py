"""How long a progress report takes to reach a follower of GET /v1/exports/{id}/progress.

Each streamed event carries `updatedAt`, the time its event was recorded by the job agent;
the follower notes when it arrived. Same machine, same clock. Needs the local stack with its
API (`make services`); run with `.venv/bin/python bench/progress_delay.py [EXPORTS]`.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from datetime import datetime

import httpx

from api.dev_token import mint
from config.settings import Settings

TENANT = "11111111-1111-4111-8111-111111111111"
REQUEST = {
    "name": "progress delay",
    "queryDefinition": {
        "source": "fact_trades",
        "columns": [{"name": "id"}, {"name": "symbol"}, {"name": "price"}, {"name": "notes"}],
    },
    "format": "EXCEL",
}


def delays(api: httpx.Client, job_id: str) -> list[float]:
    seen: list[float] = []
    with api.stream("GET", f"/v1/exports/{job_id}/progress", timeout=600) as response:
        first = True
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            arrived = time.time()
            job = json.loads(line[5:])
            # The first event is the read model's view, written some time before we asked.
            if not first:
                seen.append(arrived - datetime.fromisoformat(job["updatedAt"]).timestamp())
            first = False
    return seen


def main() -> None:
    exports = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    settings = Settings.from_env()
    token = mint(TENANT, str(uuid.uuid4()), secret=settings.jwt_secret)
    api = httpx.Client(
        base_url=settings.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    seen: list[float] = []
    for _ in range(exports):
        job_id = api.post("/v1/exports", json=REQUEST).json()["id"]
        while api.get(f"/v1/exports/{job_id}").status_code != 200:
            time.sleep(0.05)
        seen += delays(api, job_id)
    seen.sort()
    p95 = seen[max(0, round(0.95 * len(seen)) - 1)]
    print(
        f"{len(seen)} events over {exports} exports: delay from the recorded event to the"
        f" follower p50 {1000 * statistics.median(seen):.0f} ms, p95 {1000 * p95:.0f} ms,"
        f" max {1000 * seen[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
