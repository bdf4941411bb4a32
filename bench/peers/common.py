"""Shared by the peer scripts: the reader's connection string and the benchmark query."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness import TENANT, select_sql

from config.settings import Settings

READER_URL = Settings.from_env().reader_database_url
SET_TENANT = (
    f"SELECT set_config('app.tenant_id', '{TENANT}', false), set_config('TimeZone', 'UTC', false)"
)
__all__ = ["READER_URL", "SET_TENANT", "select_sql"]
