"""S3 delivery: every file and the manifest copied into the customer's bucket under a prefix.

Objects are streamed from the export store in parts (never whole in memory) and keyed
`{prefix}/{file name}`, so a retried delivery overwrites what an earlier attempt left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from delivery.failures import DeliveryError, network_failure, permanent, transient
from delivery.secrets import S3Profile
from export_contract.request import S3Delivery
from stores import s3 as s3_helpers
from stores.export_store import ExportStore

PERMANENT_CODES = {
    "NoSuchBucket": "the bucket does not exist",
    "AccessDenied": "access to the bucket was denied",
    "AllAccessDisabled": "access to the bucket was denied",
    "InvalidAccessKeyId": "the profile's access key is not valid",
    "SignatureDoesNotMatch": "the profile's secret key is not valid",
    "InvalidBucketName": "the bucket name is not valid",
    "404": "the bucket does not exist",
    "403": "access to the bucket was denied",
}


def deliver_to_s3(
    store: ExportStore, target: S3Delivery, profile: S3Profile, locations: list[tuple[str, str]]
) -> str:
    """Copy each (name, location) to the bucket; return where they went. Runs in a thread."""
    s3 = s3_helpers.client(
        profile.endpoint_url,
        target.region or profile.region,
        profile.access_key_id,
        profile.secret_access_key,
    )
    prefix = target.key.strip("/")
    destination = f"s3://{target.bucket}/{prefix}/" if prefix else f"s3://{target.bucket}/"
    try:
        s3.head_bucket(Bucket=target.bucket)
        for name, location in locations:
            key = f"{prefix}/{name}" if prefix else name
            if s3_helpers.is_uri(location):
                with store.open(location) as source:
                    s3_helpers.upload_stream(s3, source, target.bucket, key)
            else:
                # A local file is read part by part where it lies, not through a stream.
                s3_helpers.upload_file(s3, Path(location), target.bucket, key)
    except (ClientError, S3UploadFailedError, BotoCoreError) as exc:
        raise _classify(exc, target.bucket) from exc
    return destination


def _classify(exc: BaseException, bucket: str) -> DeliveryError:
    client_error = exc if isinstance(exc, ClientError) else _cause(exc, ClientError)
    if isinstance(client_error, ClientError):
        code = str(client_error.response.get("Error", {}).get("Code", ""))
        status = int(client_error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if code in PERMANENT_CODES:
            return permanent(f"S3 bucket {bucket}: {PERMANENT_CODES[code]} ({code})")
        if status >= 500 or code in ("SlowDown", "RequestTimeout", "InternalError"):
            return transient(f"S3 bucket {bucket}: the server answered {status} {code}")
        return permanent(f"S3 bucket {bucket}: {code} {client_error}")
    if isinstance(exc, EndpointConnectionError) or isinstance(
        _cause(exc, EndpointConnectionError), EndpointConnectionError
    ):
        return transient(f"S3 endpoint for bucket {bucket} could not be reached")
    network = network_failure(_cause(exc, OSError) or exc, f"S3 bucket {bucket}")
    return network or transient(f"S3 bucket {bucket}: {type(exc).__name__}: {exc}")


def _cause(exc: BaseException, kind: type[BaseException]) -> Any:
    """The first exception of `kind` in exc's chain of causes, or None."""
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
