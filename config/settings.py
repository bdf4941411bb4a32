"""Configuration of the service, read once from the environment (see `make env`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from config.environment import (
    DEV_JWT_SECRET,
    DEV_LINK_SECRET,
    SettingsError,
    read_environment,
    unsafe_settings,
)
from extraction.segments import StreamPolicy


@dataclass(frozen=True)
class S3Settings:
    """The service's own S3 store (not a customer's bucket)."""

    endpoint_url: str | None
    region: str
    bucket: str
    access_key_id: str | None
    secret_access_key: str | None
    # Where users' browsers reach the store, when not at endpoint_url: download links are
    # signed for this address.
    public_endpoint_url: str | None = None


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    # A private CA (the local stack's self-signed certificate); None trusts the system's CAs.
    ca_file: Path | None = None


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str
    admin_database_url: str
    reader_database_url: str
    service_database_url: str
    store_dir: Path
    worker_data_dir: Path
    jwt_secret: str
    link_secret: str
    api_port: int
    api_url: str
    partitions: int = 4
    commands_topic: str = "export.commands"
    events_topic: str = "export.events"
    job_inbox_topic: str = "export.job-inbox"
    tasks_topic: str = "export.tasks"
    completions_topic: str = "export.completions"
    deliveries_topic: str = "export.deliveries"
    quota_inbox_topic: str = "export.quota-inbox"
    limits_topic: str = "export.limits"
    stops_topic: str = "export.stops"
    sweeps_topic: str = "export.sweeps"
    schedules_topic: str = "export.schedules"
    schedule_inbox_topic: str = "export.schedule-inbox"
    schedule_ticks_topic: str = "export.schedule-ticks"
    dead_letter_topic: str = "export.dead-letter"
    retention_days: int = 7
    default_max_rows_per_file: int = 1_000_000
    # An export's job state lists every chunk and file and travels as one Kafka message (of at
    # most 1 MB): 9,000 chunks took it past that and crashed the worker that kept it.
    max_files_per_export: int = 1_000
    progress_every_rows: int = 100_000
    progress_every_seconds: float = 2.0
    # Where new exports are kept: "local" (store_dir) or "s3" (the S3 store below), with
    # per-tenant exceptions.
    store: str = "local"
    store_by_tenant: dict[str, str] = field(default_factory=dict)
    s3_store: S3Settings | None = None
    delivery_secrets_file: Path | None = None
    sftp_known_hosts: Path | None = None
    smtp: SmtpSettings | None = None
    retention_sweep_seconds: float = 60.0
    # How often the leader asks which schedules have a slot due.
    schedule_tick_seconds: float = 10.0
    delivery_max_attempts: int = 5
    delivery_retry_seconds: float = 30.0
    # Each worker serves /livez, /readyz and /metrics; worker N on worker_http_port + N - 1.
    worker_http_host: str = "127.0.0.1"
    worker_http_port: int = 8081
    # "json" (one object per line, for machines) or "text" (for a terminal).
    log_format: str = "json"
    log_level: str = "INFO"
    # A partition with unread messages that hands its agent nothing for this long is read
    # again from the offset owed; after this many rereads without effect the worker exits.
    stall_seconds: float = 10.0
    stall_rereads: int = 3
    # A worker unready this long (a broker outage aside) exits, for a fresh one to start.
    unready_seconds: float = 240.0
    # How often consumer lag (every group, every partition) is read from the broker.
    lag_interval_seconds: float = 5.0
    # A sign-in button on the web page that mints a token for any demo user, for the local
    # stack only: off unless set, since anyone who can reach the API could use it.
    dev_login: bool = False
    # COPY streams per CSV or JSON chunk, and the bounds on them per export and per database
    # (extraction.segments.StreamPolicy).
    streams: StreamPolicy = field(default_factory=StreamPolicy)

    def store_for(self, tenant_id: str) -> str:
        return self.store_by_tenant.get(tenant_id, self.store)

    @classmethod
    def from_env(cls) -> Settings:
        """From the process's environment (`config.environment`); a SettingsError names
        every variable that does not parse."""
        env = read_environment()
        development = env.environment == "development"
        return cls(
            kafka_bootstrap_servers=env.kafka_bootstrap_servers,
            admin_database_url=env.admin_database_url,
            reader_database_url=env.reader_database_url,
            service_database_url=env.service_database_url,
            store_dir=env.store_dir.resolve(),
            worker_data_dir=env.worker_data_dir.resolve(),
            # Unset outside development: the worker and the API then refuse to start
            # (config.environment.unsafe_settings); tools that sign nothing still run.
            jwt_secret=env.jwt_secret or (DEV_JWT_SECRET if development else ""),
            link_secret=env.link_secret or (DEV_LINK_SECRET if development else ""),
            api_port=env.api_port,
            api_url=env.api_url or f"http://127.0.0.1:{env.api_port}",
            partitions=env.partitions,
            retention_days=env.retention_days,
            store=env.store,
            store_by_tenant=_pairs(env.store_by_tenant),
            s3_store=S3Settings(
                endpoint_url=env.s3_endpoint_url or None,
                region=env.s3_region,
                bucket=env.s3_bucket,
                access_key_id=env.s3_access_key_id or None,
                secret_access_key=env.s3_secret_access_key or None,
                public_endpoint_url=env.s3_public_endpoint_url or None,
            )
            if env.s3_bucket
            else None,
            delivery_secrets_file=_resolved(env.delivery_secrets_file),
            sftp_known_hosts=_resolved(env.sftp_known_hosts),
            smtp=SmtpSettings(
                host=env.smtp_host,
                port=env.smtp_port,
                sender=env.smtp_sender,
                username=env.smtp_username or None,
                password=env.smtp_password or None,
                ca_file=_resolved(env.smtp_ca_file),
            )
            if env.smtp_host
            else None,
            delivery_max_attempts=env.delivery_max_attempts,
            delivery_retry_seconds=env.delivery_retry_seconds,
            worker_http_host=env.worker_http_host,
            worker_http_port=env.worker_http_port,
            log_format=env.log_format,
            log_level=env.log_level,
            stall_seconds=env.stall_seconds,
            stall_rereads=env.stall_rereads,
            unready_seconds=env.unready_seconds,
            lag_interval_seconds=env.lag_interval_seconds,
            dev_login=env.dev_login,
            streams=StreamPolicy(
                per_chunk=env.streams_per_chunk,
                per_export=env.streams_per_export,
                per_database=env.streams_per_database,
                min_rows_per_stream=env.min_rows_per_stream,
            ),
        )


def refuse_unsafe_start(process: str) -> None:
    """Stop the worker or the API before it serves anyone on unsafe settings."""
    try:
        problems = unsafe_settings(read_environment())
    except SettingsError as exc:
        raise SystemExit(f"{process}: {exc}") from None
    if problems:
        raise SystemExit(
            f"{process}: refusing to start: {'; '.join(problems)}. Set them, or set "
            "EXPORT_ENVIRONMENT=development on a machine of your own."
        )


def _pairs(text: str) -> dict[str, str]:
    """`a=x,b=y` as a dict."""
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def _resolved(path: Path | None) -> Path | None:
    return path.resolve() if path else None
