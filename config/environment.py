"""The environment variables the service reads, parsed and checked by pydantic-settings.

Each field is one variable, named exactly (`validation_alias`), with its type and default.
A value of the wrong type stops the process with the variable's name and the reason, rather
than a traceback from deep inside a worker. `config.settings.Settings.from_env` builds the
settings the code uses from this.

Outside development (`EXPORT_ENVIRONMENT=development`, which the local stack sets), the
worker and the API refuse to start on a secret that is missing, a development default, or
too short to sign with (`unsafe_settings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# The local stack's secrets: known to everyone who reads this repository, so never safe.
DEV_JWT_SECRET = "dev-only-export-jwt-secret-change-me-32b"
DEV_LINK_SECRET = "dev-only-export-link-secret-change-me-32"
# HMAC-SHA256 keys shorter than the hash give away strength (RFC 7518, section 3.2).
MIN_SECRET_LENGTH = 32


class SettingsError(Exception):
    """The environment does not give usable settings; the message names each variable."""


def _var(name: str, default: Any = None) -> Any:
    """A field read from exactly the variable `name`."""
    return Field(default=default, validation_alias=AliasChoices(name))


class Environment(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Literal["development", "production"] = _var("EXPORT_ENVIRONMENT", "production")
    kafka_bootstrap_servers: str = _var("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    admin_database_url: str = _var(
        "DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:15433/analytics"
    )
    reader_database_url: str = _var(
        "EXPORT_READER_DATABASE_URL",
        "postgresql://export_reader:export_reader@127.0.0.1:15433/analytics",
    )
    service_database_url: str = _var(
        "EXPORT_SERVICE_DATABASE_URL",
        "postgresql://export_service:export_service@127.0.0.1:15433/analytics",
    )
    store_dir: Path = _var("EXPORT_STORE_DIR", Path(".stack/exports"))
    worker_data_dir: Path = _var("EXPORT_WORKER_DATA_DIR", Path(".stack/worker"))
    jwt_secret: str | None = _var("EXPORT_JWT_SECRET")
    # Signs download links; a secret of its own, so links outlive a JWT key rotation.
    link_secret: str | None = _var("EXPORT_LINK_SECRET")
    api_port: int = _var("EXPORT_API_PORT", 8080)
    api_url: str | None = _var("EXPORT_API_URL")
    partitions: int = _var("EXPORT_TOPIC_PARTITIONS", 4)
    retention_days: int = _var("EXPORT_RETENTION_DAYS", 7)
    store: Literal["local", "s3"] = _var("EXPORT_STORE", "local")
    # `tenant=store,tenant=store`
    store_by_tenant: str = _var("EXPORT_STORE_BY_TENANT", "")
    s3_endpoint_url: str | None = _var("EXPORT_S3_ENDPOINT_URL")
    s3_public_endpoint_url: str | None = _var("EXPORT_S3_PUBLIC_ENDPOINT_URL")
    s3_region: str = _var("EXPORT_S3_REGION", "us-east-1")
    s3_bucket: str | None = _var("EXPORT_S3_BUCKET")
    s3_access_key_id: str | None = _var("EXPORT_S3_ACCESS_KEY_ID")
    s3_secret_access_key: str | None = _var("EXPORT_S3_SECRET_ACCESS_KEY")
    delivery_secrets_file: Path | None = _var("EXPORT_DELIVERY_SECRETS")
    sftp_known_hosts: Path | None = _var("EXPORT_SFTP_KNOWN_HOSTS")
    smtp_host: str | None = _var("EXPORT_SMTP_HOST")
    smtp_port: int = _var("EXPORT_SMTP_PORT", 587)
    smtp_sender: str = _var("EXPORT_SMTP_SENDER", "exports@localhost")
    smtp_username: str | None = _var("EXPORT_SMTP_USERNAME")
    smtp_password: str | None = _var("EXPORT_SMTP_PASSWORD")
    smtp_ca_file: Path | None = _var("EXPORT_SMTP_CA_FILE")
    delivery_max_attempts: int = _var("EXPORT_DELIVERY_MAX_ATTEMPTS", 5)
    delivery_retry_seconds: float = _var("EXPORT_DELIVERY_RETRY_SECONDS", 30.0)
    worker_http_host: str = _var("EXPORT_WORKER_HTTP_HOST", "127.0.0.1")
    worker_http_port: int = _var("EXPORT_WORKER_HTTP_PORT", 8081)
    log_format: Literal["json", "text"] = _var("EXPORT_LOG_FORMAT", "json")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _var("EXPORT_LOG_LEVEL", "INFO")
    stall_seconds: float = _var("EXPORT_STALL_SECONDS", 10.0)
    stall_rereads: int = _var("EXPORT_STALL_REREADS", 3)
    unready_seconds: float = _var("EXPORT_UNREADY_SECONDS", 240.0)
    lag_interval_seconds: float = _var("EXPORT_LAG_INTERVAL_SECONDS", 5.0)
    dev_login: bool = _var("EXPORT_DEV_LOGIN", False)
    # Four, the per-export bound: a 9M-row CSV file took 20.9 s with four streams against
    # 31.0 s with two on the 2-core machine (psql 19-22 s), for 3 MB more worker memory.
    streams_per_chunk: int = Field(
        default=4, ge=1, validation_alias=AliasChoices("EXPORT_STREAMS_PER_CHUNK")
    )
    streams_per_export: int = Field(
        default=4, ge=1, validation_alias=AliasChoices("EXPORT_STREAMS_PER_EXPORT")
    )
    streams_per_database: int = Field(
        default=8, ge=1, validation_alias=AliasChoices("EXPORT_STREAMS_PER_DATABASE")
    )
    min_rows_per_stream: int = Field(
        default=200_000, ge=1, validation_alias=AliasChoices("EXPORT_MIN_ROWS_PER_STREAM")
    )


def read_environment() -> Environment:
    """The variables of this process, or a SettingsError naming every bad one."""
    try:
        return Environment()
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']} (got {error['input']!r})"
            for error in exc.errors()
        ]
        raise SettingsError("bad settings: " + "; ".join(problems)) from None


def unsafe_settings(environment: Environment) -> list[str]:
    """Why these settings must not serve users; empty in development or when safe."""
    if environment.environment == "development":
        return []
    problems = []
    for variable, value, default in (
        ("EXPORT_JWT_SECRET", environment.jwt_secret, DEV_JWT_SECRET),
        ("EXPORT_LINK_SECRET", environment.link_secret, DEV_LINK_SECRET),
    ):
        if not value:
            problems.append(f"{variable} is not set")
        elif value == default:
            problems.append(f"{variable} is the development default, which anyone can read")
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(f"{variable} is shorter than {MIN_SECRET_LENGTH} characters")
    if environment.dev_login:
        problems.append("EXPORT_DEV_LOGIN lets anyone sign in as any user")
    return problems
