"""The one Faust app: its settings, topics and tables, declared once and imported by agents."""

from __future__ import annotations

import os
from datetime import timedelta

import faust

from agents.recovery_order import SeekThenResumeTableManager
from config.settings import Settings
from domain.decisions import CompletionContext
from stores.export_store import ExportStore

settings = Settings.from_env()
worker_id = os.environ.get("EXPORT_WORKER_ID", "1")

app = faust.App(
    "export-service",
    broker=f"kafka://{settings.kafka_bootstrap_servers}",
    # Tables are rebuilt from their changelog topics on start; the log is the durable copy.
    store="memory://",
    datadir=str(settings.worker_data_dir / worker_id),
    topic_partitions=settings.partitions,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    # A chunk extraction holds its partition for seconds; fewer records per poll keeps the
    # member well inside max.poll.interval (see ../shared/notes/faust-pitfalls.md).
    broker_max_poll_records=20,
    # A worker that dies (SIGKILL, a lost machine) is out of the group after 10 s, not Faust's
    # default 60, so another worker takes over its chunks soon. Heartbeats come from a
    # background task, so a long chunk does not count as silence.
    broker_session_timeout=10.0,
    broker_heartbeat_interval=2.0,
    web_enabled=False,
    key_serializer="raw",
    value_serializer="raw",
    # Faust's recovery resumes stream partitions before seeking them: see the module.
    TableManager=SeekThenResumeTableManager,
)

commands_topic = app.topic(settings.commands_topic, key_type=bytes, value_type=bytes)
events_topic = app.topic(settings.events_topic, key_type=bytes, value_type=bytes)
job_inbox_topic = app.topic(settings.job_inbox_topic, key_type=bytes, value_type=bytes)
tasks_topic = app.topic(settings.tasks_topic, key_type=bytes, value_type=bytes)
completions_topic = app.topic(settings.completions_topic, key_type=bytes, value_type=bytes)
deliveries_topic = app.topic(settings.deliveries_topic, key_type=bytes, value_type=bytes)
quota_inbox_topic = app.topic(settings.quota_inbox_topic, key_type=bytes, value_type=bytes)
stops_topic = app.topic(settings.stops_topic, key_type=bytes, value_type=bytes)
sweeps_topic = app.topic(settings.sweeps_topic, key_type=bytes, value_type=bytes)
dead_letter_topic = app.topic(settings.dead_letter_topic, key_type=bytes, value_type=bytes)

# Each job's state, keyed by job id: the fold of its events (domain.job.apply), stored as JSON.
jobs_table = app.Table(
    "jobs",
    default=None,
    partitions=settings.partitions,
    # bytes makes Faust store keys and values as they are (raw), not as JSON.
    key_type=bytes,
    value_type=bytes,
)

# Each user's quota usage, keyed tenant:user: a domain.quota.QuotaUsage as JSON. Owned by the
# command agent, which reads the user's commands and settlements from co-partitioned topics.
quotas_table = app.Table(
    "quotas",
    default=None,
    partitions=settings.partitions,
    key_type=bytes,
    value_type=bytes,
)

completion_context = CompletionContext(
    api_url=settings.api_url,
    store_dir=str(settings.store_dir),
    retention=timedelta(days=settings.retention_days),
    link_secret=settings.link_secret,
    delivery_max_attempts=settings.delivery_max_attempts,
    delivery_retry_seconds=settings.delivery_retry_seconds,
)

# Where export files are kept (local folders or the S3 store), shared by every agent.
export_store = ExportStore(settings)
