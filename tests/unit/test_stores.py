"""Store locations and the S3 transfer settings, without a server."""

from __future__ import annotations

from stores import s3
from stores.export_store import join


def test_s3_locations_round_trip() -> None:
    location = s3.uri("export-store", "exports/t/j/part-00001.csv")
    assert s3.is_uri(location) and not s3.is_uri("/store/t/j/part-00001.csv")
    assert s3.parse_uri(location) == ("export-store", "exports/t/j/part-00001.csv")
    assert join("s3://b/exports/t/j/", "manifest.json") == "s3://b/exports/t/j/manifest.json"


def test_uploads_hold_a_bounded_number_of_parts() -> None:
    config = s3.transfer_config()
    assert config.multipart_chunksize == 8 << 20
    assert config.max_in_memory_upload_chunks * config.multipart_chunksize <= 32 << 20
