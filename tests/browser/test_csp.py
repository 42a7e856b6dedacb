"""The Content-Security-Policy holds in a real browser: every kind of page loads with no CSP
violation in the console, and the behaviours moved out of inline handlers still work."""

from __future__ import annotations

import pytest

from tests.factories import ChangeRequestFactory, IncidentFactory, ReleaseFactory, UserFactory

pytestmark = pytest.mark.browser


def test_pages_load_without_csp_violations(page, live_server, login, screenshot):
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    incident = IncidentFactory()
    change = ChangeRequestFactory()
    release = ReleaseFactory()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning")
            and ("Content Security Policy" in msg.text or "Refused" in msg.text) else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('Refused (CSP): ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    login(page, live_server, admin_user)
    for path in (
        "/", "/incidents/", f"/incidents/{incident.pk}/", "/incidents/new/", f"/incidents/{incident.pk}/edit/",
        "/changes/", f"/changes/{change.pk}/", "/changes/new/", "/changes/calendar/",
        "/releases/", f"/releases/{release.pk}/", "/releases/calendar/", "/metrics/", "/automation/",
        "/admin/", f"/admin/incidents/incident/{incident.pk}/change/", "/admin/changes/changerequest/add/",
        "/api/docs/",
    ):
        response = page.goto(path)
        assert response.status == 200, path
        assert "content-security-policy" in response.headers, path
        page.wait_for_load_state("networkidle")
    screenshot(page, "csp-api-docs")
    assert page.locator(".swagger-ui").count() == 1  # the docs' start-up script ran (a static file now)
    assert not problems, problems


def test_per_page_select_submits_without_an_inline_handler(page, live_server, login):
    for _ in range(3):
        IncidentFactory()
    login(page, live_server, UserFactory(username="root", is_staff=True, is_superuser=True))
    page.goto("/incidents/")
    page.select_option("#per-page", index=1)
    page.wait_for_url(lambda url: "per_page=" in url)
