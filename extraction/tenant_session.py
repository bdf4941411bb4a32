"""Session settings every extraction transaction starts with."""

from __future__ import annotations

# The tenant for row-level security, and output settings that make text output stable:
# timestamps in UTC and ISO style, whatever the server's defaults are. `set_config(..., true)`
# is the parameterised form of SET LOCAL, so the tenant id is bound, never pasted.
TENANT_SETTINGS = (
    "SELECT set_config('app.tenant_id', %(tenant)s, true),"
    " set_config('TimeZone', 'UTC', true),"
    " set_config('DateStyle', 'ISO, YMD', true),"
    " set_config('IntervalStyle', 'iso_8601', true)"
)
