"""Session settings every extraction transaction starts with."""

from __future__ import annotations

import json
from collections.abc import Mapping

# The tenant for row-level security; output settings that make text output stable
# (timestamps in UTC and ISO style, whatever the server's defaults are); and the request's
# values, which statements read back with current_setting (extraction.sql_builder).
# `set_config(..., true)` is the parameterised form of SET LOCAL: every value is bound,
# none is written into the statement.
_SETTINGS = (
    "SELECT set_config('app.tenant_id', {tenant}, true),"
    " set_config('TimeZone', 'UTC', true),"
    " set_config('DateStyle', 'ISO, YMD', true),"
    " set_config('IntervalStyle', 'iso_8601', true),"
    " (SELECT count(set_config(key, value, true)) FROM json_each_text({request}::json))"
)
# psycopg's placeholders, and ADBC's (PostgreSQL's own, by position).
SESSION_SETTINGS = _SETTINGS.format(tenant="%(tenant)s", request="%(request)s")
SESSION_SETTINGS_POSITIONAL = _SETTINGS.format(tenant="$1", request="$2")


def session_parameters(tenant_id: str, request: Mapping[str, str]) -> dict[str, str]:
    """The values SESSION_SETTINGS binds: the tenant, and the request's settings as JSON."""
    return {"tenant": tenant_id, "request": json.dumps(dict(request))}
