"""Debian's Chromium driven by Playwright, for the tests of the web page.

The flags keep Chromium off the network it would otherwise reach for (updates, sync, field
trials, QUIC): this machine has no internet, and those attempts only slow it down.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize, sync_playwright

CHROMIUM = os.environ.get("EXPORT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed on the way out."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"no Chromium at {CHROMIUM} (set EXPORT_TEST_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def page_of(
    browser: Browser, base_url: str, timezone_id: str | None = None
) -> Iterator[tuple[Page, list[str]]]:
    """A page in a fresh context (its own sessionStorage) at 1280x800, downloads allowed, and
    the list its script errors and console errors are kept in ("page error: ..." for an
    uncaught exception; "console: ..." also holds the HTTP errors the page expects, such as
    a 400 with field errors). `timezone_id` is the browser's zone (the machine's if None)."""
    context = browser.new_context(
        base_url=base_url,
        viewport=VIEWPORT,
        accept_downloads=True,
        locale="en-US",
        timezone_id=timezone_id,
    )
    page = context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    try:
        yield page, problems
    finally:
        context.close()
