"""The commands against a fake API (httpx.MockTransport): exit codes, stdout and stderr."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from cli import main as cli_main
from cli.config import Config, NoToken
from cli.errors import FAILED, INTERRUPTED, USAGE, error_lines, exit_code_for
from cli.request_flags import FlagError
from export_client.api_client import ApiError, ExportApi

Handler = Callable[[httpx.Request], httpx.Response]
JOB = "5b6c1f55-0000-5000-8000-000000000001"
SUBMIT = ["submit", "--source", "fact_orders", "--columns", "id"]
BODY = b"id\n1\n2\n"
SHA = hashlib.sha256(BODY).hexdigest()


class FakeApi:
    """Routes by (method, path) to canned answers; records what it was sent."""

    def __init__(self, routes: dict[tuple[str, str], Handler | httpx.Response]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"error": "NOT_FOUND", "message": "no such route"})
        return answer(request) if callable(answer) else answer


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("EXPORT_TOKEN", "EXPORT_TOKEN_FILE", "EXPORT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr("cli.watch.time.sleep", lambda _s: None)


def serve(monkeypatch: pytest.MonkeyPatch, fake: FakeApi) -> FakeApi:
    def open_api(config: Config, with_token: bool = True) -> ExportApi:
        token = config.resolve_token() if with_token else None
        return ExportApi(config.api_url, token, transport=httpx.MockTransport(fake))

    monkeypatch.setattr(cli_main, "open_api", open_api)
    return fake


def run(args: list[str], token: str | None = "tok", **kwargs: Any) -> Result:
    env = {"EXPORT_TOKEN": token} if token else {}
    return CliRunner().invoke(cli_main.app, args, env=env, **kwargs)


def sse(*events: tuple[str, dict[str, Any]]) -> httpx.Response:
    text = ": hello\n\n" + "".join(
        f"event: {name}\nid: {n}\ndata: {json.dumps(data)}\n\n"
        for n, (name, data) in enumerate(events, 1)
    )
    return httpx.Response(200, text=text, headers={"Content-Type": "text/event-stream"})


def job(status: str, rows: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": JOB,
        "name": "orders",
        "status": status,
        "processedRows": rows,
        "totalRows": 2,
        **extra,
    }


ACCEPTED = httpx.Response(202, json={"id": JOB, "commandId": "c", "status": "PENDING"})
FILES = httpx.Response(
    200, json={"files": [{"name": "part-00001.csv", "rows": 2, "bytes": 7, "sha256": SHA}]}
)
REFUSED = httpx.Response(
    400,
    json={
        "error": "INVALID_REQUEST",
        "message": "queryDefinition.columns[0].name: unknown column 'idx'",
        "details": [{"field": "queryDefinition.columns[0].name", "reason": "unknown column 'idx'"}],
    },
)


def test_a_refused_request_exits_1_naming_the_field_and_its_flag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve(monkeypatch, FakeApi({("POST", "/v1/exports"): REFUSED}))
    result = run(SUBMIT)
    assert result.exit_code == FAILED
    assert "queryDefinition.columns[0].name [--columns]: unknown column 'idx'" in result.stderr
    assert result.stdout == ""


def test_with_json_the_error_is_the_one_document_on_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, FakeApi({("POST", "/v1/exports"): REFUSED}))
    result = run([*SUBMIT, "--json"])
    assert result.exit_code == FAILED
    document = json.loads(result.stdout)
    assert document["error"] == "INVALID_REQUEST"
    assert document["details"][0]["field"] == "queryDefinition.columns[0].name"


@pytest.mark.parametrize(
    "args",
    [
        ["submit", "--source", "fact_orders"],
        [*SUBMIT, "--date-from", "2024-01-01"],
        [*SUBMIT, "--format", "xml"],
        [*SUBMIT, "--filter", "id ~ 3"],
        [*SUBMIT, "--no-such-flag"],
        ["list", "--limit", "0"],
        ["status"],
        ["login"],
    ],
)
def test_bad_usage_exits_2_before_any_request(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    fake = serve(monkeypatch, FakeApi({}))
    result = run(args)
    assert result.exit_code == USAGE, result.output
    assert fake.requests == []


def test_no_token_says_how_to_get_one() -> None:
    result = run(["list"], token=None)
    assert result.exit_code == FAILED
    assert "EXPORT_TOKEN" in result.stderr and "exportctl login --dev" in result.stderr


def test_submit_without_wait_prints_the_id(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = serve(monkeypatch, FakeApi({("POST", "/v1/exports"): ACCEPTED}))
    result = run([*SUBMIT, "--filter", "id<100", "--idempotency-key", "k1"])
    assert result.exit_code == 0
    assert JOB in result.stdout
    sent = fake.requests[0]
    assert sent.headers["idempotency-key"] == "k1"
    assert sent.headers["authorization"] == "Bearer tok"
    assert json.loads(sent.content)["queryDefinition"]["filters"] == [
        {"column": "id", "operator": "<", "value": "100"}
    ]


def test_submit_wait_json_prints_the_final_job_with_its_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = sse(("job", job("PROCESSING", 1)), ("done", job("COMPLETED", 2)))
    serve(
        monkeypatch,
        FakeApi(
            {
                ("POST", "/v1/exports"): ACCEPTED,
                ("GET", f"/v1/exports/{JOB}/progress"): stream,
                ("GET", f"/v1/exports/{JOB}/files"): FILES,
            }
        ),
    )
    result = run([*SUBMIT, "--wait", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "COMPLETED"
    assert document["files"][0]["sha256"] == SHA


def test_submit_wait_shows_the_files_when_done(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = sse(("job", job("PROCESSING", 1)), ("done", job("COMPLETED", 2, fileSizeBytes=7)))
    serve(
        monkeypatch,
        FakeApi(
            {
                ("POST", "/v1/exports"): ACCEPTED,
                ("GET", f"/v1/exports/{JOB}/progress"): stream,
                ("GET", f"/v1/exports/{JOB}/files"): FILES,
            }
        ),
    )
    result = run([*SUBMIT, "--wait"])
    assert result.exit_code == 0, result.output
    assert "COMPLETED" in result.stdout and "part-00001.csv" in result.stdout
    assert SHA[:12] in result.stdout


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED"])
def test_submit_wait_exits_1_when_the_job_does_not_complete(
    monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    final = job(status, 1, errorCode="SOURCE_UNAVAILABLE", errorMessage="the database went away")
    serve(
        monkeypatch,
        FakeApi(
            {
                ("POST", "/v1/exports"): ACCEPTED,
                ("GET", f"/v1/exports/{JOB}/progress"): sse(("done", final)),
            }
        ),
    )
    result = run([*SUBMIT, "--wait"])
    assert result.exit_code == FAILED
    assert status in result.stderr and "the database went away" in result.stderr
    as_json = run([*SUBMIT, "--wait", "--json"])
    assert as_json.exit_code == FAILED
    assert json.loads(as_json.stdout)["status"] == status


def test_waiting_outlasts_the_moment_before_the_read_model_has_the_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = iter(
        [
            httpx.Response(404, json={"error": "NOT_FOUND", "message": "Export job not found"}),
            sse(("job", job("QUEUED"))),  # then the stream breaks off: reconnect
            sse(("done", job("COMPLETED", 2))),
        ]
    )
    serve(
        monkeypatch,
        FakeApi(
            {
                ("POST", "/v1/exports"): ACCEPTED,
                ("GET", f"/v1/exports/{JOB}/progress"): lambda _r: next(answers),
                ("GET", f"/v1/exports/{JOB}/files"): FILES,
            }
        ),
    )
    result = run([*SUBMIT, "--wait", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "COMPLETED"


def test_an_unreachable_api_exits_1_with_its_address(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    serve(monkeypatch, FakeApi({("GET", "/v1/exports"): refuse}))
    result = run(["--api-url", "http://nowhere:1", "list"])
    assert result.exit_code == FAILED
    assert "cannot reach the export API at http://nowhere:1" in result.stderr


def test_estimate_over_quota_exits_1_and_says_which_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = {
        "rows": 5_000_000,
        "rowsExact": False,
        "bytes": 10**9,
        "files": 5,
        "chunks": 20,
        "seconds": 40.0,
        "fitsQuota": False,
        "quotaProblems": [{"field": "dailyRows", "reason": "5,000,000 rows, 1,000 left today"}],
    }
    serve(
        monkeypatch,
        FakeApi({("POST", "/v1/exports/estimate"): httpx.Response(200, json=answer)}),
    )
    result = run(["estimate", "--source", "fact_trades", "--columns", "id"])
    assert result.exit_code == FAILED
    assert "estimated" in result.stdout and "over quota" in result.stdout
    assert "dailyRows: 5,000,000 rows, 1,000 left today" in result.stdout
    assert json.loads(run(["--json", "estimate", "-s", "x", "-c", "id"]).stdout) == answer


def test_cancel_of_a_finished_job_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    refusal = httpx.Response(
        400, json={"error": "NOT_CANCELLABLE", "message": "Cannot cancel completed export"}
    )
    serve(monkeypatch, FakeApi({("DELETE", f"/v1/exports/{JOB}"): refusal}))
    result = run(["cancel", JOB])
    assert result.exit_code == FAILED
    assert "Cannot cancel completed export (NOT_CANCELLABLE, HTTP 400)" in result.stderr


def test_every_read_command_prints_json(monkeypatch: pytest.MonkeyPatch) -> None:
    quota = {
        "dailyRowsUsed": 10,
        "dailyRowsRemaining": 90,
        "dailyExportsUsed": 1,
        "dailyExportsRemaining": 9,
        "concurrentActive": 0,
        "concurrentLimit": 2,
    }
    routes: dict[tuple[str, str], Handler | httpx.Response] = {
        ("GET", "/v1/exports"): httpx.Response(200, json={"exports": [job("QUEUED")], "total": 1}),
        ("GET", f"/v1/exports/{JOB}"): httpx.Response(200, json=job("PROCESSING", 1)),
        ("GET", f"/v1/exports/{JOB}/events"): httpx.Response(
            200, json={"events": [{"type": "ExportRequested", "envelope": {"sequence": 1}}]}
        ),
        ("GET", "/v1/exports/quota"): httpx.Response(200, json=quota),
        ("GET", "/v1/catalogue"): httpx.Response(200, json={"sources": [], "operators": []}),
        ("GET", "/v1/me"): httpx.Response(200, json={"tenantId": "t", "userId": "u", "roles": []}),
    }
    serve(monkeypatch, FakeApi(routes))
    for args in (["list"], ["status", JOB], ["events", JOB], ["quota"], ["catalogue"], ["whoami"]):
        plain = run(args)
        assert plain.exit_code == 0, (args, plain.output)
        result = run([*args, "--json"])
        assert result.exit_code == 0, (args, result.output)
        json.loads(result.stdout)


def test_download_resumes_and_reports_bytes_fetched(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def file(request: httpx.Request) -> httpx.Response:
        start = int(request.headers.get("range", "bytes=0-")[6:-1])
        if not start:
            return httpx.Response(200, content=BODY)
        headers = {"Content-Range": f"bytes {start}-{len(BODY) - 1}/{len(BODY)}"}
        return httpx.Response(206, content=BODY[start:], headers=headers)

    manifest = {"files": [{"name": "part-00001.csv", "rows": 2, "bytes": 7, "sha256": SHA}]}
    serve(
        monkeypatch,
        FakeApi(
            {
                ("GET", f"/v1/exports/{JOB}/manifest"): httpx.Response(200, json=manifest),
                ("GET", f"/v1/exports/{JOB}/download"): file,
            }
        ),
    )
    (tmp_path / "part-00001.csv.part").write_bytes(BODY[:3])
    result = run(["download", JOB, "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)["files"]
    assert (entry["bytesFetched"], entry["resumed"], entry["verified"]) == (4, True, True)
    assert (tmp_path / "part-00001.csv").read_bytes() == BODY
    again = run(["download", JOB, "--out", str(tmp_path)])
    assert again.exit_code == 0 and "already here" in again.stdout


def test_download_with_a_checksum_mismatch_exits_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifest = {"files": [{"name": "part-00001.csv", "bytes": 7, "sha256": "0" * 64}]}
    serve(
        monkeypatch,
        FakeApi(
            {
                ("GET", f"/v1/exports/{JOB}/manifest"): httpx.Response(200, json=manifest),
                ("GET", f"/v1/exports/{JOB}/download"): httpx.Response(200, content=BODY),
            }
        ),
    )
    result = run(["download", JOB, "--out", str(tmp_path), "--json"])
    assert result.exit_code == FAILED
    assert json.loads(result.stdout)["error"] == "CHECKSUM_MISMATCH"
    assert list(tmp_path.iterdir()) == []


def test_login_dev_stores_the_token_for_its_owner_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    session = {
        "token": "dev.jwt.token",
        "tenantId": "t1",
        "userId": "u1",
        "roles": ["exports:read"],
        "expiresAt": "2026-12-02T12:00:00+00:00",
        "development": True,
    }
    fake = serve(
        monkeypatch,
        FakeApi(
            {
                ("POST", "/v1/session/dev-login"): httpx.Response(200, json=session),
                ("GET", "/v1/me"): httpx.Response(200, json={"tenantId": "t1", "userId": "u1"}),
            }
        ),
    )
    token_file = tmp_path / "nested" / "token"
    result = run(["--token-file", str(token_file), "login", "--dev", "--tenant", "t1"], token=None)
    assert result.exit_code == 0, result.output
    assert "DEVELOPMENT token" in result.stdout
    assert token_file.read_text().strip() == "dev.jwt.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert json.loads(fake.requests[0].content) == {"tenantId": "t1"}
    assert "authorization" not in fake.requests[0].headers
    # The next command sends the stored token.
    assert run(["--token-file", str(token_file), "whoami"], token=None).exit_code == 0
    assert fake.requests[-1].headers["authorization"] == "Bearer dev.jwt.token"


def test_login_on_an_api_without_dev_login_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, FakeApi({}))
    result = run(["login", "--dev"], token=None)
    assert result.exit_code == FAILED
    assert "offers no development login" in result.stderr


def test_token_precedence(tmp_path: Path) -> None:
    stored = tmp_path / "token"
    stored.write_text("from-file\n")
    absent = tmp_path / "absent"
    assert Config("u", "env", stored).resolve_token() == "env"
    assert Config("u", "env", stored, token_file_from_flag=True).resolve_token() == "from-file"
    flag_both = Config("u", "flag", stored, token_file_from_flag=True, token_from_flag=True)
    assert flag_both.resolve_token() == "flag"
    assert Config("u", None, stored).resolve_token() == "from-file"
    assert Config("u", "env", absent, token_file_from_flag=True).resolve_token() == "env"
    with pytest.raises(NoToken):
        Config("u", None, absent).resolve_token()


def test_exit_codes_and_error_lines() -> None:
    assert exit_code_for(FlagError("--x", "bad")) == USAGE
    assert exit_code_for(ApiError(403, "FORBIDDEN", "no")) == FAILED
    assert exit_code_for(KeyboardInterrupt()) == INTERRUPTED
    lines = error_lines(
        ApiError(400, "INVALID_REQUEST", "m", [{"field": "format", "reason": "not a format"}]),
        request_from_flags=True,
    )
    assert lines[1:] == ["  format [--format]: not a format"]
    assert error_lines(ApiError(404, "NOT_FOUND", "Export job not found")) == [
        "error: Export job not found (NOT_FOUND, HTTP 404)"
    ]


def test_a_failed_delivery_exits_1_though_the_files_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    final = job(
        "COMPLETED",
        2,
        delivery={"method": "EMAIL"},
        deliveryStatus="FAILED",
        deliveryError="the mail server refused",
    )
    serve(
        monkeypatch,
        FakeApi(
            {
                ("POST", "/v1/exports"): ACCEPTED,
                ("GET", f"/v1/exports/{JOB}/progress"): sse(("done", final)),
                ("GET", f"/v1/exports/{JOB}/files"): FILES,
            }
        ),
    )
    result = run([*SUBMIT, "--delivery", "email:a@b.c", "--wait"])
    assert result.exit_code == FAILED
    assert "DELIVERY FAILED" in result.stderr and "the mail server refused" in result.stderr
