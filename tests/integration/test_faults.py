"""Faults and hostile input on the real stack: poison messages, database failures, hostile
requests, forged tokens, other tenants' ids, tenant isolation, and the audit trail."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from config.settings import Settings
from export_client.kafka_client import ExportClient
from tests.integration.conftest import (
    TENANT_A,
    TENANT_B,
    USER_A,
    AdminDatabase,
    api_client,
    body_without_headers,
    psql_csv,
    wait_for_job,
)

COLUMNS = ["id", "trade_date", "symbol", "price", "notes"]
READER_KILL = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE usename = 'export_reader' AND state = 'active' AND pid <> pg_backend_pid()"
)
# Every connection of the export role, also between fetches of a cursor (idle in transaction).
READER_KILL_ALL = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE usename = 'export_reader' AND pid <> pg_backend_pid()"
)


def whole_tenant_csv(rows_per_file: int) -> dict[str, Any]:
    return {
        "name": "fault test",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": c} for c in COLUMNS],
            "orderBy": [{"column": "id"}],
        },
        "format": "CSV",
        "maxRowsPerFile": rows_per_file,
    }


def source_rows(settings: Settings) -> bytes:
    return psql_csv(
        settings,
        f"SELECT {', '.join(COLUMNS)} FROM analytics.fact_trades"
        f" WHERE tenant_id = '{TENANT_A}' ORDER BY id",
        force_quote=["symbol", "notes"],
    )


def stored_files(settings: Settings, job_id: str, names: list[str]) -> list[Path]:
    return [settings.store_dir / TENANT_A / job_id / name for name in names]


# Poison messages


def dead_letters_after(settings: Settings, start: dict[int, int], count: int) -> list[Any]:
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": str(uuid.uuid4())}
    )
    consumer.assign([TopicPartition(settings.dead_letter_topic, p, o) for p, o in start.items()])
    found = []
    deadline = time.monotonic() + 60
    while len(found) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            found.append(message)
    consumer.close()
    return found


def dead_letter_ends(settings: Settings) -> dict[int, int]:
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": str(uuid.uuid4())}
    )
    topic = consumer.list_topics(settings.dead_letter_topic, timeout=10).topics[
        settings.dead_letter_topic
    ]
    ends = {
        p: consumer.get_watermark_offsets(TopicPartition(settings.dead_letter_topic, p))[1]
        for p in topic.partitions
    }
    consumer.close()
    return ends


def test_poison_on_every_input_topic_is_dead_lettered_and_work_goes_on(
    client: ExportClient, settings: Settings
) -> None:
    inputs = [
        settings.commands_topic,
        settings.job_inbox_topic,
        settings.tasks_topic,
        settings.deliveries_topic,
        settings.events_topic,
        settings.quota_inbox_topic,
        settings.sweeps_topic,
    ]
    start = dead_letter_ends(settings)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    poison = {
        topic: f"poison for {topic} {uuid.uuid4()}".encode() + b"\xff\x00" for topic in inputs
    }
    for topic, value in poison.items():
        producer.produce(topic, key=f"{TENANT_A}:{USER_A}".encode(), value=value)
    producer.flush(10)

    letters = dead_letters_after(settings, start, len(inputs))
    by_source = {dict(m.headers())["source-topic"].decode(): m for m in letters}
    assert set(by_source) == set(inputs)
    for topic, message in by_source.items():
        assert message.value() == poison[topic], "the original bytes are kept"
        assert dict(message.headers())["reason"], "with the reason"

    notice = client.wait_for_completion(
        client.request_export(TENANT_A, USER_A, whole_tenant_csv(1_000_000)), timeout=120
    )
    assert notice.status.value == "COMPLETED"


# Database faults


def test_a_terminated_backend_mid_chunk_is_retried_and_every_row_arrives_once(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase
) -> None:
    job_id = client.request_export(TENANT_A, USER_A, whole_tenant_csv(60_000))
    killed = 0
    deadline = time.monotonic() + 60
    while not killed and time.monotonic() < deadline:
        killed = len(admin_db.execute(READER_KILL).fetchall())
        time.sleep(0.02)
    assert killed, "no extraction was caught in flight"
    notice = client.wait_for_completion(job_id, timeout=120)
    assert notice.status.value == "COMPLETED", notice.error_message
    files = stored_files(settings, job_id, [f.name for f in notice.files])
    assert body_without_headers(files) == source_rows(settings)

    api = api_client(settings, TENANT_A, USER_A)
    events = api.get(f"/v1/exports/{job_id}/events").json()["events"]
    progress = [e["processedRows"] for e in events if e["type"] == "ExportProgressed"]
    assert progress == sorted(progress), "progress never goes backwards"


def test_a_database_that_keeps_failing_fails_the_job_with_the_reason(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase
) -> None:
    request = {**whole_tenant_csv(1_000_000), "format": "EXCEL"}
    job_id = client.request_export(TENANT_A, USER_A, request)
    api = api_client(settings, TENANT_A, USER_A)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = api.get(f"/v1/exports/{job_id}")
        if response.status_code == 200 and response.json()["status"] == "PROCESSING":
            break
        time.sleep(0.05)
    stop = threading.Event()

    def keep_killing() -> None:
        with psycopg.connect(settings.admin_database_url, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute(READER_KILL_ALL)
                time.sleep(0.05)

    killer = threading.Thread(target=keep_killing)
    killer.start()
    try:
        notice = client.wait_for_completion(job_id, timeout=90)
    finally:
        stop.set()
        killer.join()
    assert notice.status.value == "FAILED"
    assert notice.error_code == "SOURCE_UNAVAILABLE"
    assert "the database failed 4 times" in (notice.error_message or "")


# Hostile requests through Kafka


HOSTILE = [
    {"queryDefinition": {"source": "pg_authid", "columns": [{"name": "rolpassword"}]}},
    {"queryDefinition": {"source": "fact_trades", "columns": [{"name": "id; DROP TABLE x"}]}},
    {
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id"}],
            "filters": [{"column": "symbol", "operator": "=", "value": "x'); DROP TABLE y;--"}],
        }
    },
    {
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id"}],
            "filters": [{"column": "id", "operator": "OR 1=1 --", "value": 1}],
        }
    },
    {
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id", "alias": 'x" FROM pg_authid --'}],
        }
    },
    {
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id"}],
            "orderBy": [{"column": "(SELECT 1)"}],
        }
    },
    {
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "id"}],
            "filters": [{"column": "tenant_id", "operator": "=", "value": TENANT_B}],
        }
    },
]


def ended(api: httpx.Client, job_id: str) -> dict[str, Any]:
    return wait_for_job(api, job_id, {"COMPLETED", "FAILED"})


def fact_fingerprint(admin_db: AdminDatabase) -> list[Any]:
    return [
        admin_db.execute(f"SELECT count(*), sum(id) FROM analytics.{t}").fetchone()
        for t in ("fact_trades", "fact_quotes", "fact_orders")
    ]


@pytest.fixture
def statement_log(admin_db: AdminDatabase) -> Iterator[Path]:
    """Every statement of the export role logged, for the length of the test."""
    admin_db.execute("ALTER ROLE export_reader SET log_statement = 'all'")
    yield Path(__file__).resolve().parents[2] / ".stack/logs/postgres.log"
    admin_db.execute("ALTER ROLE export_reader RESET log_statement")


STATEMENT = re.compile(r"(?:statement|execute [^:]*): ")
QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


def outside_quotes(statement: str) -> str:
    """The statement with its quoted literals and quoted identifiers taken out."""
    return QUOTED.sub(" ", statement)


def test_hostile_commands_are_rejected_change_nothing_and_never_reach_sql_as_text(
    client: ExportClient,
    settings: Settings,
    admin_db: AdminDatabase,
    statement_log: Path,
) -> None:
    before = fact_fingerprint(admin_db)
    start = statement_log.stat().st_size
    job_ids = []
    for i, part in enumerate(HOSTILE):
        request = {"name": f"hostile {i}", "format": "CSV", **part}
        job_ids.append(client.request_export(TENANT_A, USER_A, request))
    api = api_client(settings, TENANT_A, USER_A)
    for job_id, part in zip(job_ids, HOSTILE, strict=True):
        view = ended(api, job_id)
        if view["status"] == "FAILED":
            assert view["errorCode"] == "INVALID_REQUEST" and view["errorMessage"]
        else:
            # Accepted: the SQL-looking text was data (a value, a quoted alias), and a filter
            # on tenant B gives tenant A no rows.
            assert view["status"] == "COMPLETED", part
    assert fact_fingerprint(admin_db) == before

    logged = statement_log.read_text(errors="replace")[start:].splitlines()
    # Simple-protocol statements log as "statement: ...", bound ones as "execute <name>: ..."
    # with their values on a separate "parameters:" line.
    statements = [line for line in logged if STATEMENT.search(line)]
    parameters = [line for line in logged if "parameters:" in line]
    assert statements, "the export role's statements were logged"
    for line in statements:
        text = STATEMENT.split(line, 1)[1]
        # Values never stand in a statement, not even quoted: they are bound parameters.
        assert "DROP TABLE y" not in text, line
        # Aliases stand only as quoted identifiers, and nothing of any request stands as SQL.
        bare = outside_quotes(text)
        for marker in ("DROP TABLE", "pg_authid", "(SELECT 1)", "OR 1=1", "rolpassword"):
            assert marker not in bare, line
    assert any("DROP TABLE y" in line for line in parameters), "the value travelled bound"


def test_hundreds_of_generated_hostile_commands_leave_every_agent_working(
    client: ExportClient, settings: Settings, admin_db: AdminDatabase
) -> None:
    """The unit property test's generator against the running service: what does not even
    parse is refused by the API with its fields (Kafka commands are Avro, so it cannot be sent
    as one); the rest goes through Kafka and every command ends, rejected with a reason or run
    safely. The database is unchanged, and the service still exports."""
    from pydantic import ValidationError

    from export_contract.request import ExportRequest
    from tests.unit.test_hostile_requests import hostile_payloads

    before = fact_fingerprint(admin_db)
    job_ids: list[str] = []
    api = api_client(settings, TENANT_A, USER_A)

    @hypothesis_settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(hostile_payloads())
    def send(payload: dict[str, Any]) -> None:
        query = payload.get("queryDefinition")
        if isinstance(query, dict) and isinstance(query.get("filters"), list):
            # Accepted ones stay small: the point is the agents, not the bytes.
            query["filters"] = [
                *query["filters"],
                {"column": "id", "operator": "<=", "value": 3000},
            ]
        try:
            ExportRequest.model_validate(payload)
        except ValidationError:
            # As Python writes it: NaN and Infinity included, which strict JSON has not.
            body = json.dumps(payload).encode()
            refused = api.post(
                "/v1/exports", content=body, headers={"Content-Type": "application/json"}
            )
            assert refused.status_code == 400, refused.text
            assert all(d["field"] and d["reason"] for d in refused.json()["details"])
            return
        job_ids.append(client.request_export(TENANT_A, USER_A, payload))

    send()
    views = [ended(api, job_id) for job_id in job_ids]
    assert len(views) == len(set(job_ids)) >= 100
    for view in views:
        if view["status"] == "FAILED":
            assert view["errorCode"] in {"INVALID_REQUEST", "FORBIDDEN"}, view
            assert view["errorMessage"]
    assert fact_fingerprint(admin_db) == before
    notice = client.wait_for_completion(
        client.request_export(TENANT_A, USER_A, whole_tenant_csv(1_000_000)), timeout=120
    )
    assert notice.status.value == "COMPLETED"


# Tokens and other tenants


def forged(settings: Settings, **changes: Any) -> str:
    claims: dict[str, Any] = {
        "sub": USER_A,
        "tenant_id": TENANT_A,
        "roles": ["exports:read", "exports:create"],
        "exp": int(time.time()) + 600,
    }
    claims.update({k: v for k, v in changes.items() if k != "secret"})
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, changes.get("secret", settings.jwt_secret), algorithm="HS256")


def unsigned(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]


def test_bad_tokens_get_401(settings: Settings) -> None:
    tokens = {
        "expired": forged(settings, exp=int(time.time()) - 10),
        "wrongly signed": forged(settings, secret="not-the-secret-not-the-secret-xx"),
        "alg none": unsigned({"sub": USER_A, "tenant_id": TENANT_A, "roles": ["exports:read"]}),
        "no tenant": forged(settings, tenant_id=None),
        "tenant not a uuid": forged(settings, tenant_id="acme"),
        "garbage": "not.a.token",
    }
    for what, token in tokens.items():
        response = httpx.get(
            f"{settings.api_url}/v1/exports", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, what


def test_another_tenants_job_is_not_found_on_every_route(
    client: ExportClient, settings: Settings
) -> None:
    job_id = client.request_export(TENANT_A, USER_A, whole_tenant_csv(1_000_000))
    client.wait_for_completion(job_id, timeout=120)
    stranger = api_client(settings, TENANT_B, USER_A)  # the same user id, another tenant
    for path in ("", "/files", "/download", "/archive", "/manifest", "/events"):
        assert stranger.get(f"/v1/exports/{job_id}{path}").status_code == 404, path
    assert stranger.delete(f"/v1/exports/{job_id}").status_code == 404


def test_the_audit_trail_lists_the_jobs_events_in_order(
    client: ExportClient, settings: Settings
) -> None:
    job_id = client.request_export(TENANT_A, USER_A, whole_tenant_csv(200_000))
    client.wait_for_completion(job_id, timeout=120)
    events = api_client(settings, TENANT_A, USER_A).get(f"/v1/exports/{job_id}/events").json()
    trail = events["events"]
    assert [e["envelope"]["sequence"] for e in trail] == list(range(1, len(trail) + 1))
    kinds = [e["type"] for e in trail]
    assert kinds[:2] == ["ExportRequested", "ExportAccepted"] and kinds[-1] == "ExportCompleted"
    assert kinds.count("ChunkExtracted") == 2
    assert trail[0]["envelope"]["userId"] == USER_A
    assert trail[0]["request"]["name"] == "fault test"


# Tenant isolation, twice


filters = st.lists(
    st.one_of(
        st.builds(
            lambda v: {"column": "symbol", "operator": "=", "value": v},
            st.sampled_from(["AAPL", "MSFT", "VOD.L", "x"]),
        ),
        st.builds(
            lambda v: {"column": "id", "operator": "<=", "value": v},
            st.integers(min_value=0, max_value=2_000_000),
        ),
        st.builds(
            lambda v: {"column": "tenant_id", "operator": "=", "value": v},
            st.sampled_from([TENANT_A, TENANT_B]),
        ),
        st.builds(
            lambda v: {"column": "notes", "operator": "LIKE", "value": v},
            st.sampled_from(["%", "%a%", "tenant%"]),
        ),
    ),
    max_size=3,
)


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(filters)
def test_an_export_never_holds_another_tenants_rows(
    settings: Settings, chosen: list[dict[str, Any]]
) -> None:
    from domain.validation import validate_request
    from export_contract.plan import ChunkPlan
    from extraction import sql_builder
    from extraction.tenant_session import SESSION_SETTINGS, session_parameters

    request = {
        "name": "isolation",
        "format": "CSV",
        "queryDefinition": {
            "source": "fact_trades",
            "columns": [{"name": "tenant_id"}, {"name": "id"}],
            "filters": chosen,
        },
    }
    _, query = validate_request(request)
    chunk = ChunkPlan(index=1, first_row=0, row_count=10**9, key_min=None, key_max=30_000)
    with psycopg.connect(settings.reader_database_url) as conn, conn.transaction():
        conn.execute(
            SESSION_SETTINGS, session_parameters(TENANT_A, sql_builder.request_settings(query))
        )
        rows = conn.execute(sql_builder.select_chunk(query, TENANT_A, chunk)).fetchall()
    assert {str(r[0]) for r in rows} <= {TENANT_A}


def test_row_level_security_alone_keeps_tenants_apart(settings: Settings) -> None:
    from extraction.tenant_session import SESSION_SETTINGS, session_parameters

    with psycopg.connect(settings.reader_database_url) as conn, conn.transaction():
        conn.execute(SESSION_SETTINGS, session_parameters(TENANT_A, {}))
        tenants = conn.execute(
            "SELECT DISTINCT tenant_id FROM analytics.fact_trades"
            " UNION SELECT DISTINCT tenant_id FROM analytics.fact_quotes"
            " UNION SELECT DISTINCT tenant_id FROM analytics.fact_orders"
        ).fetchall()
    assert [str(t[0]) for t in tenants] == [TENANT_A]
    with psycopg.connect(settings.reader_database_url) as conn:
        # Without a tenant set, the export role sees nothing at all.
        assert conn.execute("SELECT count(*) FROM analytics.fact_trades").fetchone() == (0,)
