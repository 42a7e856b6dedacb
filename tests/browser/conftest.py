"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live_server.

Use ``page`` (a fresh browser context per test, on a transactional database) and
``login(page, live_server, user)``; mark the tests ``@pytest.mark.browser``.
Screenshots go to ``test-artifacts/`` (``screenshot(page, "name")``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import _missing

# Playwright's sync API runs an event loop in this thread; Django would otherwise
# refuse database access from it as "async context". The ORM calls here are plain sync code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session."""
    if not os.path.exists(CHROMIUM):
        _missing("Chromium not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server, transactional_db):
    """A page in a fresh context (no cookies), 1400×1000, on a transactional database."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def login():
    """``login(page, live_server, user, password="pw")`` logs in through /login/ and lands on the home page."""

    def do_login(page, live_server, user, password: str = "pw"):
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    return do_login


@pytest.fixture
def screenshot():
    """``screenshot(page, "name")`` saves test-artifacts/name.png and returns its path."""

    def take(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
