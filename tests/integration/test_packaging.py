"""The service outside this checkout: its wheel installed into a fresh virtual environment
runs a worker and the API against the stack; the client's wheel installs alone, without the
service's dependencies, and passes its own tests against the stack; the compose file passes
docker-compose's own check and sets what the services need; the image installs no
development package.

Slow (it builds wheels and virtual environments, about a minute with a warm cache):
marked `slow`; `make test` runs it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.environment import Environment
from config.settings import Settings
from export_client.kafka_client import ExportClient
from tests.integration.conftest import (
    ROOT,
    SMALL_ORDERS,
    SMALL_ORDERS_WHERE,
    TENANT_A,
    USER_A,
    body_without_headers,
    psql_csv,
    stack,
    wait_for_stack,
)

pytestmark = pytest.mark.slow
UV = Path(sys.executable).with_name("uv")
# A worker number and an API port of their own, beside the stack's.
WORKER_ID = "7"
API_PORT = 18099
# What a copy of the checkout to build from leaves out: data, environments, caches, outputs.
NOT_SOURCE = (".stack", ".venv*", ".git", "test-artefacts", "build", "dist", "*.egg-info")
NOT_SOURCE += ("__pycache__", ".mypy_cache", ".ruff_cache", "bench")
COMPOSE_SECRETS = {"EXPORT_JWT_SECRET": "j" * 40, "EXPORT_LINK_SECRET": "l" * 40}


@pytest.fixture(scope="module")
def client_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(ROOT / "client", tmp_path_factory.mktemp("client-wheel"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, client_wheel: Path) -> Path:
    """A virtual environment outside the checkout holding the runtime lock and the wheels."""
    folder = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(ROOT, folder)
    return make_venv(folder / "venv", ROOT / "requirements/runtime.lock", [client_wheel, wheel])


@pytest.fixture(scope="module")
def client_only(tmp_path_factory: pytest.TempPathFactory, client_wheel: Path) -> Path:
    """A virtual environment outside the checkout holding the client's own lock and wheel."""
    venv = tmp_path_factory.mktemp("client") / "venv"
    return make_venv(venv, ROOT / "client/requirements.lock", [client_wheel])


def build_wheel(project: Path, folder: Path) -> Path:
    """The project's wheel, built from a copy: setuptools leaves a build/ folder behind."""
    source = folder / "source"
    shutil.copytree(project, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(folder / "dist"), str(source)])
    (wheel,) = (folder / "dist").glob("*.whl")
    return wheel


def make_venv(venv: Path, lock: Path, wheels: list[Path]) -> Path:
    """A fresh environment: the lock's pins checked by hash, then the wheels without deps."""
    run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)])
    install = [str(UV), "pip", "install", "--quiet", "--python", str(venv / "bin/python")]
    run([*install, "--require-hashes", "-r", str(lock)])
    run([*install, "--no-deps", *map(str, wheels)])
    return venv


def run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=True, capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def wheel_services(installed: Path, settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """A worker and the API from the wheel, started from a folder that is not the checkout;
    the stack's own workers are stopped meanwhile, so the wheel's worker does the work."""
    env = {
        **os.environ,
        "EXPORT_WORKER_ID": WORKER_ID,
        "EXPORT_API_PORT": str(API_PORT),
        "EXPORT_API_URL": f"http://127.0.0.1:{API_PORT}",
        "PYTHONPATH": "",
    }
    stack("stop-workers")
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = [
        subprocess.Popen(
            [str(installed / "bin" / command)],
            cwd=tmp_path,
            env=env,
            stdout=open(logs / f"{command}.log", "wb"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for command in ("export-worker", "export-api")
    ]
    try:
        worker_port = settings.worker_http_port + int(WORKER_ID) - 1
        wait_ready(f"http://127.0.0.1:{worker_port}/readyz", processes, logs)
        wait_ready(f"http://127.0.0.1:{API_PORT}/readyz", processes, logs)
        yield logs
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        stack("restart-services")
        # The tests after this one find the stack's own worker and API ready.
        wait_for_stack(settings)


def wait_ready(url: str, processes: list[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            break
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    tails = {p.name: p.read_text()[-3000:] for p in logs.iterdir()}
    raise AssertionError(f"{url} never ready; logs: {tails}")


def test_the_wheel_runs_a_worker_and_the_api_outside_the_checkout(
    installed: Path, wheel_services: Path, client: ExportClient, settings: Settings
) -> None:
    python = str(installed / "bin/python")
    # From a folder of its own: `python -c` would find the checkout's packages in the cwd.
    imports = "import events, api, export_contract; print(events.__file__, api.__file__)"
    imports += "; print(export_contract.__file__)"
    found = run([python, "-c", imports], cwd=installed.parent)
    assert str(ROOT) not in found.stdout and str(installed) in found.stdout
    for script in ("exportctl", "export-topics", "export-limits", "export-rebuild-read-model"):
        assert (installed / "bin" / script).exists(), script

    page = httpx.get(f"http://127.0.0.1:{API_PORT}/", timeout=10)
    assert page.status_code == 200 and "<script" in page.text  # package data: the web page

    job_id = client.request_export(TENANT_A, USER_A, SMALL_ORDERS)
    notice = client.wait_for_completion(job_id, timeout=120)
    assert notice.status.value == "COMPLETED", notice.error_message
    expected = psql_csv(
        settings,
        f"SELECT id FROM analytics.fact_orders WHERE {SMALL_ORDERS_WHERE} ORDER BY id",
        [],
    )
    paths = [settings.store_dir / TENANT_A / job_id / f.name for f in notice.files]
    assert body_without_headers(paths) == expected and expected
    worker_log = (wheel_services / "export-worker.log").read_text()
    assert job_id in worker_log  # the wheel's worker did it: the stack's were stopped


# What the service needs and a client must not: none of them may be installed with it.
SERVICE_ONLY = ("faust", "psycopg", "pyarrow", "boto3", "asyncssh", "aiosmtplib", "fastapi")


def test_the_client_installs_alone_and_passes_its_own_tests(
    client_only: Path, settings: Settings, tmp_path: Path
) -> None:
    python = str(client_only / "bin/python")
    probe = "import sys, importlib.util as u, export_client; print(export_client.__file__)"
    probe += "; print(*[m for m in sys.argv[1:] if u.find_spec(m)])"
    found = run([python, "-c", probe, *SERVICE_ONLY], cwd=tmp_path).stdout.splitlines()
    assert found[0].startswith(str(client_only)) and found[1:] == [""], found

    # The client's tests and settings, away from the checkout, against the stack.
    shutil.copytree(ROOT / "client/tests", tmp_path / "tests")
    shutil.copy(ROOT / "client/pyproject.toml", tmp_path)
    downloads = tmp_path / "downloads"
    env = {**os.environ, "PYTHONPATH": "", "EXPORT_CLIENT_TEST_DOWNLOADS": str(downloads)}
    tests = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "tests"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "skipped" not in tests.stdout, tests.stdout[-2000:]

    # What the client downloaded is the source's rows, exactly.
    tenant = httpx.post(f"{settings.api_url}/v1/session/dev-login", timeout=10).json()["tenantId"]
    expected = psql_csv(
        settings,
        "SELECT id, status FROM analytics.fact_orders"
        f" WHERE tenant_id = '{tenant}' AND id < 100 ORDER BY id",
        ["status"],
    )
    assert body_without_headers(sorted(downloads.iterdir())) == expected and expected


def compose_config(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXPORT_", "MINIO_"))}
    return subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={**env, **extra_env},
        cwd=ROOT,
    )


def test_the_compose_file_passes_docker_composes_own_check() -> None:
    checked = compose_config(COMPOSE_SECRETS)
    assert checked.returncode == 0, checked.stderr
    without = compose_config({})
    assert without.returncode != 0 and "set EXPORT_JWT_SECRET" in without.stderr


def test_compose_sets_every_variable_whose_default_would_be_wrong_in_a_container() -> None:
    import yaml

    config = yaml.safe_load(compose_config(COMPOSE_SECRETS).stdout)
    services = config["services"]
    for name in ("worker", "api", "topics"):
        env = services[name]["environment"]
        for field in Environment.model_fields.values():
            variable = str(field.validation_alias.choices[0])  # type: ignore[union-attr]
            if variable.startswith("EXPORT_WORKER_HTTP") and name != "worker":
                continue  # the worker's own health server
            loopback = re.search(r"127\.0\.0\.1|localhost|\.stack", str(field.default))
            secret = variable.endswith("_SECRET")
            if loopback or secret:
                assert variable in env, f"{name}: {variable} defaults to {field.default!r}"
    assert services["worker"]["healthcheck"]["test"][-1].endswith("/readyz', timeout=3)")
    assert services["api"]["ports"] and services["kafka"]["ports"]
    for name in ("worker", "api", "sftp", "mailpit", "webhooks", "kafka", "postgres"):
        assert services[name]["restart"] == "unless-stopped", name
    for name in ("worker", "api", "sftp", "mailpit", "webhooks"):
        assert "healthcheck" in services[name], name
    assert "--host 0.0.0.0" in command_of(services["sftp"])
    assert "--host 0.0.0.0" in command_of(services["webhooks"])
    assert services["delivery-setup"]["entrypoint"][:2] == ["/bin/sh", "-c"]  # expands $VAR
    setup = command_of(services["delivery-setup"])
    assert "--tenants 1111" in setup and "--webhook-prefixes http://webhooks:8090/" in setup
    assert "analytics.seed" in command_of(services["seed"])


def command_of(service: dict[str, object]) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(map(str, command))  # type: ignore[call-overload]


def pins(lock: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", lock.read_text(), re.MULTILINE)
    return {name.lower(): version for name, version in found}


def test_the_image_installs_no_development_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime_stage = dockerfile.split("\nFROM ")[-1]
    locks = re.findall(r"(requirements/[\w.]+\.lock)", runtime_stage)
    assert locks == ["requirements/runtime.lock"], locks
    assert "--require-hashes" in runtime_stage and "USER exporter" in runtime_stage
    runtime = pins(ROOT / "requirements/runtime.lock")
    development = pins(ROOT / "requirements/dev.lock")
    assert {k: development[k] for k in runtime} == runtime  # the same pins in both
    for tool in ("pytest", "mypy", "ruff", "moto", "schemathesis", "playwright", "hypothesis"):
        assert tool in development and tool not in runtime, tool
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".stack", ".venv", ".git"} <= set(ignored)
    assert shutil.which("docker-compose"), "scripts/test-tools.sh installs docker-compose"
