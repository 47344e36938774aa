"""Browser tests: Playwright (sync API) drives Debian's Chromium against pytest-django's live server.

Playwright's own browser download is not used: the tests launch ``/usr/bin/chromium`` and skip,
saying so, when it is not installed. Each test gets a fresh browser context (no cookies carried
over) whose relative URLs resolve against the live server; a failing test leaves a screenshot in
``/tmp/itom-e2e-<test>.png``.
"""

import importlib
import os
from pathlib import Path

import pytest

from itom.roles import MANAGER
from tests.factories import PASSWORD, UserFactory

# Playwright's sync API runs an asyncio event loop in this thread; Django refuses ORM calls from a
# thread with a running loop unless told the calls are deliberate (they are: the test body is sync).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000  # every wait (navigation, locator, expect) gives up after this

_REPORT_KEY = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_REPORT_KEY] = report
    return report


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (Playwright's own download is not used)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def seeded_catalogue(transactional_db):
    """The CMDB's class catalogue and relationship types come from a data migration, and an earlier
    transactional test's flush empties their tables: seed them again (the seeding is idempotent)."""
    from django.apps import apps

    importlib.import_module("cmdb.migrations.0002_catalogue").seed(apps, None)


@pytest.fixture
def page(browser, live_server, transactional_db, seeded_catalogue, request):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        report = request.node.stash.get(_REPORT_KEY, None)
        if report is not None and report.failed:
            page.screenshot(path=f"/tmp/itom-e2e-{request.node.name}.png", full_page=True)
        context.close()


@pytest.fixture
def manager(transactional_db):
    return UserFactory(username="maria", first_name="Maria", last_name="Manager", roles=[MANAGER])


def sign_in(page, username, password=PASSWORD):
    """Fill in and submit the sign-in form; returns the response to the form's POST."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login/")) as posted:
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return posted.value


@pytest.fixture
def signed_in_manager(page, manager):
    """The page, signed in as the manager and showing the home page."""
    sign_in(page, manager.username)
    page.wait_for_url("/")
    return manager
