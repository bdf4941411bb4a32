"""Configuration of the service, read once from the environment (see `make env`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
    dead_letter_topic: str = "export.dead-letter"
    retention_days: int = 7
    default_max_rows_per_file: int = 1_000_000
    progress_every_rows: int = 100_000
    progress_every_seconds: float = 2.0

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
        )
