"""The worker's collaborators, built once from the settings and passed to whoever needs them.

Nothing here is built at import time: `agents/worker.py` calls `build` when a worker starts,
and tests build their own (or pass fakes to the handlers directly). This module sits at the
bottom of the import graph: it imports stores, projections and domain, and nothing imports
it but the worker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import psycopg

from config.settings import Settings
from domain import inbox
from domain.decisions import CompletionContext
from projections.limits_book import LimitsBook
from projections.replicated_view import ReplicatedView
from stores.export_store import ExportStore

log = logging.getLogger(__name__)


class ReadModelConnection:
    """One autocommit connection to the read model, opened on first use and again after a
    failure; used by one agent at a time (the quota copy), never across awaits of others."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: psycopg.AsyncConnection | None = None

    async def get(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        return self._conn

    def discard(self) -> None:
        """Forget a connection that failed; the next `get` opens a new one."""
        self._conn = None


@dataclass
class Collaborators:
    """Everything the handlers use besides Kafka itself."""

    settings: Settings
    store: ExportStore
    completion: CompletionContext
    limits: LimitsBook
    # Jobs that ended (cancelled, failed) while chunks may still be queued or running.
    stop_signals: ReplicatedView[inbox.StopJob]
    quota_read_model: ReadModelConnection

    def start(self) -> None:
        """Begin reading the topics that every worker reads whole."""
        self.limits.start()
        self.stop_signals.start()


def build(settings: Settings) -> Collaborators:
    return Collaborators(
        settings=settings,
        store=ExportStore(settings),
        completion=CompletionContext(
            api_url=settings.api_url,
            store_dir=str(settings.store_dir),
            retention=timedelta(days=settings.retention_days),
            link_secret=settings.link_secret,
            delivery_max_attempts=settings.delivery_max_attempts,
            delivery_retry_seconds=settings.delivery_retry_seconds,
        ),
        limits=LimitsBook(settings),
        stop_signals=ReplicatedView(
            settings.kafka_bootstrap_servers,
            settings.stops_topic,
            inbox.StopJob.model_validate_json,
        ),
        quota_read_model=ReadModelConnection(settings.service_database_url),
    )
