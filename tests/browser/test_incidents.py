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

    page.goto(f"{live_server.url}/incidents/")
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
