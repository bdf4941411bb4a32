"""exportctl against the real stack, in a real terminal (tmux, 120 x 40): the live progress
bar of `submit --wait`, a download interrupted and resumed, exit codes, --json. Every screen
is saved in test-artefacts/cli/ to be read as a user would."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.dev_token import mint
from config.settings import Settings
from export_client.api_client import ExportApi
from tests.integration.conftest import ROOT, TENANT_A, AdminDatabase, api_client

pytestmark = pytest.mark.integration

ARTEFACTS = ROOT / "test-artefacts" / "cli"
# A tmux server of the tests' own, so no one else's sessions are touched.
SOCKET = f"exportctl-tests-{os.getpid()}"
EXIT = re.compile(r"\[exit (\d+)\]")
PROGRESS = re.compile(r"(\d+)%\s+([\d,]+)/([\d,]+) rows\s+([\d,]+|-) rows/s\s+ETA (\S+)")
# An export of a few hundred thousand rows as Excel (xlsxwriter writes row by row), so that
# it runs long enough to watch: some 20 s on the development stack.
SLOW_EXPORT = [
    "--source", "fact_trades",
    "--columns", "id,trade_date,executed_at,symbol,side,quantity,price,notional,notes",
    "--filter", "id<900000",
    "--order", "id",
    "--format", "EXCEL",
]  # fmt: skip
SLOW_WHERE = f"tenant_id = '{TENANT_A}' AND id < 900000"


@dataclass
class User:
    id: str
    token: str

    def env(self, settings: Settings) -> dict[str, str]:
        return {"EXPORT_API_URL": settings.api_url, "EXPORT_TOKEN": self.token}


def new_user(settings: Settings) -> User:
    # A user of its own per test, so quotas and lists do not collide with other tests'.
    user_id = str(uuid.uuid4())
    return User(user_id, mint(TENANT_A, user_id, secret=settings.jwt_secret))


def exportctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        exportctl(*args),
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tmux(*args: str) -> str:
    # The server takes its environment from the first client: without COLUMNS and LINES,
    # which would fix the width a program inside sees instead of the pane's 120 x 40.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
    return subprocess.run(
        ["tmux", "-L", SOCKET, *args], check=True, capture_output=True, text=True, env=env
    ).stdout


class Terminal:
    """One tmux session running one exportctl command; the pane stays after it exits, with
    `[exit N]` below its output."""

    def __init__(self, name: str, env: dict[str, str], args: list[str]) -> None:
        self.name = f"{name}-{uuid.uuid4().hex[:6]}"
        command = shlex.join(exportctl(*args))
        # bash runs a trap (not an ignore, which python would inherit) so that Ctrl-C reaches
        # exportctl and the shell goes on to print its exit code.
        script = f'trap : INT; {command}; echo "[exit $?]"; sleep 600'
        env_flags = [f"-e{key}={value}" for key, value in env.items()]
        tmux(
            "new-session", "-d", "-s", self.name, "-x", "120", "-y", "40", "-c", str(ROOT),
            *env_flags, f"bash -c {shlex.quote(script)}",
        )  # fmt: skip

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.name)

    def history(self) -> str:
        """The screen with what scrolled off its top (a long table)."""
        return tmux("capture-pane", "-p", "-S", "-", "-t", self.name)

    def wait_for(self, pattern: re.Pattern[str] | str, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if re.search(pattern, text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} never showed in {self.name}:\n{self.screen()}")

    def exit_code(self, timeout: float = 180) -> int:
        match = EXIT.search(self.wait_for(EXIT, timeout))
        assert match is not None
        return int(match.group(1))

    def interrupt(self) -> None:
        tmux("send-keys", "-t", self.name, "C-c")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", self.name], check=False)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def open_terminal(
    terminals: list[Terminal], name: str, env: dict[str, str], *args: str
) -> Terminal:
    terminal = Terminal(name, env, list(args))
    terminals.append(terminal)
    return terminal


def save(name: str, text: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / name).write_text(text.rstrip() + "\n", encoding="utf-8")


def count_rows(admin_db: AdminDatabase, where: str) -> int:
    row = admin_db.execute(f"SELECT count(*) FROM analytics.fact_trades WHERE {where}").fetchone()
    assert row is not None
    return int(row[0])


def test_submit_wait_shows_a_live_progress_bar_and_ends_with_the_files(
    settings: Settings, admin_db: AdminDatabase, terminals: list[Terminal]
) -> None:
    user = new_user(settings)
    expected_rows = count_rows(admin_db, SLOW_WHERE)
    assert expected_rows > 200_000
    terminal = open_terminal(
        terminals, "wait", user.env(settings),
        "submit", *SLOW_EXPORT, "--name", "trades below 900k, as Excel", "--wait",
    )  # fmt: skip
    seen: list[tuple[int, int]] = []
    middles: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        screen = terminal.screen()
        match = PROGRESS.search(screen)
        if match:
            percent, rows = int(match.group(1)), int(match.group(2).replace(",", ""))
            if not seen or seen[-1] != (percent, rows):
                seen.append((percent, rows))
                if 0 < percent < 100:
                    middles.append(screen)
        if EXIT.search(screen):
            break
        time.sleep(0.3)
    final = terminal.screen()
    assert middles, f"no screen showed the bar between 0 and 100 %: {seen}\n{final}"
    save("submit-wait-progress-early.txt", middles[0])
    save("submit-wait-progress-late.txt", middles[-1])
    save("submit-wait-final.txt", final)

    assert terminal.exit_code() == 0, final
    # The bar advanced: several distinct readings, never going back.
    rows_seen = [rows for _, rows in seen]
    assert rows_seen == sorted(rows_seen), seen
    assert len(set(rows_seen)) >= 3, seen
    middle = PROGRESS.search(middles[-1])
    assert middle is not None
    assert middle.group(3) == f"{expected_rows:,}"
    assert middle.group(4) != "-", "the rate shows while it runs"
    assert re.fullmatch(r"\d+:\d\d:\d\d", middle.group(5)), "the ETA shows while it runs"
    # One line for the bar at 120 columns: the elapsed time sits on the same line.
    bar_line = next(line for line in middles[-1].splitlines() if "rows/s" in line)
    assert bar_line.rstrip().endswith("elapsed") and len(bar_line) <= 120

    job_id = re.search(r"submitted export ([0-9a-f-]{36})", final)
    assert job_id is not None
    with api_client(settings, TENANT_A, user.id) as api:
        files = api.get(f"/v1/exports/{job_id.group(1)}/files").json()["files"]
    assert "COMPLETED" in final and f"{expected_rows:,} rows" in final
    for listed in files:
        assert re.search(
            rf"{re.escape(listed['name'])}\s.*{listed['rows']:,}.*{listed['bytes']:,}"
            rf".*{listed['sha256'][:12]}",
            final,
        ), final


@pytest.fixture(scope="module")
def big_csv(settings: Settings) -> dict[str, Any]:
    """A completed CSV export of all of tenant A's trades (one file of some 45 MB), made with
    `exportctl submit --wait --json`: its final job with files, and its user."""
    user = new_user(settings)
    result = run_cli(
        user.env(settings),
        "submit", "--source", "fact_trades",
        "--columns", "id,trade_date,executed_at,symbol,side,quantity,price,notional,notes",
        "--order", "id", "--name", "all of tenant A's trades", "--wait", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job: dict[str, Any] = json.loads(result.stdout)
    assert job["status"] == "COMPLETED" and len(job["files"]) == 1
    assert job["files"][0]["bytes"] > 20_000_000
    return {"job": job, "user": user}


def api_bytes(settings: Settings, user: User, job_id: str, name: str) -> bytes:
    with httpx.Client(
        base_url=settings.api_url, headers={"Authorization": f"Bearer {user.token}"}, timeout=60
    ) as api:
        response = api.get(
            f"/v1/exports/{job_id}/download", params={"file": name}, follow_redirects=True
        )
        response.raise_for_status()
        return response.content


def test_an_interrupted_download_resumes_and_matches_the_api(
    settings: Settings, big_csv: dict[str, Any], tmp_path: Path, terminals: list[Terminal]
) -> None:
    job, user = big_csv["job"], big_csv["user"]
    listed = job["files"][0]
    name, size = listed["name"], listed["bytes"]
    out = tmp_path / "files"
    part = out / f"{name}.part"
    # 4 MB/s keeps the first run going some 10 s, time enough to interrupt it midway.
    first = open_terminal(
        terminals, "dl1", user.env(settings),
        "download", job["id"], "--out", str(out), "--limit-rate", "4000000",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (part.exists() and part.stat().st_size > 5_000_000):
        assert time.monotonic() < deadline, first.screen()
        time.sleep(0.1)
    save("download-midway.txt", first.screen())
    first.interrupt()
    assert first.exit_code(60) == 130
    interrupted = first.screen()
    save("download-interrupted.txt", interrupted)
    kept = part.stat().st_size
    assert 0 < kept < size
    assert f"kept {name}.part ({kept:,} of {size:,} bytes)" in interrupted
    assert "run the same command again to resume" in interrupted
    assert not (out / name).exists()

    second = open_terminal(
        terminals, "dl2", user.env(settings), "download", job["id"], "--out", str(out)
    )
    assert second.exit_code(120) == 0, second.screen()
    resumed = second.screen()
    save("download-resumed.txt", resumed)
    match = re.search(r"fetched ([\d,]+) bytes \(resumed at byte ([\d,]+)\)", resumed)
    assert match is not None, resumed
    fetched, offset = (int(g.replace(",", "")) for g in match.groups())
    assert offset == kept and fetched == size - kept and fetched < size
    assert "sha256 ok" in resumed and listed["sha256"][:12] in resumed

    data = (out / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == listed["sha256"]
    assert data == api_bytes(settings, user, job["id"], name)
    assert not part.exists()

    again = run_cli(user.env(settings), "download", job["id"], "--out", str(out), "--json")
    assert again.returncode == 0, again.stderr
    [entry] = json.loads(again.stdout)["files"]
    assert (entry["skipped"], entry["bytesFetched"], entry["verified"]) == (True, 0, True)


def test_a_download_killed_outright_resumes_from_what_reached_the_disk(
    settings: Settings, big_csv: dict[str, Any], tmp_path: Path
) -> None:
    job, user = big_csv["job"], big_csv["user"]
    listed = job["files"][0]
    part = tmp_path / f"{listed['name']}.part"
    process = subprocess.Popen(
        exportctl("download", job["id"], "--out", str(tmp_path), "--limit-rate", "4000000"),
        cwd=ROOT,
        env={**os.environ, **user.env(settings)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (part.exists() and part.stat().st_size > 3_000_000):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    kept = part.stat().st_size
    result = run_cli(user.env(settings), "download", job["id"], "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    [entry] = document["files"]
    assert entry["resumed"] is True and entry["verified"] is True
    assert entry["bytesFetched"] == listed["bytes"] - kept
    data = (tmp_path / listed["name"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == listed["sha256"] == entry["sha256"]
    assert data == api_bytes(settings, user, job["id"], listed["name"])


def test_exit_codes_a_refused_request_bad_flags_and_no_token(
    settings: Settings, terminals: list[Terminal]
) -> None:
    env = new_user(settings).env(settings)
    refused = open_terminal(
        terminals, "refused", env,
        "submit", "--source", "fact_orders", "--columns", "id,idx", "--filter", "id<100",
    )  # fmt: skip
    assert refused.exit_code(60) == 1
    save("refused-request.txt", refused.history())
    assert "queryDefinition.columns[1].name [--columns]: unknown column 'idx'" in refused.screen()

    direct = run_cli(env, "submit", "--source", "fact_orders", "--columns", "idx", "--json")
    assert direct.returncode == 1
    assert "queryDefinition.columns[0].name" in direct.stderr
    assert json.loads(direct.stdout)["details"][0]["field"] == "queryDefinition.columns[0].name"

    bad_flag = open_terminal(
        terminals, "usage", env,
        "submit", "--source", "fact_orders", "--columns", "id", "--filter", "id ~ 3",
    )  # fmt: skip
    assert bad_flag.exit_code(60) == 2
    save("bad-flag.txt", bad_flag.history())
    assert "--filter" in bad_flag.screen()
    for args in (["list", "--limit", "0"], ["submit", "--nope"], ["status"]):
        assert run_cli(env, *args).returncode == 2, args

    no_token = run_cli(
        {
            "EXPORT_API_URL": settings.api_url,
            "EXPORT_TOKEN": "",
            "EXPORT_TOKEN_FILE": "/nonexistent",
        },
        "list",
    )
    assert no_token.returncode == 1
    assert "EXPORT_TOKEN" in no_token.stderr and "login --dev" in no_token.stderr

    unknown = run_cli(env, "status", str(uuid.uuid4()))
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr


def test_a_cancelled_export_ends_the_wait_with_exit_1(
    settings: Settings, terminals: list[Terminal]
) -> None:
    user = new_user(settings)
    env = user.env(settings)
    terminal = open_terminal(terminals, "cancel", env, "submit", *SLOW_EXPORT, "--wait")
    screen = terminal.wait_for(r"PROCESSING .* [1-9]\d*%", 120)
    job_id = re.search(r"submitted export ([0-9a-f-]{36})", screen)
    assert job_id is not None
    # Cancelled from here, through the client the CLI uses: a second `exportctl` process
    # took long enough to start that the export sometimes completed first. The command's
    # own cancel is run below, where its answer does not race the export.
    with ExportApi(settings.api_url, user.token) as api:
        api.cancel(job_id.group(1))
    assert terminal.exit_code(120) == 1
    save("cancelled-wait.txt", terminal.screen())
    assert "CANCELLED" in terminal.screen()
    again = run_cli(env, "cancel", job_id.group(1))
    assert again.returncode == 1 and "NOT_CANCELLABLE" in again.stderr
    status = run_cli(env, "status", job_id.group(1), "--json")
    assert json.loads(status.stdout)["status"] == "CANCELLED"


def test_the_other_commands_on_screen_and_as_json(
    settings: Settings, terminals: list[Terminal], tmp_path: Path
) -> None:
    user = new_user(settings)
    env = user.env(settings)
    small = ["--source", "fact_orders", "--columns", "id,symbol", "--filter", "id<100"]
    submitted = run_cli(env, "submit", *small, "--name", "small orders", "--wait", "--json")
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["id"]

    screens = {
        "list.txt": ["list"],
        "status.txt": ["status", job_id],
        "events.txt": ["events", job_id],
        "quota.txt": ["quota"],
        "estimate.txt": ["estimate", *SLOW_EXPORT],
        "catalogue.txt": ["catalogue", "--source", "fact_trades"],
    }
    for artefact, args in screens.items():
        terminal = open_terminal(terminals, artefact.removesuffix(".txt"), env, *args)
        assert terminal.exit_code(60) == 0, terminal.screen()
        save(artefact, terminal.history())
        as_json = run_cli(env, *args, "--json")
        assert as_json.returncode == 0, (args, as_json.stderr)
        json.loads(as_json.stdout)

    listed = json.loads(run_cli(env, "list", "--json").stdout)
    assert [e["id"] for e in listed["exports"]] == [job_id]
    estimate = json.loads(run_cli(env, "estimate", *SLOW_EXPORT, "--json").stdout)
    assert estimate["fitsQuota"] is True and estimate["rows"] > 200_000

    token_file = tmp_path / "config" / "token"
    login_env = {"EXPORT_API_URL": settings.api_url, "EXPORT_TOKEN": ""}
    login = run_cli(login_env, "--token-file", str(token_file), "login", "--dev")
    assert login.returncode == 0, login.stderr
    assert "DEVELOPMENT" in login.stdout
    assert token_file.stat().st_mode & 0o777 == 0o600
    whoami = run_cli({**login_env, "EXPORT_TOKEN_FILE": str(token_file)}, "whoami", "--json")
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["tenantId"]


def test_schedule_commands_create_list_show_pause_and_runs(
    settings: Settings, terminals: list[Terminal], tmp_path: Path
) -> None:
    user = new_user(settings)
    env = {**user.env(settings), "TZ": "Europe/Zurich"}
    request = tmp_path / "orders.json"
    request.write_text(
        json.dumps(
            {
                "name": "weekday orders",
                "queryDefinition": {"source": "fact_orders", "columns": [{"name": "id"}]},
                "format": "CSV",
            }
        )
    )
    create = ["schedule", "create", "--name", "weekday orders", "--cron", "0 9 * * 1-5"]
    create += ["--timezone", "Europe/Zurich", "--request", str(request)]
    create += ["--start-at", "2031-01-01T00:00:00Z"]
    created = run_cli(env, *create, "--json")
    assert created.returncode == 0, created.stderr
    schedule_id = json.loads(created.stdout)["id"]

    deadline = time.monotonic() + 20
    while schedule_id not in run_cli(env, "schedule", "list", "--json").stdout:
        assert time.monotonic() < deadline, "the schedule never reached the read model"
        time.sleep(0.3)
    screens = {
        "schedule-list.txt": ["schedule", "list"],
        "schedule-show.txt": ["schedule", "show", schedule_id],
        "schedule-runs.txt": ["schedule", "runs", schedule_id],
    }
    for artefact, args in screens.items():
        terminal = open_terminal(terminals, artefact.removesuffix(".txt"), env, *args)
        assert terminal.exit_code(60) == 0, terminal.screen()
        save(artefact, terminal.history())
    shown = (ARTEFACTS / "schedule-show.txt").read_text()
    # 09:00 in Zurich, shown in the terminal's zone (Zurich here).
    assert "At 09:00 on Monday through Friday" in shown
    assert "2031-01-01 09:00:00 CET" in shown
    assert "no runs yet" in (ARTEFACTS / "schedule-runs.txt").read_text()

    paused = run_cli(env, "schedule", "pause", schedule_id)
    assert paused.returncode == 0 and "pause requested" in paused.stdout
    refused = run_cli(env, *create[:-2], "--cron", "* * * * * *")
    assert refused.returncode != 0
    assert "cron" in refused.stderr and "6 fields given" in refused.stderr, refused.stderr
    deleted = run_cli(env, "schedule", "delete", schedule_id, "--json")
    assert deleted.returncode == 0 and json.loads(deleted.stdout)["status"] == "DELETING"

    # --webhook: each run's signed notice goes to the URL (the stack's receiver).
    hooked = run_cli(env, *create, "--webhook", os.environ["STACK_WEBHOOK_URL"], "--json")
    assert hooked.returncode == 0, hooked.stderr
    hooked_id = json.loads(hooked.stdout)["id"]
    deadline = time.monotonic() + 20
    while (shown_hook := run_cli(env, "schedule", "show", hooked_id, "--json")).returncode:
        assert time.monotonic() < deadline, shown_hook.stderr
        time.sleep(0.3)
    delivery = json.loads(shown_hook.stdout)["exportRequest"]["delivery"]
    assert delivery["method"] == "WEBHOOK"
    assert delivery["webhook"]["url"] == os.environ["STACK_WEBHOOK_URL"]
    assert run_cli(env, "schedule", "delete", hooked_id).returncode == 0
    bad_hook = run_cli(env, *create, "--webhook", "ftp://127.0.0.1/in")
    assert bad_hook.returncode != 0
    assert "exportRequest.delivery.webhook.url" in bad_hook.stderr, bad_hook.stderr
