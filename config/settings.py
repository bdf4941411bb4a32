"""Configuration of the service, read once from the environment (see `make env`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class S3Settings:
    """The service's own S3 store (not a customer's bucket)."""

    endpoint_url: str | None
    region: str
    bucket: str
    access_key_id: str | None
    secret_access_key: str | None


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
    dead_letter_topic: str = "export.dead-letter"
    retention_days: int = 7
    default_max_rows_per_file: int = 1_000_000
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
    # How often consumer lag (every group, every partition) is read from the broker.
    lag_interval_seconds: float = 5.0
    # A sign-in button on the web page that mints a token for any demo user, for the local
    # stack only: off unless set, since anyone who can reach the API could use it.
    dev_login: bool = False

    def store_for(self, tenant_id: str) -> str:
        return self.store_by_tenant.get(tenant_id, self.store)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        port = int(env.get("EXPORT_API_PORT", "8080"))
        return cls(
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
            admin_database_url=env.get(
                "DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:15433/analytics"
            ),
            reader_database_url=env.get(
                "EXPORT_READER_DATABASE_URL",
                "postgresql://export_reader:export_reader@127.0.0.1:15433/analytics",
            ),
            service_database_url=env.get(
                "EXPORT_SERVICE_DATABASE_URL",
                "postgresql://export_service:export_service@127.0.0.1:15433/analytics",
            ),
            store_dir=Path(env.get("EXPORT_STORE_DIR", ".stack/exports")).resolve(),
            worker_data_dir=Path(env.get("EXPORT_WORKER_DATA_DIR", ".stack/worker")).resolve(),
            # The development default is documented in the README; production sets its own.
            jwt_secret=env.get("EXPORT_JWT_SECRET", "dev-only-export-jwt-secret-change-me-32b"),
            # Signs download links; a secret of its own, so links outlive a JWT key rotation.
            link_secret=env.get("EXPORT_LINK_SECRET", "dev-only-export-link-secret-change-me-32"),
            api_port=port,
            api_url=env.get("EXPORT_API_URL", f"http://127.0.0.1:{port}"),
            partitions=int(env.get("EXPORT_TOPIC_PARTITIONS", "4")),
            retention_days=int(env.get("EXPORT_RETENTION_DAYS", "7")),
            store=env.get("EXPORT_STORE", "local"),
            store_by_tenant=_pairs(env.get("EXPORT_STORE_BY_TENANT", "")),
            s3_store=S3Settings(
                endpoint_url=env.get("EXPORT_S3_ENDPOINT_URL") or None,
                region=env.get("EXPORT_S3_REGION", "us-east-1"),
                bucket=env["EXPORT_S3_BUCKET"],
                access_key_id=env.get("EXPORT_S3_ACCESS_KEY_ID") or None,
                secret_access_key=env.get("EXPORT_S3_SECRET_ACCESS_KEY") or None,
            )
            if env.get("EXPORT_S3_BUCKET")
            else None,
            delivery_secrets_file=_path_or_none(env.get("EXPORT_DELIVERY_SECRETS")),
            sftp_known_hosts=_path_or_none(env.get("EXPORT_SFTP_KNOWN_HOSTS")),
            smtp=SmtpSettings(
                host=env["EXPORT_SMTP_HOST"],
                port=int(env.get("EXPORT_SMTP_PORT", "587")),
                sender=env.get("EXPORT_SMTP_SENDER", "exports@localhost"),
                username=env.get("EXPORT_SMTP_USERNAME") or None,
                password=env.get("EXPORT_SMTP_PASSWORD") or None,
                ca_file=_path_or_none(env.get("EXPORT_SMTP_CA_FILE")),
            )
            if env.get("EXPORT_SMTP_HOST")
            else None,
            delivery_max_attempts=int(env.get("EXPORT_DELIVERY_MAX_ATTEMPTS", "5")),
            delivery_retry_seconds=float(env.get("EXPORT_DELIVERY_RETRY_SECONDS", "30")),
            worker_http_host=env.get("EXPORT_WORKER_HTTP_HOST", "127.0.0.1"),
            worker_http_port=int(env.get("EXPORT_WORKER_HTTP_PORT", "8081")),
            log_format=env.get("EXPORT_LOG_FORMAT", "json"),
            log_level=env.get("EXPORT_LOG_LEVEL", "INFO"),
            stall_seconds=float(env.get("EXPORT_STALL_SECONDS", "10")),
            stall_rereads=int(env.get("EXPORT_STALL_REREADS", "3")),
            lag_interval_seconds=float(env.get("EXPORT_LAG_INTERVAL_SECONDS", "5")),
            dev_login=env.get("EXPORT_DEV_LOGIN", "false").lower() in ("1", "true", "yes"),
        )


def _pairs(text: str) -> dict[str, str]:
    """`a=x,b=y` as a dict."""
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def _path_or_none(text: str | None) -> Path | None:
    return Path(text).resolve() if text else None
