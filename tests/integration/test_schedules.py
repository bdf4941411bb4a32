"""Schedules on the real stack, the clock moved by tick requests: a schedule every minute
starts exactly one job per slot, with the worker killed twice on the way; incremental runs
hold every row once, a failed run's rows going to the next; an ifEmpty SKIP schedule that
finds nothing records a skipped run; a bad schedule is refused with its field.

The schedules start in 2031, so the leader's own ticks (as of now) never reach them; the
test's ticks, as of each slot, decide them."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from config.settings import Settings
from domain.quota import LimitsOverride
from export_client.kafka_client import ExportClient
from export_contract.ids import job_id_for, run_command_id
from export_contract.models import DeleteSchedule
from projections.limits_book import publish_override
from tests.integration.conftest import (
    LOGS,
    PIDS,
    SMALL_ORDERS,
    SMALL_ORDERS_WHERE,
    TENANT_A,
    USER_A,
    USER_B,
    AdminDatabase,
    api_client,
    body_without_headers,
    psql_csv,
)

pytestmark = pytest.mark.slow
START = datetime(2031, 1, 1, 6, 0, tzinfo=UTC)
SLOTS = 10
KILLED_AT = (3, 7)


@pytest.fixture(autouse=True)
def delete_what_the_test_made(client: ExportClient, admin_db: AdminDatabase) -> Iterator[None]:
    """Each test's schedules are deleted after it, so that the next test's ticks, as of
    some time in 2031, do not run them too."""
    started = datetime.now(UTC)
    yield
    made = admin_db.execute(
        "SELECT id::text, tenant_id::text, owner_id::text FROM export_service.export_schedules"
        " WHERE status IN ('ACTIVE', 'PAUSED') AND created_at >= %s",
        [started],
    ).fetchall()
    for schedule_id, tenant_id, owner_id in made:
        client.change_schedule(tenant_id, owner_id, schedule_id, DeleteSchedule)


def every_minute(name: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "cron": "* * * * *",
        "timezone": "UTC",
        "exportRequest": SMALL_ORDERS,
        "startAt": START.isoformat(),
        **overrides,
    }


def tick(settings: Settings, as_of: datetime) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    producer.produce(settings.schedule_ticks_topic, value=json.dumps({"asOf": as_of.isoformat()}))
    assert producer.flush(10) == 0


def schedule_row(db: AdminDatabase, schedule_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = db.execute(
            "SELECT status, next_slot_at, rejection FROM export_service.export_schedules"
            " WHERE id = %s",
            [schedule_id],
        ).fetchone()
        if row is not None:
            return {"status": row[0], "next_slot_at": row[1], "rejection": row[2]}
        time.sleep(0.2)
    raise AssertionError(f"schedule {schedule_id} never reached the read model")


def runs(db: AdminDatabase, schedule_id: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT slot, run_number, job_id::text, status, rows, reason"
        " FROM export_service.schedule_runs WHERE schedule_id = %s ORDER BY slot",
        [schedule_id],
    ).fetchall()


def runs_within(
    db: AdminDatabase, schedule_id: str, count: int, settled: bool, timeout: float
) -> list[tuple[Any, ...]] | None:
    """The schedule's runs once `count` are decided (and, if `settled`, ended), or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = runs(db, schedule_id)
        if len(found) >= count and (not settled or all(r[3] != "RUNNING" for r in found)):
            return found
        time.sleep(0.2)
    return None


def wait_for_runs(
    db: AdminDatabase, schedule_id: str, count: int, settled: bool, timeout: float = 120
) -> list[tuple[Any, ...]]:
    found = runs_within(db, schedule_id, count, settled, timeout)
    if found is None:
        raise AssertionError(
            f"{count} runs not {'settled' if settled else 'decided'}: {runs(db, schedule_id)}\n"
            + what_the_stack_knows(db, schedule_id)
        )
    return found


def what_the_stack_knows(db: AdminDatabase, schedule_id: str) -> str:
    """The schedule's read-model row and the worker's log lines about it, for a failure."""
    row = db.execute(
        "SELECT status, next_slot_at, last_sequence, schedule_state"
        " FROM export_service.export_schedules WHERE id = %s",
        [schedule_id],
    ).fetchone()
    lines = [
        line[:400]
        for log in sorted(LOGS.glob("worker-*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if schedule_id in line or '"level": "ERROR"' in line or "Traceback" in line
    ]
    return f"read model: {row}\nworker log:\n" + "\n".join(lines[-40:])


def kill_worker() -> None:
    victim = int((PIDS / "worker-1.pid").read_text())
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while int((PIDS / "worker-1.pid").read_text() or 0) == victim:
        assert time.monotonic() < deadline, "the supervisor did not start worker-1 again"
        time.sleep(0.1)


def test_every_slot_starts_exactly_one_job_whatever_the_restarts(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase
) -> None:
    schedule_id = client.create_schedule(TENANT_A, USER_A, every_minute("every minute"))
    row = schedule_row(admin_db, schedule_id)
    assert row["status"] == "ACTIVE" and row["next_slot_at"] == START
    for n in range(SLOTS):
        slot = START + timedelta(minutes=n)
        tick(settings, slot + timedelta(seconds=5))
        if n in KILLED_AT:
            kill_worker()
        if runs_within(admin_db, schedule_id, n + 1, settled=False, timeout=60) is None:
            # The leader's timer ticks again every few seconds, so a tick lost with a killed
            # worker costs a slot only a delay; said here so that a lost tick stays visible.
            print(f"slot {n + 1} needed a second tick: {runs(admin_db, schedule_id)}")
            tick(settings, slot + timedelta(seconds=7))
            wait_for_runs(admin_db, schedule_id, n + 1, settled=False)
        # The same slot ticked again starts nothing more.
        tick(settings, slot + timedelta(seconds=6))

    found = wait_for_runs(admin_db, schedule_id, SLOTS, settled=True, timeout=240)
    slots = [START + timedelta(minutes=n) for n in range(SLOTS)]
    assert [r[0] for r in found] == slots
    assert [r[1] for r in found] == list(range(1, SLOTS + 1))
    assert [r[3] for r in found] == ["COMPLETED"] * SLOTS, found
    expected_jobs = [job_id_for(TENANT_A, run_command_id(schedule_id, s)) for s in slots]
    assert [r[2] for r in found] == expected_jobs
    jobs = admin_db.execute(
        "SELECT id::text, status FROM export_service.export_jobs"
        " WHERE job_state -> 'schedule' ->> 'schedule_id' = %s",
        [schedule_id],
    ).fetchall()
    assert sorted(jobs) == sorted((job, "COMPLETED") for job in expected_jobs)

    expected = psql_csv(
        settings,
        f"SELECT id FROM analytics.fact_orders WHERE {SMALL_ORDERS_WHERE} ORDER BY id",
        [],
    )
    for job_id in expected_jobs:
        paths = sorted(Path(settings.store_dir, TENANT_A, job_id).glob("part-*.csv"))
        assert body_without_headers(paths) == expected and expected


def test_an_empty_run_with_if_empty_skip_is_recorded_as_skipped(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase
) -> None:
    nothing = {
        **SMALL_ORDERS,
        "queryDefinition": {
            **SMALL_ORDERS["queryDefinition"],  # type: ignore[dict-item]
            "filters": [{"column": "id", "operator": "<", "value": 0}],
        },
    }
    spec = every_minute("nothing new", exportRequest=nothing, ifEmpty="SKIP")
    schedule_id = client.create_schedule(TENANT_A, USER_A, spec)
    schedule_row(admin_db, schedule_id)
    tick(settings, START + timedelta(seconds=5))
    (run,) = wait_for_runs(admin_db, schedule_id, 1, settled=True)
    assert run[3] == "SKIPPED" and run[4] == 0
    assert "ifEmpty is SKIP" in run[5]


def test_a_bad_schedule_is_refused_naming_the_field(
    client: ExportClient, admin_db: AdminDatabase
) -> None:
    cases = {
        "cron": every_minute("seconds", cron="* * * * * *"),
        "timezone": every_minute("nowhere", timezone="Atlantis/Capital"),
        "exportRequest.queryDefinition.source": every_minute(
            "no such table",
            exportRequest={
                **SMALL_ORDERS,
                "queryDefinition": {"source": "pg_shadow", "columns": [{"name": "id"}]},
            },
        ),
    }
    for field, spec in cases.items():
        schedule_id = client.create_schedule(TENANT_A, USER_A, spec)
        row = schedule_row(admin_db, schedule_id)
        assert row["status"] == "REJECTED", (field, row)
        assert row["rejection"]["field"] == field, row


# A tenant of its own each run, with the service's default limits (20 exports a day).
INCREMENTAL_USER = "0e0e0e0e-0000-4000-8000-00000000000e"
FIRST_ID = 2 * 10**12
ORDERS = {
    "name": "new orders",
    "queryDefinition": {
        "source": "fact_orders",
        "columns": [{"name": "id"}, {"name": "symbol"}],
        "orderBy": [{"column": "id"}],
    },
    "format": "CSV",
}
NEW_ORDERS = """
INSERT INTO analytics.fact_orders (id, tenant_id, order_date, created_at, symbol, side,
    order_type, quantity, status)
SELECT i, %(tenant)s, DATE '2031-01-01', TIMESTAMPTZ '2031-01-01 00:00Z', 'S' || i, 'BUY',
    'LIMIT', 1, 'NEW'
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
"""


@pytest.fixture
def tenant(admin_db: AdminDatabase) -> Iterator[str]:
    tenant_id = str(uuid.uuid4())
    yield tenant_id
    admin_db.execute("DELETE FROM analytics.fact_orders WHERE tenant_id = %s", [tenant_id])


def add_orders(db: AdminDatabase, tenant_id: str, first: int, count: int) -> None:
    db.execute(NEW_ORDERS, {"tenant": tenant_id, "first": first, "last": first + count - 1})


def incremental_schedule(
    client: ExportClient, admin_db: AdminDatabase, tenant: str, name: str
) -> str:
    """An incremental schedule of ORDERS every minute, once the read model has it active."""
    spec = every_minute(name, exportRequest=ORDERS, incremental=True)
    schedule_id = client.create_schedule(tenant, INCREMENTAL_USER, spec)
    assert schedule_row(admin_db, schedule_id)["status"] == "ACTIVE"
    return schedule_id


def run_ranges(
    db: AdminDatabase, schedule_id: str, status: str | None = None
) -> list[tuple[Any, ...]]:
    """(job id, key_after, key_through) of the schedule's runs (of `status` only, if given)."""
    return db.execute(
        "SELECT job_id::text, key_after, key_through FROM export_service.schedule_runs"
        " WHERE schedule_id = %s AND (%s::text IS NULL OR status = %s) ORDER BY slot",
        [schedule_id, status, status],
    ).fetchall()


def tenant_orders(settings: Settings, tenant: str) -> bytes:
    """The tenant's orders as psql writes them: what the runs' files must hold together."""
    return psql_csv(
        settings,
        f"SELECT id, symbol FROM analytics.fact_orders WHERE tenant_id = '{tenant}' ORDER BY id",
        ["symbol"],
    )


def test_incremental_runs_hold_every_row_exactly_once(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase, tenant: str
) -> None:
    schedule_id = incremental_schedule(client, admin_db, tenant, "incremental")
    # Rows added before each run; the third run finds none and, ifEmpty DELIVER, delivers
    # a file with only its header.
    batches = [50, 30, 0, 20]
    next_id = FIRST_ID
    for n, count in enumerate(batches):
        add_orders(admin_db, tenant, next_id, count)
        next_id += count
        tick(settings, START + timedelta(minutes=n, seconds=5))
        found = wait_for_runs(admin_db, schedule_id, n + 1, settled=True)
        assert found[-1][3] == "COMPLETED" and found[-1][4] == count, found

    ranges = run_ranges(admin_db, schedule_id)
    # Each run covers (key_after, key_through]: from the last successful run's mark to its own.
    assert [r[1:] for r in ranges] == [
        (None, FIRST_ID + 49),
        (FIRST_ID + 49, FIRST_ID + 79),
        (FIRST_ID + 79, FIRST_ID + 79),
        (FIRST_ID + 79, FIRST_ID + 99),
    ], ranges
    header = b"id,symbol\n"
    union = b""
    for job_id, key_after, key_through in ranges:
        folder = Path(settings.store_dir, tenant, job_id)
        paths = sorted(folder.glob("part-*.csv"))
        assert paths and [p.read_bytes()[: len(header)] for p in paths] == [header] * len(paths)
        union += body_without_headers(paths)
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["keyRange"] == {"after": key_after, "through": key_through}
    expected = tenant_orders(settings, tenant)
    assert union == expected and expected.count(b"\n") == sum(batches)


@contextmanager
def reader_cannot_log_in(admin_db: AdminDatabase) -> Iterator[None]:
    """The export role refused new connections: a connection the planner keeps still works,
    so a run is planned (its mark fixed) and then every attempt at a chunk fails."""
    admin_db.execute("ALTER ROLE export_reader NOLOGIN")
    try:
        yield
    finally:
        admin_db.execute("ALTER ROLE export_reader LOGIN")


def test_a_failed_incremental_run_leaves_its_rows_to_the_next(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase, tenant: str
) -> None:
    schedule_id = incremental_schedule(client, admin_db, tenant, "incremental, one run failed")
    add_orders(admin_db, tenant, FIRST_ID, 40)
    tick(settings, START + timedelta(seconds=5))
    assert wait_for_runs(admin_db, schedule_id, 1, settled=True)[0][3] == "COMPLETED"

    add_orders(admin_db, tenant, FIRST_ID + 40, 25)
    with reader_cannot_log_in(admin_db):
        tick(settings, START + timedelta(minutes=1, seconds=5))
        failed = wait_for_runs(admin_db, schedule_id, 2, settled=True, timeout=180)[-1]
    assert failed[3] == "FAILED", failed
    assert "database" in failed[5], failed

    add_orders(admin_db, tenant, FIRST_ID + 65, 10)
    tick(settings, START + timedelta(minutes=2, seconds=5))
    third = wait_for_runs(admin_db, schedule_id, 3, settled=True)[-1]
    assert third[3] == "COMPLETED" and third[4] == 35, third

    completed = run_ranges(admin_db, schedule_id, "COMPLETED")
    # The failed run did not move the mark: the third covers its rows and the new ones.
    assert [r[1:] for r in completed] == [(None, FIRST_ID + 39), (FIRST_ID + 39, FIRST_ID + 74)]
    union = b"".join(
        body_without_headers(sorted(Path(settings.store_dir, tenant, r[0]).glob("part-*.csv")))
        for r in completed
    )
    expected = tenant_orders(settings, tenant)
    assert union == expected and expected.count(b"\n") == 75


def wait_for_view(api: Any, schedule_id: str, check: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = api.get(f"/v1/schedules/{schedule_id}")
        if response.status_code == 200:
            view = response.json()
            if check(view):
                return view
        time.sleep(0.2)
    raise AssertionError(f"schedule {schedule_id} never got there: {view}")


def test_the_schedule_routes_create_change_pause_resume_list_and_delete(
    settings: Settings,
) -> None:
    with api_client(settings, TENANT_A, USER_A) as api:
        body = every_minute("via the api", cron="0 9 * * 1-5", timezone="Europe/Zurich")
        created = api.post("/v1/schedules", json=body)
        assert created.status_code == 202, created.text
        schedule_id = created.json()["id"]
        view = wait_for_view(api, schedule_id, lambda v: v["status"] == "ACTIVE")
        assert view["cronDescription"] == "At 09:00 on Monday through Friday"
        # 2031-01-01 is a Wednesday; 09:00 in Zurich in winter is 08:00 UTC.
        assert view["nextRuns"] == [
            "2031-01-01T08:00:00Z",
            "2031-01-02T08:00:00Z",
            "2031-01-03T08:00:00Z",
        ]
        changed = api.patch(f"/v1/schedules/{schedule_id}", json={"cron": "30 7 * * *"})
        assert changed.status_code == 202, changed.text
        wait_for_view(api, schedule_id, lambda v: v["cron"] == "30 7 * * *")
        assert api.post(f"/v1/schedules/{schedule_id}/pause").status_code == 202
        wait_for_view(api, schedule_id, lambda v: v["status"] == "PAUSED")
        assert api.post(f"/v1/schedules/{schedule_id}/resume").status_code == 202
        wait_for_view(api, schedule_id, lambda v: v["status"] == "ACTIVE")
        listed = api.get("/v1/schedules").json()["schedules"]
        assert schedule_id in [s["id"] for s in listed]
        assert api.get(f"/v1/schedules/{schedule_id}/runs").json() == {"runs": []}
        assert api.delete(f"/v1/schedules/{schedule_id}").status_code == 202
        wait_for_view(api, schedule_id, lambda v: v["status"] == "DELETED")
        assert schedule_id not in [s["id"] for s in api.get("/v1/schedules").json()["schedules"]]
        assert api.post(f"/v1/schedules/{schedule_id}/resume").status_code == 409
    with api_client(settings, TENANT_A, USER_B) as someone_else:
        assert someone_else.get(f"/v1/schedules/{schedule_id}").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"cron": "* * * * * *"}, "cron", "6 fields given"),
        ({"cron": "*/0 * * * *"}, "cron", "not a cron expression"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "unknown time zone"),
        ({"catchUp": "SOMETIMES"}, "catchUp", "Input should be"),
        ({"exportRequest": {**SMALL_ORDERS, "format": "DOCX"}}, "exportRequest.format", "Input"),
        (
            {"exportRequest": {**SMALL_ORDERS, "queryDefinition": {"source": "pg_shadow"}}},
            "exportRequest.queryDefinition.columns",
            "Field required",
        ),
        ({"endAt": "2030-01-01T00:00:00Z"}, "endAt", "must be after startAt"),
    ],
)
def test_the_api_refuses_a_bad_schedule_naming_the_field(
    settings: Settings, overrides: dict[str, Any], field: str, reason: str
) -> None:
    with api_client(settings, TENANT_A, USER_A) as api:
        refused = api.post("/v1/schedules", json=every_minute("bad", **overrides))
    assert refused.status_code == 400, refused.text
    details = refused.json()["details"]
    assert details[0]["field"] == field and reason in details[0]["reason"], details


def test_a_run_keeps_its_local_time_across_the_spring_change(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase
) -> None:
    # Europe/Zurich moves to summer time on 30 March 2031: 09:00 is 08:00 UTC the day
    # before and 07:00 UTC that day.
    spec = every_minute(
        "zurich mornings",
        cron="0 9 * * *",
        timezone="Europe/Zurich",
        startAt="2031-03-29T00:00:00+01:00",
    )
    schedule_id = client.create_schedule(TENANT_A, USER_A, spec)
    assert schedule_row(admin_db, schedule_id)["next_slot_at"] == datetime(
        2031, 3, 29, 8, 0, tzinfo=UTC
    )
    tick(settings, datetime(2031, 3, 29, 8, 0, 5, tzinfo=UTC))
    wait_for_runs(admin_db, schedule_id, 1, settled=True)
    # An hour before the new 09:00 nothing is due; at it, the second run starts.
    tick(settings, datetime(2031, 3, 30, 6, 0, 5, tzinfo=UTC))
    tick(settings, datetime(2031, 3, 30, 7, 0, 5, tzinfo=UTC))
    found = wait_for_runs(admin_db, schedule_id, 2, settled=True)
    assert [r[0] for r in found] == [
        datetime(2031, 3, 29, 8, 0, tzinfo=UTC),
        datetime(2031, 3, 30, 7, 0, tzinfo=UTC),
    ]
    assert [r[3] for r in found] == ["COMPLETED", "COMPLETED"], found


def test_a_user_past_the_schedule_limit_is_refused_naming_it(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase
) -> None:
    user = str(uuid.uuid4())
    publish_override(settings, TENANT_A, user, LimitsOverride(max_schedules=2), "tests")
    with api_client(settings, TENANT_A, user) as api:
        for n in range(2):
            created = api.post("/v1/schedules", json=every_minute(f"allowed {n}"))
            assert created.status_code == 202, created.text
            schedule_row(admin_db, created.json()["id"])
        refused = api.post("/v1/schedules", json=every_minute("one too many"))
        assert refused.status_code == 429, refused.text
        assert refused.json()["limit"] == "maxSchedules"
        assert "Schedule limit reached (2)" in refused.json()["message"]
    # The worker holds to it too, for a command sent straight to Kafka.
    schedule_id = client.create_schedule(TENANT_A, user, every_minute("over kafka"))
    row = schedule_row(admin_db, schedule_id)
    assert row["status"] == "REJECTED" and row["rejection"]["field"] == "maxSchedules", row
