"""The export store: a local folder tree or an S3 bucket, chosen per tenant by configuration.

A file's location says which: an absolute path, or `s3://bucket/exports/{tenant}/{job}/{name}`.
Extractors always write to a local folder first; for the S3 store each finished file is then
uploaded under a deterministic key (so a redone chunk overwrites its object) and the local
copy removed. Readers (API, delivery) open any location through `open`.
"""

from __future__ import annotations

import shutil
from functools import cached_property
from pathlib import Path
from typing import IO, Any

from config.settings import Settings
from stores import s3 as s3_helpers

LOCAL = "local"
S3 = "s3"


class StoreUnavailable(Exception):
    """The configured store cannot be used (for example, S3 chosen but not configured)."""


class ExportStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _s3(self) -> Any:
        config = self._settings.s3_store
        if config is None:
            raise StoreUnavailable("the S3 store is not configured (EXPORT_S3_BUCKET)")
        return s3_helpers.client(
            config.endpoint_url, config.region, config.access_key_id, config.secret_access_key
        )

    @cached_property
    def _s3_for_links(self) -> Any:
        """Signs download links for the address users reach the store at, which can differ
        from the one the service uses (a container network's host name); signing needs no
        connection."""
        config = self._settings.s3_store
        if config is None or not config.public_endpoint_url:
            return self._s3
        return s3_helpers.client(
            config.public_endpoint_url,
            config.region,
            config.access_key_id,
            config.secret_access_key,
        )

    def output_location(self, tenant_id: str, job_id: str) -> str:
        """Where a new job's files go, by the tenant's configured store."""
        kind = self._settings.store_for(tenant_id)
        if kind == S3:
            if self._settings.s3_store is None:
                raise StoreUnavailable("the S3 store is not configured (EXPORT_S3_BUCKET)")
            return s3_helpers.uri(self._settings.s3_store.bucket, f"exports/{tenant_id}/{job_id}")
        if kind != LOCAL:
            raise StoreUnavailable(f"unknown store {kind!r}; use local or s3")
        return str(self._settings.store_dir / tenant_id / job_id)

    def working_dir(self, output_location: str, tenant_id: str, job_id: str) -> Path:
        """The local folder an extractor writes into for this output location."""
        if s3_helpers.is_uri(output_location):
            return self._settings.worker_data_dir / "staging" / tenant_id / job_id
        return Path(output_location)

    def keep(self, written: Path, output_location: str) -> str:
        """Make a finished local file part of the store; return its location."""
        if not s3_helpers.is_uri(output_location):
            return str(written)
        bucket, prefix = s3_helpers.parse_uri(output_location)
        key = f"{prefix}/{written.name}"
        s3_helpers.upload_file(self._s3, written, bucket, key)
        written.unlink()
        return s3_helpers.uri(bucket, key)

    def open(self, location: str) -> IO[bytes]:
        if s3_helpers.is_uri(location):
            return s3_helpers.open_object(self._s3, *s3_helpers.parse_uri(location))
        return open(location, "rb")  # the caller closes it

    def exists(self, location: str) -> bool:
        if s3_helpers.is_uri(location):
            return s3_helpers.exists(self._s3, *s3_helpers.parse_uri(location))
        return Path(location).is_file()

    def delete(self, location: str) -> None:
        """Remove one stored file; a file already gone is fine."""
        if s3_helpers.is_uri(location):
            bucket, key = s3_helpers.parse_uri(location)
            self._s3.delete_object(Bucket=bucket, Key=key)
        else:
            Path(location).unlink(missing_ok=True)

    def delete_job(self, output_location: str) -> int:
        """Remove everything stored for one job (files, manifest, leftovers); the count."""
        if s3_helpers.is_uri(output_location):
            bucket, prefix = s3_helpers.parse_uri(output_location)
            return s3_helpers.delete_prefix(self._s3, bucket, prefix.rstrip("/") + "/")
        folder = Path(output_location).resolve()
        # Only ever below the store's own folder: a corrupt location must not delete elsewhere.
        if not folder.is_relative_to(self._settings.store_dir.resolve()) or not folder.is_dir():
            return 0
        count = sum(1 for p in folder.iterdir() if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count

    def presigned_url(self, location: str, seconds: int, file_name: str) -> str | None:
        """A time-limited URL the object store serves itself; None for local files."""
        if not s3_helpers.is_uri(location):
            return None
        bucket, key = s3_helpers.parse_uri(location)
        return s3_helpers.presigned_get(self._s3_for_links, bucket, key, seconds, file_name)


def join(location: str, name: str) -> str:
    return f"{location.rstrip('/')}/{name}"
