"""Logging in through the browser; anonymous visitors only see the login page."""

from __future__ import annotations

import pytest

from opsdesk.choices import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def test_a_service_desk_user_logs_in_and_sees_the_desk_with_its_navigation(page, live_server, login, screenshot):
    user = UserFactory(username="desk", first_name="Dana", last_name="Desk", roles=[Role.SERVICE_DESK])
    login(page, live_server, user)
    assert page.url == f"{live_server.url}/"
    assert page.locator("h1").inner_text() == "Operations desk"
    nav = page.locator("nav")
    for link in ["Incidents", "Changes", "Releases", "Metrics", "API"]:
        assert nav.get_by_role("link", name=link, exact=True).is_visible(), link
    assert nav.get_by_role("link", name="Admin").count() == 0  # not staff
    assert "Dana Desk · Service Desk" in nav.inner_text()
    # The layout's CSS and scripts are served locally (no CDN): Bootstrap styled the navbar.
    assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "flex"
    assert page.evaluate("typeof window.bootstrap") == "object"
    assert page.evaluate("typeof window.htmx") == "object"
    assert screenshot(page, "login-home-service-desk").stat().st_size > 10_000


def test_a_wrong_password_stays_on_the_login_page_with_a_message(page, live_server):
    UserFactory(username="desk", roles=[Role.SERVICE_DESK])
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "desk")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert "/login/" in page.url
    assert "didn't match" in page.locator(".alert-danger").inner_text()


def test_an_anonymous_visit_redirects_to_the_login_page(page, live_server, screenshot):
    response = page.goto(f"{live_server.url}/")
    assert page.url == f"{live_server.url}/login/?next=/"
    assert response.status == 200
    assert page.get_by_role("heading", name="Log in to OpsDesk").is_visible()
    assert page.locator("nav").get_by_role("link", name="Incidents").count() == 0
    screenshot(page, "login-page")


def test_logging_out_returns_to_the_login_page(page, live_server, login):
    login(page, live_server, UserFactory(roles=[Role.SERVICE_DESK]))
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/login/")
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
