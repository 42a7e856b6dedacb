"""The desk in Chromium: Assign to me from the queue, the incident page that updates itself,
and the main pages of each role at 1280 px and 390 px (no sideways scroll, no table wider
than its box, no link on the home page that leads to a refusal)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services
from opsdesk.choices import Role
from tests.factories import (
    ChangeRequestFactory,
    IncidentFactory,
    ReleaseFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser

# Sideways page scroll, and tables wider than the element that holds them.
OVERFLOW = """() => {
  const doc = document.documentElement;
  const wide = [...document.querySelectorAll('main table')].filter(t => {
    const box = t.parentElement.getBoundingClientRect();
    return t.getBoundingClientRect().width > box.width + 1;
  }).map(t => t.className);
  return {scroll: doc.scrollWidth > doc.clientWidth + 1, wide};
}"""


@pytest.fixture
def desk_team():
    desk = UserFactory(username="desk", first_name="Dana", last_name="Desk", roles=[Role.SERVICE_DESK])
    team = TeamFactory(name="Service Desk", members=[desk])
    return desk, team


def test_desk_assigns_an_incident_to_themself_from_the_queue(page, live_server, login, desk_team, screenshot):
    desk, team = desk_team
    service = ServiceFactory(name="Email", owner_team=team)
    incident = IncidentFactory(service=service, team=team, title="Shared mailbox not syncing", severity="high")
    login(page, live_server, desk)
    page.goto(f"{live_server.url}/incidents/")
    assert page.locator("#quick-views .active").inner_text() == "My work"
    row = page.locator(f"#incident-{incident.pk}")
    assert "Unassigned" in row.inner_text()
    row.get_by_role("button", name="Assign to me").click()
    page.wait_for_load_state()
    assert f"{incident.number} is assigned to you." in page.locator(".alert-success").inner_text()
    assert "Dana Desk" in page.locator(f"#incident-{incident.pk}").inner_text()
    incident.refresh_from_db()
    assert incident.assignee == desk
    screenshot(page, "queue-assigned-to-me")


def test_the_sla_panel_and_state_update_without_reload(page, live_server, login, desk_team, settings, screenshot):
    settings.OPSDESK_LIVE_POLL_SECONDS = 1
    desk, team = desk_team
    incident = IncidentFactory(team=team, severity="critical", detected_at=timezone.now() - timedelta(minutes=2))
    login(page, live_server, desk)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    response_clock = page.locator('#sla [data-clock="response"]')
    assert "On track" in response_clock.inner_text()
    page.fill("#note-form textarea", "Looking at the mail gateway")  # typing: nothing is lost by the poll
    manager = UserFactory(first_name="Ines", last_name="Manager", roles=[Role.INCIDENT_MANAGERS])
    services.incident_transition(instance=incident, name="acknowledge", by=manager)
    page.wait_for_selector("#live-notice .alert", timeout=10_000)
    assert "Acknowledged by Ines Manager" in page.locator("#live-notice").inner_text()
    assert "Responding" in page.locator("#incident-badges").inner_text()
    page.wait_for_function(
        "() => document.querySelector('#sla [data-clock=\"response\"]').innerText.includes('Met')"
    )
    assert page.input_value("#note-form textarea") == "Looking at the mail gateway"
    screenshot(page, "incident-live-notice")


def _data(desk, team):
    service = ServiceFactory(name="Payments API", owner_team=team)
    for index, severity in enumerate(("critical", "high", "medium", "low")):
        IncidentFactory(
            service=service, team=team, severity=severity, assignee=desk if index % 2 else None,
            title=f"Payments API timeouts for card customers in the EU region, case {index}",
            detected_at=timezone.now() - timedelta(minutes=10 + 20 * index),
        )
    release = ReleaseFactory(name="Payments API release with a long name for the list and the calendar")
    start = timezone.now() + timedelta(days=1)
    for index in range(3):
        ChangeRequestFactory(title=f"Rotate the Payments API signing keys on every node, batch {index}",
                             planned_start=start, planned_end=start + timedelta(hours=2), services=[service])
    return release


ROLE_PAGES = {
    Role.SERVICE_DESK: ["/", "/incidents/", "incident", "/metrics/"],
    Role.CHANGE_MANAGERS: ["/", "/changes/", "change", "/changes/calendar/"],
    Role.RELEASE_MANAGERS: ["/", "/releases/", "release", "/releases/calendar/"],
    Role.TECH_LEADS: ["/", "/changes/", "/incidents/"],
}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("role", list(ROLE_PAGES))
def test_main_pages_fit_the_screen(page, live_server, login, desk_team, role, width):
    desk, team = desk_team
    release = _data(desk, team)
    user = desk if role == Role.SERVICE_DESK else UserFactory(roles=[role])
    page.set_viewport_size({"width": width, "height": 900})
    login(page, live_server, user)
    from changes.models import ChangeRequest
    from incidents.models import Incident

    targets = {
        "incident": f"/incidents/{Incident.objects.first().pk}/",
        "change": f"/changes/{ChangeRequest.objects.first().pk}/",
        "release": f"/releases/{release.pk}/",
    }
    for path in ROLE_PAGES[role]:
        page.goto(live_server.url + targets.get(path, path))
        page.wait_for_load_state()
        assert page.evaluate(OVERFLOW) == {"scroll": False, "wide": []}, f"{path} at {width} px for {role}"
    if width == 390:  # the queue on a phone: number, title, severity, SLA and state; filters folded away
        page.goto(f"{live_server.url}/incidents/?view=open")
        assert not page.locator("#queue-filters").is_visible()
        row = page.locator(".incident-queue tbody tr").first
        text = row.inner_text()
        assert "INC-" in text and "Payments API timeouts" in text and "left" in text or "breached" in text
        assert row.locator("[data-severity]").is_visible() and row.locator("span[data-state]").is_visible()


@pytest.mark.parametrize("role", [r for r in Role])
def test_no_home_page_link_leads_to_a_refusal(page, live_server, login, role):
    user = UserFactory(roles=[role])
    login(page, live_server, user)
    page.goto(f"{live_server.url}/")
    hrefs = sorted(set(page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")))
    assert hrefs
    for href in hrefs:
        response = page.request.get(live_server.url + href)
        assert response.status != 403, f"{role}: {href} answers 403"
