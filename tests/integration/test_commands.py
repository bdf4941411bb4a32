"""Commands on Kafka: bad ones are refused with reasons and do not stop the next one;
a command sent twice makes one job."""

from __future__ import annotations

import uuid

from config.settings import Settings
from events.log_reader import read_to_end
from export_client.kafka_client import ExportClient
from export_contract import codec
from export_contract import models as ev
from tests.integration.conftest import TENANT_A, USER_A

SMALL = {
    "name": "small",
    "queryDefinition": {
        "source": "fact_trades",
        "columns": [{"name": "id"}],
        "filters": [{"column": "id", "operator": "<", "value": 100}],
    },
    "format": "CSV",
}


def job_events(settings: Settings, job_id: str) -> list[ev.Message]:
    """Every event of one job on export.events, read from the start of the log."""
    return [
        codec.decode(m.value() or b"")
        for m in read_to_end(settings.kafka_bootstrap_servers, settings.events_topic)
        if m.key() == job_id.encode()
    ]


def test_an_invalid_request_is_rejected_with_the_field_and_the_next_one_runs(
    client: ExportClient, settings: Settings
) -> None:
    client.publish_raw(f"{TENANT_A}:{USER_A}", b"\x00 this is not an Avro command")
    bad = {
        **SMALL,
        "queryDefinition": {
            **SMALL["queryDefinition"],
            "columns": [{"name": "id); DROP TABLE x; --"}],
        },
    }
    bad_job = client.request_export(TENANT_A, USER_A, bad)
    good_job = client.request_export(TENANT_A, USER_A, SMALL)

    rejected = client.wait_for_completion(bad_job, timeout=60)
    assert rejected.status.value == "FAILED"
    assert rejected.error_code == "INVALID_REQUEST"
    assert rejected.error_message is not None
    assert rejected.error_message.startswith("queryDefinition.columns[0].name: unknown column")
    completed = client.wait_for_completion(good_job, timeout=60)
    assert completed.status.value == "COMPLETED"
    assert completed.total_rows == 33


def test_a_request_without_the_create_role_is_rejected(client: ExportClient) -> None:
    job_id = client.request_export(TENANT_A, USER_A, SMALL, roles=("exports:read",))
    notice = client.wait_for_completion(job_id, timeout=60)
    assert (notice.status.value, notice.error_code) == ("FAILED", "FORBIDDEN")


def test_a_command_sent_twice_makes_one_job(client: ExportClient, settings: Settings) -> None:
    command_id = str(uuid.uuid4())
    first = client.request_export(TENANT_A, USER_A, SMALL, command_id=command_id)
    second = client.request_export(TENANT_A, USER_A, SMALL, command_id=command_id)
    # Commands on one key are handled in order: once a later one is done, so is the repeat.
    later = client.request_export(TENANT_A, USER_A, SMALL)
    assert first == second
    notice = client.wait_for_completion(first, timeout=60)
    assert notice.status.value == "COMPLETED"
    client.wait_for_completion(later, timeout=60)

    events = job_events(settings, first)
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("ExportRequested") == 1
    assert kinds.count("ExportCompleted") == 1
    sequences = [e.envelope.sequence for e in events if isinstance(e, ev.Event)]
    assert sequences == list(range(1, len(sequences) + 1))
