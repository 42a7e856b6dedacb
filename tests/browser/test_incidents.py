"""The service desk logs an incident in the browser, finds it in the queue and acknowledges it."""

from __future__ import annotations

import pytest

from incidents.choices import IncidentState
from incidents.models import Incident
from opsdesk.choices import Role
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.browser


def test_service_desk_logs_finds_and_acknowledges_an_incident(page, live_server, login, screenshot):
    desk = UserFactory(username="desk", first_name="Dana", last_name="Desk", roles=[Role.SERVICE_DESK])
    ServiceFactory(name="Checkout")
    ServiceFactory(name="Customer login")
    login(page, live_server, desk)

    page.goto(f"{live_server.url}/incidents/")
    page.get_by_role("link", name="Log an incident").click()
    page.wait_for_url(f"{live_server.url}/incidents/new/")
    # The impact start is prefilled with now; a missing title is refused on its field.
    assert page.input_value("#id_started_at") != ""
    page.select_option("#id_service", label="Checkout")
    page.select_option("#id_severity", value="high")
    page.fill("#id_customers_affected", "-2")
    page.get_by_role("button", name="Log incident").click()
    page.wait_for_load_state()
    form_text = page.locator("form").last.inner_text()
    assert "Give the incident a short title." in form_text
    assert "Customers affected cannot be negative." in form_text
    assert Incident.objects.count() == 0
    screenshot(page, "incidents-form-errors")

    page.fill("#id_title", "Checkout returns 502 for EU customers")
    page.fill("#id_customers_affected", "120")
    page.fill("#id_description", "Card payments fail after the 10:00 deploy.")
    page.get_by_role("button", name="Log incident").click()
    page.wait_for_url(lambda url: "/new/" not in url)
    incident = Incident.objects.get()
    assert page.url == f"{live_server.url}/incidents/{incident.pk}/"
    assert f"{incident.number} logged." in page.locator(".alert-success").inner_text()
    assert incident.reporter == desk
    assert incident.customers_affected == 120
    assert incident.state == IncidentState.DETECTED

    page.goto(f"{live_server.url}/incidents/?view=open")
    row = page.locator(f"#incident-{incident.pk}")
    assert row.is_visible()
    assert incident.number in row.inner_text()
    assert "Checkout returns 502 for EU customers" in row.inner_text()
    assert "left" in row.inner_text()  # the response clock is running
    screenshot(page, "incidents-queue")

    row.get_by_role("link", name=incident.number).click()
    page.wait_for_url(f"{live_server.url}/incidents/{incident.pk}/")
    actions = page.locator("#actions")
    assert actions.get_by_role("button", name="Acknowledge").is_visible()
    assert actions.get_by_role("button", name="Cancel incident…").count() == 0  # not the desk's step
    actions.get_by_placeholder("Comment (optional)").fill("Paging the payments team")
    actions.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    assert f"{incident.number} is now responding." in page.locator(".alert-success").inner_text()
    assert "Paging the payments team" in page.locator("#timeline").inner_text()
    assert actions.get_by_role("button", name="Acknowledge").count() == 0
    incident.refresh_from_db()
    assert incident.state == IncidentState.RESPONDING
    assert incident.acknowledged_at is not None
    screenshot(page, "incidents-acknowledged")


def test_queue_and_page_say_when_a_business_hours_clock_stands_still(page, live_server, login, screenshot):
    from datetime import timedelta

    from django.utils import timezone

    from incidents import calendars, services
    from incidents.choices import WEEKDAY_KEYS
    from incidents.models import SLAPolicy

    # A calendar worked only two days from now, 09:00-10:00 UTC: now is outside its hours.
    other_day = WEEKDAY_KEYS[(timezone.now() + timedelta(days=2)).weekday()]
    office = calendars.calendar_create(by=None, name="Back office", time_zone="UTC",
                                       hours={other_day: [["09:00", "10:00"]]})
    calendars.sla_policy_update(policy=SLAPolicy.objects.get(severity="medium"), by=None, calendar=office)
    incident = services.incident_create(by=None, title="Report export is slow", service=ServiceFactory(),
                                        severity="medium")
    desk = UserFactory(username="desk", roles=[Role.SERVICE_DESK])
    login(page, live_server, desk)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/incidents/?view=open")
        row = page.locator(f"#incident-{incident.pk}")
        assert "paused: outside business hours" in row.inner_text()
        assert "2 h left" in row.inner_text()  # all of the response window, in working time
        screenshot(page, f"incidents-queue-business-hours-{width}")
        page.goto(f"{live_server.url}/incidents/{incident.pk}/")
        assert "SLA paused: outside business hours" in page.locator("#sla-headline").inner_text()
        assert "Back office" in page.locator("#sla-calendar").inner_text()
        assert page.locator("#sla-paused").inner_text() == "yes, outside business hours"
        screenshot(page, f"incidents-detail-business-hours-{width}")
