"""Thin helpers over boto3 for S3 and S3-compatible servers (MinIO, moto).

boto3 is imported on first use: it adds some 11 MB (and a client some 60 MB more) to a
worker whose tenants may all use the local store.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import IO, Any

SCHEME = "s3://"
PART_BYTES = 8 << 20
PARTS_IN_MEMORY = 4


@cache
def transfer_config() -> Any:
    """Files above 8 MiB go up in 8 MiB parts, four at a time, and at most four parts are held
    in memory (s3transfer's default is ten): some 32 MB whatever the file's size. 10,000 parts
    of 8 MiB allow objects of 80 GB."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES, max_concurrency=4
    )
    # An s3transfer setting that boto3's constructor does not take.
    config.max_in_memory_upload_chunks = PARTS_IN_MEMORY
    return config


def client(
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region or "us-east-1",
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        # Our own retry policy decides about retries; boto3's would hide the attempts.
        config=Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            s3={"addressing_style": "path"},
            signature_version="s3v4",
        ),
    )


def uri(bucket: str, key: str) -> str:
    return f"{SCHEME}{bucket}/{key}"


def is_uri(location: str) -> bool:
    return location.startswith(SCHEME)


def parse_uri(location: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key`."""
    bucket, _, key = location.removeprefix(SCHEME).partition("/")
    return bucket, key


def upload_file(s3: Any, path: Path, bucket: str, key: str) -> None:
    s3.upload_file(str(path), bucket, key, Config=transfer_config())


def upload_stream(s3: Any, stream: IO[bytes], bucket: str, key: str) -> None:
    """Upload from a readable stream in parts, without holding the whole object."""
    s3.upload_fileobj(stream, bucket, key, Config=transfer_config())


def open_object(s3: Any, bucket: str, key: str) -> IO[bytes]:
    body: IO[bytes] = s3.get_object(Bucket=bucket, Key=key)["Body"]
    return body


def exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every object under `prefix`, a page (1,000 keys) at a time; the count."""
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def presigned_get(s3: Any, bucket: str, key: str, seconds: int, file_name: str) -> str:
    url: str = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="{file_name}"',
        },
        ExpiresIn=seconds,
    )
    return url
