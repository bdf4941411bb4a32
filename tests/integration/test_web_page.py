"""The web page in a real browser (Debian's Chromium through Playwright) against the real
stack: the development sign-in, an export estimated, submitted and watched live to 100 %, a
file downloaded through the page and compared with the API's bytes, a running export
cancelled, and an API field error shown next to its input. Screenshots go to
test-artefacts/web/ for a person to look at."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from config.settings import Settings
from tests.browser import chromium, page_of
from tests.integration.conftest import ROOT, TENANT_A, AdminDatabase

pytestmark = pytest.mark.integration

ARTEFACTS = ROOT / "test-artefacts" / "web"
TOKEN_KEY = "exportService.token"
DEV_USER = "0d0d0d0d-0000-4000-8000-000000000001"
RUN = uuid.uuid4().hex[:6]
# Enough rows in Excel, at 20,000 rows a file, to take a few seconds and report progress
# after every chunk (five files: the detail drawer shows them all at 1280x800).
ORDERS_COLUMNS = ["id", "order_date", "symbol", "side", "quantity", "limit_price", "status"]
ORDERS_ROWS_PER_FILE = 20000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def token(settings: Settings) -> str:
    """A development sign-in as a user of its own, so that the shared dev user's daily quota
    and its other exports do not matter."""
    answer = httpx.post(
        f"{settings.api_url}/v1/session/dev-login", json={"userId": str(uuid.uuid4())}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["tenantId"] == TENANT_A
    return str(answer.json()["token"])


@pytest.fixture
def page(browser: Browser, settings: Settings, token: str) -> Iterator[Page]:
    """The page signed in with `token`, put in sessionStorage before the page's scripts run."""
    with page_of(browser, settings.api_url) as (signed_in, problems):
        signed_in.context.add_init_script(f"sessionStorage.setItem({TOKEN_KEY!r}, {token!r})")
        signed_in.goto("/")
        expect(signed_in.locator("#app")).to_be_visible(timeout=15_000)
        expect(signed_in.locator("#source option").first).to_be_attached(timeout=15_000)
        yield signed_in
        page_errors = [p for p in problems if p.startswith("page error")]
        assert not page_errors, page_errors


def shoot(page: Page, name: str) -> None:
    """A screenshot of the viewport with CSS animations run to their end (the drawer's slide)."""
    page.screenshot(path=str(ARTEFACTS / name), animations="disabled")


def row_of(page: Page, name: str) -> Locator:
    return page.locator(f'tr.export-row[data-name="{name}"]')


def fill_orders_form(page: Page, name: str) -> None:
    page.fill("#export-name", name)
    page.select_option("#source", "fact_orders")
    page.click("#columns-none")
    for column in ORDERS_COLUMNS:
        page.check(f'#columns input[value="{column}"]')
    page.click("#add-filter")
    row = page.locator(".filter-row").last
    row.locator(".filter-column").select_option("id")
    row.locator(".filter-operator").select_option(">")
    row.locator(".filter-value").fill("0")
    page.select_option("#format", "EXCEL")
    page.fill("#max-rows-per-file", str(ORDERS_ROWS_PER_FILE))


def test_development_sign_in_and_out(browser: Browser, settings: Settings) -> None:
    with page_of(browser, settings.api_url) as (page, problems):
        page.goto("/")
        expect(page.locator("#signin")).to_be_visible()
        dev = page.locator("#dev-login")
        expect(dev).to_be_visible()
        expect(dev).to_contain_text("DEVELOPMENT ONLY")
        page.click("#dev-sign-in")
        expect(page.locator("#app")).to_be_visible()
        expect(page.locator("#who-tenant")).to_have_text(TENANT_A)
        expect(page.locator("#who-user")).to_have_text(DEV_USER)
        expect(page.locator("#dev-tag")).to_be_visible()
        assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})")
        page.click("#sign-out")
        expect(page.locator("#signin")).to_be_visible()
        expect(page.locator("#app")).to_be_hidden()
        assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None
        assert not [p for p in problems if p.startswith("page error")], problems


def test_sse_parser(page: Page) -> None:
    """The page's own SSE parser: comments skipped, CRLF split across reads, a data line cut in
    two, the event id kept for the events after it."""
    chunks = [
        ": keep-alive\r\n\r\nevent: job\r",
        '\nid: 3\ndata: {"a":',
        "1}\n\n",
        'event: done\ndata: {"b":2}\n',
        "\n",
        "data: cut",
    ]
    events = page.evaluate(
        """async (chunks) => {
            const { SseParser } = await import("/web/sse.js");
            const seen = [];
            const parser = new SseParser((event) => seen.push(event));
            for (const chunk of chunks) parser.push(chunk);
            return seen;
        }""",
        chunks,
    )
    assert events == [
        {"type": "job", "data": '{"a":1}', "id": "3"},
        {"type": "done", "data": '{"b":2}', "id": "3"},
    ]


def test_estimate_submit_watch_and_download(
    page: Page, settings: Settings, admin_db: AdminDatabase
) -> None:
    name = f"web orders {RUN}"
    counted = admin_db.execute(
        "SELECT count(*) FROM analytics.fact_orders WHERE tenant_id = %s AND id > 0", [TENANT_A]
    ).fetchone()
    assert counted is not None
    expected_rows = int(counted[0])
    assert expected_rows > 3 * ORDERS_ROWS_PER_FILE, "the seed has too few orders for this test"

    fill_orders_form(page, name)
    page.click("#estimate-button")
    estimate = page.locator('#estimate[data-state="ready"]')
    expect(estimate).to_be_visible(timeout=15_000)
    assert int(estimate.get_attribute("data-rows") or 0) == expected_rows
    expect(estimate.locator('[data-stat="rows"]')).to_contain_text(f"{expected_rows:,}")
    expect(estimate.locator('[data-stat="files"]')).to_contain_text(
        str(-(-expected_rows // ORDERS_ROWS_PER_FILE))
    )
    expect(estimate).to_contain_text("Fits your quota")
    shoot(page, "form.png")

    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.click("#submit-button")
    row = row_of(page, name)
    expect(row).to_have_count(1, timeout=10_000)

    # Sample the bar as the SSE stream moves it: at least two values between 0 and the total.
    progress = row.locator(".progress")
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = row.get_attribute("data-status")
        processed = int(progress.get_attribute("data-processed") or 0)
        total = int(progress.get_attribute("data-total") or 0)
        if total and 0 < processed < total:
            seen.add(processed)
        if status in {"COMPLETED", "FAILED", "CANCELLED"}:
            break
        page.wait_for_timeout(40)
    assert row.get_attribute("data-status") == "COMPLETED", row.inner_text()
    assert len(seen) >= 2, f"the progress bar showed {sorted(seen)} on the way"
    assert float(progress.get_attribute("data-percent") or 0) == 100
    expect(row.locator(".progress-pct")).to_have_text("100 %")
    expect(row.locator(".progress-rows")).to_have_text(f"{expected_rows:,} rows")
    expect(row.locator(".badge").first).to_have_text("Completed")

    # Live updates came from one stream, not from asking for the list again and again.
    job_id = row.get_attribute("data-id")
    streams = [u for u in requests if u.endswith(f"/v1/exports/{job_id}/progress")]
    listings = [u for u in requests if "/v1/exports?" in u]
    assert 1 <= len(streams) <= 2, streams
    assert len(listings) <= 3, listings

    row.locator('[data-action="details"]').click()
    drawer = page.locator("#drawer")
    expect(drawer).to_be_visible()
    files = drawer.locator("table.files tbody tr")
    expect(files).to_have_count(-(-expected_rows // ORDERS_ROWS_PER_FILE), timeout=10_000)
    expect(drawer.locator('li.event[data-type="ExportCompleted"]')).to_have_count(1)
    expect(drawer.locator('li.event[data-type="ExportRequested"]')).to_have_count(1)
    shoot(page, "finished.png")

    # Download the second file through the page and compare it with the API's bytes.
    file_row = files.nth(1)
    file_name = file_row.get_attribute("data-file")
    with page.expect_download(timeout=30_000) as download_info:
        file_row.locator('[data-action="download-file"]').click()
    download = download_info.value
    assert download.suggested_filename == file_name
    downloaded = Path(download.path()).read_bytes()
    token = page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})")
    direct = httpx.get(
        f"{settings.api_url}/v1/exports/{job_id}/download",
        params={"file": file_name},
        headers={"Authorization": f"Bearer {token}"},
        follow_redirects=True,
        timeout=30,
    )
    assert direct.status_code == 200
    assert downloaded == direct.content and len(downloaded) > 0


def test_cancel_a_running_export(page: Page) -> None:
    name = f"web big {RUN}"
    page.fill("#export-name", name)
    page.select_option("#source", "fact_trades")
    page.click("#columns-all")
    page.select_option("#format", "EXCEL")
    page.fill("#max-rows-per-file", "20000")
    page.click("#submit-button")
    row = row_of(page, name)
    expect(row).to_have_attribute("data-status", "PROCESSING", timeout=30_000)
    progress = row.locator(".progress")
    deadline = time.monotonic() + 30
    while int(progress.get_attribute("data-processed") or 0) == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert row.get_attribute("data-status") == "PROCESSING", "it ended before it could be cancelled"
    shoot(page, "list.png")

    row.locator('[data-action="cancel"]').click()
    row.locator('[data-action="confirm-cancel"]').click()
    expect(row).to_have_attribute("data-status", "CANCELLED", timeout=30_000)
    expect(row.locator(".badge").first).to_have_text("Cancelled")
    expect(row.locator(".progress-meta")).to_have_text("Stopped: cancelled")
    expect(row.locator('[data-action="cancel"]')).to_have_count(0)


def test_field_errors_next_to_their_fields(page: Page) -> None:
    # Both pass the page's own inputs; the API names each field.
    page.fill("#export-name", "n" * 300)
    page.click("#columns-all")
    page.select_option("#delivery-method", "EMAIL")
    page.fill("#email-recipients", "ops@example.com, someone@localhost")
    page.click("#submit-button")
    recipients = page.locator('[data-field="delivery.email.recipients"]')
    expect(recipients.locator(".field-error")).to_contain_text("someone@localhost")
    expect(recipients.locator(".field-error")).to_contain_text(
        "not a plain e-mail address", ignore_case=True
    )
    expect(page.locator('[data-field="name"] .field-error')).to_contain_text(
        "at most 255 characters", ignore_case=True
    )
    expect(page.locator("#form-error")).to_be_hidden()
    recipients.scroll_into_view_if_needed()
    shoot(page, "field-error.png")

    # Fixing the field takes its error away.
    page.fill("#email-recipients", "ops@example.com")
    expect(recipients.locator(".field-error")).to_have_count(0)


def test_schedules_show_their_next_runs_in_the_browsers_zone(
    browser: Browser, settings: Settings, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    request = {
        "name": "orders",
        "queryDefinition": {"source": "fact_orders", "columns": [{"name": "id"}]},
        "format": "CSV",
    }
    # 09:00 in Zurich on weekdays from 2031-01-01 (a Wednesday, winter): 08:00 UTC, which
    # is 03:00 in New York, the browser's zone here.
    body = {
        "name": f"web weekday mornings {RUN}",
        "cron": "0 9 * * 1-5",
        "timezone": "Europe/Zurich",
        "exportRequest": request,
        "startAt": "2031-01-01T00:00:00Z",
    }
    created = httpx.post(f"{settings.api_url}/v1/schedules", json=body, headers=headers)
    assert created.status_code == 202, created.text
    with page_of(browser, settings.api_url, timezone_id="America/New_York") as (page, problems):
        page.context.add_init_script(f"sessionStorage.setItem({TOKEN_KEY!r}, {token!r})")
        page.goto("/")
        expect(page.locator("#schedules-zone")).to_have_text("times in America/New_York")
        row = page.locator(f'tr[data-schedule-id="{created.json()["id"]}"]')
        deadline = time.monotonic() + 20
        while row.count() == 0 and time.monotonic() < deadline:
            page.click("#schedules-refresh")  # the read model may not have it yet
            page.wait_for_timeout(300)
        expect(row).to_contain_text("At 09:00 on Monday through Friday")
        # en-US puts a narrow no-break space before AM: \s matches it.
        expect(row.locator(".next-run")).to_have_text(re.compile(r"Jan 1, 2031, 3:00\sAM"))
        later = r"then Jan 2, 2031, 3:00\sAM, Jan 3, 2031, 3:00\sAM"
        expect(row).to_contain_text(re.compile(later))
        page.locator(".schedules-card").scroll_into_view_if_needed()
        shoot(page, "schedules.png")
        row.get_by_role("button", name="Runs").click()
        expect(page.locator("tr.runs-row")).to_contain_text("No runs yet.")
        row.get_by_role("button", name="Pause").click()
        expect(row.locator(".status")).to_have_text("PAUSED", timeout=15_000)
        expect(row.locator(".next-run")).to_have_text("paused")
        shoot(page, "schedules-paused.png")
        assert not [p for p in problems if p.startswith("page error")], problems


def test_a_schedule_made_with_the_form_and_changed_in_its_row(
    page: Page, settings: Settings, token: str
) -> None:
    name = f"web monthly orders {RUN}"
    fill_orders_form(page, name)
    page.select_option("#format", "CSV")
    page.select_option("#delivery-method", "WEBHOOK")
    webhook_url = os.environ["STACK_WEBHOOK_URL"]  # the stack's receiver, allowed by its tenants
    page.fill("#webhook-url", webhook_url)
    page.check("#repeat")
    expect(page.locator("#submit-button")).to_have_text("Create schedule")
    # A cron that fires every second is refused, next to the cron field.
    page.select_option("#new-schedule-preset", "custom")
    page.fill("#new-schedule-cron", "* * * * * *")
    page.click("#submit-button")
    cron = page.locator('#repeat-fields [data-field="cron"]')
    expect(cron.locator(".field-error")).to_be_visible()
    cron.scroll_into_view_if_needed()
    shoot(page, "schedule-form-error.png")

    page.select_option("#new-schedule-preset", "0 6 1 * *")
    expect(page.locator("#new-schedule-cron")).to_have_value("0 6 1 * *")
    page.select_option("#new-schedule-timezone", "Europe/Zurich")
    page.check("#new-schedule-incremental")
    page.select_option("#new-schedule-if-empty", "SKIP")
    page.locator("#repeat-fields").scroll_into_view_if_needed()
    shoot(page, "schedule-form.png")
    page.click("#submit-button")
    expect(page.locator(".toast").last).to_contain_text(f"Schedule “{name}” created")

    api = httpx.Client(
        base_url=settings.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    row = page.locator("#schedules-body tr", has_text=name).first
    expect(row).to_contain_text("fact_orders · CSV · webhook · new rows only", timeout=15_000)
    schedule_id = row.get_attribute("data-schedule-id")
    made = api.get(f"/v1/schedules/{schedule_id}").json()
    assert (made["cron"], made["timezone"], made["incremental"], made["ifEmpty"]) == (
        "0 6 1 * *",
        "Europe/Zurich",
        True,
        "SKIP",
    )
    delivery = made["exportRequest"]["delivery"]
    assert delivery["method"] == "WEBHOOK"
    assert delivery["webhook"] == {"url": webhook_url, "secret": "default"}
    assert [c["name"] for c in made["exportRequest"]["queryDefinition"]["columns"]] == (
        ORDERS_COLUMNS
    )

    try:
        row.get_by_role("button", name="Edit").click()
        editor = page.locator("tr.edit-row form")
        prefix = f"#edit-{schedule_id[:8]}" if schedule_id else ""
        page.fill(f"{prefix}-name", f"{name} (weekdays)")
        page.select_option(f"{prefix}-preset", "0 7 * * 1-5")
        page.select_option(f"{prefix}-timezone", "America/New_York")
        page.select_option(f"{prefix}-catch-up", "NONE")
        editor.scroll_into_view_if_needed()
        shoot(page, "schedule-edit.png")
        editor.get_by_role("button", name="Save changes").click()
        changed = page.locator("#schedules-body tr", has_text=f"{name} (weekdays)").first
        expect(changed).to_contain_text("At 07:00 on Monday through Friday", timeout=15_000)
        expect(page.locator("tr.edit-row")).to_have_count(0)
        view = api.get(f"/v1/schedules/{schedule_id}").json()
        assert (view["cron"], view["timezone"], view["catchUp"]) == (
            "0 7 * * 1-5",
            "America/New_York",
            "NONE",
        )
        # What it exports and where it delivers stayed as they were.
        assert view["exportRequest"] == made["exportRequest"] and view["incremental"]
        page.locator(".schedules-card").scroll_into_view_if_needed()
        shoot(page, "schedule-edited.png")
    finally:
        api.delete(f"/v1/schedules/{schedule_id}")
