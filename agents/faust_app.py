"""The one Faust app of a worker: its settings, topics and tables, declared in one place.

Made by `create_app` when a worker starts (not at import), from the settings; the agents
are plain handlers registered on it by `agents/worker.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TableT, TopicT

from agents.faust_patches import app_options
from config.settings import Settings
from config.topology import APP_GROUP


@dataclass(frozen=True)
class FaustApp:
    app: faust.App
    # Every topic an agent sends to, by name.
    topics: dict[str, TopicT]
    # Each job's state, keyed by job id: the fold of its events (domain.job.apply), as JSON.
    jobs: TableT
    # Each user's quota usage, keyed tenant:user: a domain.quota.QuotaUsage as JSON. Owned by
    # the command agent, which reads the user's commands and settlements co-partitioned.
    quotas: TableT
    # Each schedule's state, keyed by schedule id: the fold of its events
    # (domain.schedule.apply), as JSON.
    schedules: TableT


def create_app(settings: Settings, worker_id: str) -> FaustApp:
    app = faust.App(
        APP_GROUP,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        # Tables are rebuilt from their changelog topics on start; the log is the durable copy.
        store="memory://",
        datadir=str(settings.worker_data_dir / worker_id),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Few records per poll keep the member well inside max.poll.interval while an agent
        # plans a large export.
        broker_max_poll_records=20,
        # A worker that dies (SIGKILL, a lost machine) is out of the group after 10 s, not
        # Faust's default 60, so another worker takes over its partitions soon. Heartbeats
        # come from a background task, so a long message is not silence.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        # The worker's health and metrics have a server of their own (agents/health.py).
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        **app_options(),
    )
    names = [
        settings.commands_topic,
        settings.events_topic,
        settings.job_inbox_topic,
        settings.tasks_topic,
        settings.completions_topic,
        settings.deliveries_topic,
        settings.quota_inbox_topic,
        settings.stops_topic,
        settings.schedules_topic,
        settings.schedule_inbox_topic,
        settings.dead_letter_topic,
    ]
    topics = {name: app.topic(name, key_type=bytes, value_type=bytes) for name in names}
    # bytes makes Faust store keys and values as they are (raw), not as JSON.
    jobs = app.Table(
        "jobs", default=None, partitions=settings.partitions, key_type=bytes, value_type=bytes
    )
    quotas = app.Table(
        "quotas", default=None, partitions=settings.partitions, key_type=bytes, value_type=bytes
    )
    schedules = app.Table(
        "schedules", default=None, partitions=settings.partitions, key_type=bytes, value_type=bytes
    )
    return FaustApp(app, topics, jobs, quotas, schedules)
