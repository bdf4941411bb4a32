"""The HTTP API: submit, watch progress, download, isolation between tenants, auth errors."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import uuid
import zipfile
from typing import Any

import httpx

from config.settings import Settings
from domain.signed_links import make_link
from tests.integration.conftest import TENANT_A, TENANT_B, USER_A, USER_B, api_client

REQUEST = {
    "name": "API export",
    "description": "from the API test",
    "queryDefinition": {
        "source": "fact_trades",
        "columns": [{"name": "id"}, {"name": "executed_at"}, {"name": "price"}, {"name": "notes"}],
        "filters": [{"column": "side", "operator": "=", "value": "BUY"}],
        "orderBy": [{"column": "id", "direction": "ASC"}],
    },
    "format": "CSV",
    "maxRowsPerFile": 40000,
}


def wait_for_status(api: httpx.Client, job_id: str, timeout: float = 120) -> list[dict[str, Any]]:
    """Poll the job until it ends; returns every view seen along the way."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(f"/v1/exports/{job_id}")
        if response.status_code == 200:
            seen.append(response.json())
            if seen[-1]["status"] in {"COMPLETED", "FAILED", "CANCELLED"}:
                return seen
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end; last seen {seen[-1:]}")


def test_submit_watch_and_download(settings: Settings) -> None:
    api = api_client(settings, TENANT_A, USER_A)
    submitted = api.post("/v1/exports", json=REQUEST)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    assert submitted.headers["location"] == f"/v1/exports/{job_id}"

    views = wait_for_status(api, job_id)
    job = views[-1]
    assert job["status"] == "COMPLETED", job["errorMessage"]
    assert job["processedRows"] == job["totalRows"] > 40000
    assert job["progressPercent"] == 100.0
    assert job["fileCount"] == len(range(0, job["totalRows"], 40000))
    assert job["name"] == "API export" and job["queryDefinition"]["source"] == "fact_trades"
    assert job["requestedBy"] == USER_A and job["tenantId"] == TENANT_A
    assert job["downloadUrl"].startswith(f"{settings.api_url}/v1/links/{job_id}/export.zip?")
    assert all(v["processedRows"] <= v["totalRows"] for v in views if v["totalRows"])

    files = api.get(f"/v1/exports/{job_id}/files").json()["files"]
    total_rows = 0
    for f in files:
        response = api.get(f["url"])
        assert response.status_code == 200
        assert hashlib.sha256(response.content).hexdigest() == f["sha256"]
        rows = list(csv.reader(io.StringIO(response.content.decode(), newline="")))
        total_rows += len(rows) - 1
    assert total_rows == job["totalRows"]
    several = api.get(f"/v1/exports/{job_id}/download")
    assert several.status_code == 300 and len(several.json()["files"]) == len(files)

    archive = api.get(several.json()["archive"])
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as bundle:
        assert bundle.namelist() == [f["name"] for f in files] + ["manifest.json"]
        for f in files:
            assert hashlib.sha256(bundle.read(f["name"])).hexdigest() == f["sha256"]
        manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["totalRows"] == job["totalRows"]
    assert api.get(f"/v1/exports/{job_id}/manifest").json() == manifest

    listing = api.get("/v1/exports", params={"status": "COMPLETED", "limit": 200}).json()
    assert job_id in {e["id"] for e in listing["exports"]}
    assert listing["total"] >= 1


def test_another_tenant_sees_nothing(settings: Settings) -> None:
    owner = api_client(settings, TENANT_A, USER_A)
    job_id = owner.post("/v1/exports", json=REQUEST).json()["id"]
    wait_for_status(owner, job_id)
    stranger = api_client(settings, TENANT_B, USER_B)
    for path in ("", "/files", "/download"):
        response = stranger.get(f"/v1/exports/{job_id}{path}")
        assert response.status_code == 404, path
    assert stranger.delete(f"/v1/exports/{job_id}").status_code == 404
    assert job_id not in {e["id"] for e in stranger.get("/v1/exports").json()["exports"]}


def test_a_job_not_ready_cannot_be_downloaded(settings: Settings) -> None:
    api = api_client(settings, TENANT_A, USER_A)
    bad = {
        **REQUEST,
        "delivery": {
            "method": "SFTP",
            "sftp": {"host": "h", "port": 22, "username": "u", "path": "/p/../../etc"},
        },
    }
    assert api.post("/v1/exports", json=bad).status_code == 400
    assert api.get(f"/v1/exports/{uuid.uuid4()}/download").status_code == 404


def test_invalid_requests_get_400_with_fields(settings: Settings) -> None:
    api = api_client(settings, TENANT_A, USER_A)
    body = {
        **REQUEST,
        "format": "XML",
        "queryDefinition": {**REQUEST["queryDefinition"], "source": "users"},
    }
    response = api.post("/v1/exports", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "INVALID_REQUEST"
    assert {d["field"] for d in response.json()["details"]} == {"format"}
    response = api.post(
        "/v1/exports",
        json={**REQUEST, "queryDefinition": {**REQUEST["queryDefinition"], "source": "users"}},
    )
    assert [d["field"] for d in response.json()["details"]] == ["queryDefinition.source"]


def test_tokens_and_roles_are_checked(settings: Settings) -> None:
    anonymous = httpx.Client(base_url=settings.api_url)
    assert anonymous.get("/v1/exports").status_code == 401
    forged = httpx.Client(
        base_url=settings.api_url, headers={"Authorization": "Bearer not.a.token"}
    )
    assert forged.get("/v1/exports").status_code == 401
    reader = api_client(settings, TENANT_A, USER_A, roles=["exports:read"])
    assert reader.get("/v1/exports").status_code == 200
    assert reader.post("/v1/exports", json=REQUEST).status_code == 403
    writer = api_client(settings, TENANT_A, USER_A, roles=["exports:create"])
    assert writer.get("/v1/exports").status_code == 403


def test_an_idempotency_key_makes_one_job(settings: Settings) -> None:
    api = api_client(settings, TENANT_A, USER_A)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = api.post("/v1/exports", json=REQUEST, headers=key).json()["id"]
    second = api.post("/v1/exports", json=REQUEST, headers=key).json()["id"]
    assert first == second


def test_cancelling_a_running_export(settings: Settings) -> None:
    api = api_client(settings, TENANT_A, USER_A)
    many_chunks = {**REQUEST, "maxRowsPerFile": 500}
    job_id = api.post("/v1/exports", json=many_chunks).json()["id"]
    deadline = time.monotonic() + 30
    while api.get(f"/v1/exports/{job_id}").status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.delete(f"/v1/exports/{job_id}").status_code == 202
    job = wait_for_status(api, job_id)[-1]
    assert job["status"] == "CANCELLED"
    assert job["processedRows"] < job["totalRows"]
    assert api.delete(f"/v1/exports/{job_id}").status_code == 400
    assert api.get(f"/v1/exports/{job_id}/download").status_code == 404


def test_openapi_is_served(settings: Settings) -> None:
    document = httpx.get(f"{settings.api_url}/openapi.json").json()
    assert "/v1/exports" in document["paths"]
    assert "/v1/exports/{job_id}/download" in document["paths"]


def test_signed_links_open_without_a_token_until_they_expire(settings: Settings) -> None:
    api = api_client(settings, TENANT_A, USER_A)
    job_id = api.post("/v1/exports", json=REQUEST).json()["id"]
    job = wait_for_status(api, job_id)[-1]
    files = api.get(f"/v1/exports/{job_id}/files").json()["files"]
    anonymous = httpx.Client(timeout=30)

    # Several files: the job's link is to all of them as one ZIP.
    bundle = anonymous.get(job["downloadUrl"])
    assert bundle.status_code == 200, bundle.text
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        assert archive.namelist() == [f["name"] for f in files] + ["manifest.json"]

    first = files[0]
    whole = api.get(first["url"]).content
    expires = int(time.time()) + 600
    link = make_link(
        settings.api_url, settings.link_secret, TENANT_A, job_id, first["name"], expires
    )
    assert anonymous.get(link).content == whole
    part = anonymous.get(link, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole[100:200]

    tampered = link[:-1] + ("A" if link[-1] != "A" else "B")
    assert anonymous.get(tampered).status_code == 403
    old = make_link(
        settings.api_url,
        settings.link_secret,
        TENANT_A,
        job_id,
        first["name"],
        int(time.time()) - 1,
    )
    assert anonymous.get(old).status_code == 410
    # A genuine link for another tenant cannot reach this tenant's job.
    foreign = make_link(
        settings.api_url, settings.link_secret, TENANT_B, job_id, first["name"], expires
    )
    assert anonymous.get(foreign).status_code == 404
