"""The client's tests against a running export service run only when they are told where it
is: KAFKA_BOOTSTRAP_SERVERS and EXPORT_API_URL (an API with its development sign-in on, as
the local stack's is). Files they download go to EXPORT_CLIENT_TEST_DOWNLOADS if set, so a
caller can compare them with the source."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from export_client import ExportApi, ExportClient


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("EXPORT_API_URL"):
        return
    skip = pytest.mark.skip(reason="no service given (KAFKA_BOOTSTRAP_SERVERS, EXPORT_API_URL)")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def session() -> dict[str, Any]:
    """A demo user's token, tenant and user id, from the development sign-in."""
    with ExportApi(os.environ["EXPORT_API_URL"]) as anonymous:
        return anonymous.dev_login()


@pytest.fixture
def api(session: dict[str, Any]) -> Iterator[ExportApi]:
    with ExportApi(os.environ["EXPORT_API_URL"], session["token"]) as signed_in:
        yield signed_in


@pytest.fixture
def kafka() -> Iterator[ExportClient]:
    client = ExportClient(os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    yield client
    client.close()


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    chosen = os.environ.get("EXPORT_CLIENT_TEST_DOWNLOADS")
    folder = Path(chosen) if chosen else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder
