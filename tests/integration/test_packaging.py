"""The service outside this checkout: its wheel installed into a fresh virtual environment
runs a worker and the API against the stack; the compose file passes docker-compose's own
check and sets what the services need; the image installs no development package.

Slow (it builds a wheel and a virtual environment, about a minute with a warm cache):
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

from client.export_client import ExportClient
from config.environment import Environment
from config.settings import Settings
from tests.integration.conftest import (
    ROOT,
    SMALL_ORDERS,
    SMALL_ORDERS_WHERE,
    TENANT_A,
    USER_A,
    body_without_headers,
    psql_csv,
    stack,
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
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment outside the checkout holding the runtime lock and the wheel."""
    folder = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools leaves a build/ folder in the tree it builds.
    source = folder / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(folder / "dist"), str(source)])
    (wheel,) = (folder / "dist").glob("export_service-*.whl")
    venv = folder / "venv"
    run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = str(venv / "bin/python")
    lock = str(ROOT / "requirements/runtime.lock")
    run([str(UV), "pip", "install", "--quiet", "--python", python, "--require-hashes", "-r", lock])
    run([str(UV), "pip", "install", "--quiet", "--python", python, "--no-deps", str(wheel)])
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
    imports = "import events, api; print(events.__file__, api.__file__)"
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
    for name in ("worker", "api", "sftp", "mailpit", "kafka", "postgres"):
        assert services[name]["restart"] == "unless-stopped", name
    for name in ("worker", "api", "sftp", "mailpit"):
        assert "healthcheck" in services[name], name
    assert "--host 0.0.0.0" in command_of(services["sftp"])
    assert services["delivery-setup"]["entrypoint"][:2] == ["/bin/sh", "-c"]  # expands $VAR
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
