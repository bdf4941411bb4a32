"""Benchmark: exports that end somewhere else than a local folder, end to end.

For N trades of one tenant, as CSV, it times the service from command to the completion
notice, which for S3 and SFTP delivery comes once delivery has settled, against a plain
script doing the same: `psql \\copy` into a file, then an upload of that file (boto3's
upload_file, or asyncssh's put). Three cases:

- S3 store: the export kept in the S3 store (moto's server), for a tenant whose store is S3;
- S3 delivery: exported to the local store, then copied to a customer bucket;
- SFTP delivery: exported to the local store, then sent to the stack's SFTP server.

It checks that the delivered bytes equal psql's, and prints the ratio of rows per second and
the worker's peak RSS (a worker restarted for each case).

    make bench
    .venv-bench/bin/python bench/delivery_end_to_end.py --rows 200000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from harness import COLUMNS, ROOT, TEXT_COLUMNS, USER, fresh_worker, run_peer, seed_for
from harness import worker_peak_rss_mb as peak_rss

from config.settings import Settings
from export_client.kafka_client import ExportClient

LOCAL_TENANT = "11111111-1111-4111-8111-111111111111"
S3_TENANT = "33333333-3333-4333-8333-333333333333"
RUNS = 2


def query(tenant: str, rows: int) -> str:
    # Each tenant owns every third id, so this is exactly `rows` rows.
    return (
        f"SELECT {', '.join(COLUMNS)} FROM analytics.fact_trades"
        f" WHERE tenant_id = '{tenant}' AND id <= {3 * rows} ORDER BY id"
    )


def request(rows: int, delivery: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"bench delivery {rows}",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": c} for c in COLUMNS],
            "filters": [{"column": "id", "operator": "<=", "value": 3 * rows}],
            "orderBy": [{"column": "id"}],
        },
        "format": "CSV",
        "maxRowsPerFile": max(rows, 1),
        "delivery": delivery,
    }


def run_service(
    settings: Settings, tenant: str, rows: int, delivery: dict[str, Any]
) -> tuple[float, str]:
    """Command sent -> completion notice (after delivery); seconds and the job id."""
    client = ExportClient(settings.kafka_bootstrap_servers)
    started = time.perf_counter()
    job_id = client.request_export(tenant, USER, request(rows, delivery))
    notice = client.wait_for_completion(job_id, timeout=3600)
    elapsed = time.perf_counter() - started
    client.close()
    if notice.status.value != "COMPLETED" or notice.total_rows != rows:
        raise RuntimeError(f"export ended {notice.status}: {notice.error_message}")
    if delivery["method"] != "DOWNLOAD" and notice.delivery_status != "DELIVERED":
        raise RuntimeError(f"delivery ended {notice.delivery_status}: {notice.delivery_error}")
    return elapsed, job_id


def psql_command(settings: Settings, tenant: str, rows: int, target: Path) -> str:
    options = f"FORMAT csv, HEADER true, FORCE_QUOTE ({', '.join(TEXT_COLUMNS)})"
    return (
        f"psql -X -q '{settings.reader_database_url}'"
        f" -c \"SET app.tenant_id = '{tenant}'\""
        f" -c \"\\copy ({query(tenant, rows)}) TO '{target}' ({options})\""
    )


def digest_of_object(bucket: str, key: str) -> str:
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["EXPORT_S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    digest = hashlib.sha256()
    for block in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(1 << 20):
        digest.update(block)
    return digest.hexdigest()


def digest_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    rows = args.rows
    settings = Settings.from_env()
    seed_for(rows)
    py = sys.executable
    uploader = ROOT / "bench/peers/upload_file.py"
    keys = Path(os.environ["STACK_SFTP_KEYS"])
    sftp_port = os.environ["STACK_SFTP_PORT"]
    sftp_root = Path(os.environ["STACK_SFTP_ROOT"]) / "acme"
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        reference = Path(scratch) / "psql.csv"
        cases = {
            "S3 store": (
                S3_TENANT,
                lambda tag: {"method": "DOWNLOAD"},
                lambda tag: f"{py} {uploader} s3 {reference} customer-exports peer/{tag}.csv",
            ),
            "S3 delivery": (
                LOCAL_TENANT,
                lambda tag: {
                    "method": "S3",
                    "s3": {"bucket": "customer-exports", "key": f"bench/{tag}"},
                },
                lambda tag: f"{py} {uploader} s3 {reference} customer-exports peer/{tag}.csv",
            ),
            "SFTP delivery": (
                LOCAL_TENANT,
                lambda tag: {
                    "method": "SFTP",
                    "sftp": {
                        "host": "127.0.0.1",
                        "port": int(sftp_port),
                        "username": "acme",
                        "path": f"bench/{tag}",
                    },
                },
                lambda tag: (
                    f"{py} {uploader} sftp {reference} {sftp_port} acme {keys / 'user_key'}"
                    f" {os.environ['EXPORT_SFTP_KNOWN_HOSTS']} bench-peer-{tag}.csv"
                ),
            ),
        }
        for name, (tenant, delivery, upload) in cases.items():
            psql = psql_command(settings, tenant, rows, reference)
            slug = name.replace(" ", "-")
            run_peer(psql)  # warm the cache for both contenders
            peer = min(
                run_peer(f"{psql} && {upload(f'{slug}-{i}-{time.time_ns()}')}").seconds
                for i in range(RUNS)
            )
            fresh_worker(settings)
            service = float("inf")
            tag = job_id = ""
            for i in range(RUNS):
                tag = f"{i}-{time.time_ns()}"
                seconds, job_id = run_service(settings, tenant, rows, delivery(tag))
                service = min(service, seconds)
            expected = digest_of_file(reference)
            if name == "SFTP delivery":
                got = digest_of_file(sftp_root / "bench" / tag / "part-00001.csv")
            elif name == "S3 delivery":
                got = digest_of_object("customer-exports", f"bench/{tag}/part-00001.csv")
            else:
                key = f"exports/{tenant}/{job_id}/part-00001.csv"
                got = digest_of_object(os.environ["EXPORT_S3_BUCKET"], key)
            results.append((name, peer, service, peak_rss(), got == expected))

    print(
        f"\n{'case':<14} {'rows':>10} {'peer s':>8} {'service s':>10} {'ratio':>6}"
        f" {'worker peak RSS':>16} {'same bytes':>11}"
    )
    for name, peer, service, peak, same in results:
        print(
            f"{name:<14} {rows:>10,} {peer:>8.2f} {service:>10.2f} {peer / service:>6.2f}"
            f" {peak:>13.0f} MB {'yes' if same else 'NO':>11}"
        )
    print("peer = psql \\copy to a file, then a plain upload; ratio = service rows/s / peer's")
    return 0 if all(r[4] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
