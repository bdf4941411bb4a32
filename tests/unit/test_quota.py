"""Quotas as pure functions: check and reserve in one step, settle exactly once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain import quota

TODAY = date(2026, 11, 26)
LIMITS = quota.Limits()


def reserve_many(count: int, rows: int = 10, limits: quota.Limits = LIMITS) -> quota.QuotaUsage:
    usage = None
    for n in range(count):
        usage = quota.reserve(usage, limits, f"job-{n}", rows, TODAY)
    assert usage is not None
    return usage


def exceeded(usage: quota.QuotaUsage | None, rows: int, limits: quota.Limits = LIMITS) -> str:
    with pytest.raises(quota.QuotaExceeded) as caught:
        quota.reserve(usage, limits, "job-x", rows, TODAY)
    return caught.value.message


def test_the_seed_defaults() -> None:
    assert (
        LIMITS.max_rows_per_export,
        LIMITS.max_rows_per_day,
        LIMITS.max_concurrent_exports,
        LIMITS.max_exports_per_day,
        LIMITS.retention_days,
    ) == (10_000_000, 50_000_000, 3, 20, 7)


def test_a_fourth_concurrent_export_is_rejected_with_the_seed_message() -> None:
    usage = reserve_many(3)
    assert exceeded(usage, 1) == "Maximum concurrent exports reached (3)"


def test_settling_frees_the_slot_and_counts_the_actual_rows() -> None:
    usage = reserve_many(3, rows=100)
    settled = quota.settle(usage, "job-0", 90, TODAY)
    assert settled is not None and len(settled.active) == 2 and settled.rows == 290
    released = quota.settle(settled, "job-1", None, TODAY)
    assert released is not None and released.rows == 190 and released.exports == 3
    assert quota.settle(released, "job-1", None, TODAY) == released  # settled once only


def test_daily_exports_are_limited() -> None:
    usage = None
    for n in range(20):
        usage = quota.settle(quota.reserve(usage, LIMITS, f"j{n}", 1, TODAY), f"j{n}", 1, TODAY)
    assert exceeded(usage, 1) == "Daily export limit reached (20)"


def test_daily_rows_admit_exactly_what_fits() -> None:
    limits = quota.Limits(max_rows_per_day=1_000)
    usage = quota.reserve(None, limits, "a", 600, TODAY)
    assert exceeded(usage, 401, limits) == "Export exceeds maximum row limit (401 > 400)"
    full = quota.reserve(usage, limits, "b", 400, TODAY)
    assert exceeded(full, 1, limits) == "Daily row export limit reached (1,000)"


def test_rows_per_export_are_limited() -> None:
    message = exceeded(None, 10_000_001)
    assert message == "Export exceeds maximum row limit (10,000,001 > 10,000,000)"


def test_a_reservation_is_made_once_per_job() -> None:
    usage = quota.reserve(None, LIMITS, "same", 5, TODAY)
    assert quota.reserve(usage, LIMITS, "same", 5, TODAY) == usage


def test_a_new_day_starts_from_zero_but_keeps_running_exports() -> None:
    usage = reserve_many(3, rows=100)
    tomorrow = date(2026, 11, 27)
    summary = quota.summary(usage, LIMITS, tomorrow)
    assert summary["dailyRowsUsed"] == 0 and summary["concurrentActive"] == 3
    settled = quota.settle(usage, "job-0", 100, tomorrow)
    assert settled is not None and settled.rows == 0  # yesterday's rows stay yesterday's


def test_the_day_is_the_tenants() -> None:
    late_evening_utc = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    assert quota.local_day(late_evening_utc, "UTC") == date(2026, 11, 26)
    assert quota.local_day(late_evening_utc, "Europe/Berlin") == date(2026, 11, 27)


def test_overrides_apply_tenant_then_user() -> None:
    tenant = quota.LimitsOverride(max_concurrent_exports=5, max_exports_per_day=100)
    user = quota.LimitsOverride(max_concurrent_exports=1)
    limits = quota.effective_limits(LIMITS, tenant, user)
    assert (limits.max_concurrent_exports, limits.max_exports_per_day) == (1, 100)
    assert limits.max_rows_per_day == LIMITS.max_rows_per_day


def test_the_summary_has_the_seed_fields() -> None:
    summary = quota.summary(reserve_many(2, rows=7), LIMITS, TODAY)
    assert summary == {
        "dailyRowsUsed": 14,
        "dailyRowsRemaining": 50_000_000 - 14,
        "dailyExportsUsed": 2,
        "dailyExportsRemaining": 18,
        "concurrentActive": 2,
        "concurrentLimit": 3,
    }
