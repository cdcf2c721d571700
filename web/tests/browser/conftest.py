"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's
live server. The SQLite test database is a file, so the live server thread (and
any worker process a test starts) sees the same data."""

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import unavailable

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def chromium():
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not executable:
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the
    # tests make around it are plain synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _open_tab(chromium, live_server, errors: list[str]):
    """A tab in its own browser context (its own cookies) that records console errors."""
    context = chromium.new_context(viewport=DESKTOP, base_url=live_server.url)
    tab = context.new_page()
    documents: set[str] = set()

    def on_response(response):
        if response.request.resource_type == "document":
            documents.add(response.url)

    def on_console(msg):
        # A form answered with 400/403 is the page itself, shown on purpose; any
        # other failed resource or script error is a defect.
        if msg.type == "error" and msg.location.get("url") not in documents:
            errors.append(f"{msg.text} ({msg.location.get('url')})")

    tab.on("response", on_response)
    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, tab


@pytest.fixture
def page(chromium, live_server, transactional_db):
    """A fresh browser tab; the test fails if any page logged a console error."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    errors: list[str] = []
    context, tab = _open_tab(chromium, live_server, errors)
    yield tab
    context.close()
    assert errors == [], f"console errors: {errors}"


@pytest.fixture
def browser_pair(chromium, live_server, transactional_db):
    """Two people at once (e.g. a customer and an engineer), each with their own session."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    errors: list[str] = []
    first_context, first = _open_tab(chromium, live_server, errors)
    second_context, second = _open_tab(chromium, live_server, errors)
    yield first, second
    first_context.close()
    second_context.close()
    assert errors == [], f"console errors: {errors}"


def sign_in(tab, username: str, password: str = PASSWORD) -> None:
    tab.goto("/login/")
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Sign in").click()


def check_landmarks(tab) -> None:
    """Every page has a title and exactly one h1."""
    from playwright.sync_api import expect

    expect(tab).to_have_title(re.compile(r".+ — Proactive$"))
    expect(tab.locator("h1")).to_have_count(1)


def screenshot(tab, name: str) -> None:
    """Save the current page at desktop and phone widths under test-artifacts/screenshots/,
    checking that it fits each width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = tab.viewport_size
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        tab.set_viewport_size(viewport)
        # Nothing may push the page sideways (wide tables scroll inside their own box).
        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} is {overflow}px too wide at {label} width"
        tab.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    tab.set_viewport_size(size)
