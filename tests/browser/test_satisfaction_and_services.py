"""In the browser: a caller answers the survey from the email without logging in, the answer shows
on the incident page; a service's availability page and the dashboard's insights, at desk width and
on a phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import Incident
from opsdesk.choices import Role
from opsdesk.models import Notification
from tests.factories import ServiceFactory, TeamFactory, UserFactory

from .test_incident_process import no_horizontal_scroll, no_inline_script

pytestmark = pytest.mark.browser


def test_the_caller_answers_the_survey_and_the_desk_sees_it(page, live_server, login, screenshot):
    manager = UserFactory(username="ines", roles=[Role.INCIDENT_MANAGERS])
    service = ServiceFactory(name="Payments API", owner_team=TeamFactory(name="Payments"))
    incident = services.incident_create(by=manager, title="Card payments fail", service=service, severity="high",
                                        caller_email="cleo@example.com")
    services.incident_transition(instance=incident, name="resolve", by=manager, resolution_summary="Restarted")
    body = Notification.objects.get(recipient="cleo@example.com", subject__contains="How did we do").body
    link = next(line for line in body.splitlines() if "/survey/" in line)
    path = link[link.index("/survey/"):]

    page.goto(f"{live_server.url}{path}")
    no_inline_script(page.content())
    assert incident.number in page.locator("h1").inner_text()
    screenshot(page, "survey-form-1280")
    page.get_by_label("4").check()
    page.fill("textarea[name=comment]", "Fixed fast, updates could be clearer.")
    page.get_by_role("button", name="Send").click()
    assert "has been recorded: 4 out of 5" in page.locator("#survey-thanks").inner_text()
    page.goto(f"{live_server.url}{path}")
    assert "answered already" in page.locator("#survey-already").inner_text()
    page.goto(f"{live_server.url}/survey/not-a-token/")
    assert "not valid" in page.locator("h1").inner_text()
    assert "incomplete" in page.locator("#survey-problem").inner_text()

    login(page, live_server, manager)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    assert page.locator("#survey-rating").inner_text() == "4/5"
    assert "updates could be clearer" in page.locator("#survey-comment").inner_text()


def test_a_service_page_and_the_insights_on_the_dashboard(page, live_server, login, screenshot):
    manager = UserFactory(username="ines", roles=[Role.INCIDENT_MANAGERS])
    service = ServiceFactory(name="Payments API", owner_team=TeamFactory(name="Payments"))
    now = timezone.now()
    for days, hours in [(d, 1) for d in range(40, 35, -1)] + [(d, 5) for d in range(10, 5, -1)]:
        detected = now - timedelta(days=days)
        Incident.objects.create(
            title=f"Outage {days}", service=service, team=service.owner_team, severity="critical", state="resolved",
            started_at=detected, detected_at=detected, acknowledged_at=detected + timedelta(minutes=5),
            resolved_at=detected + timedelta(hours=hours),
        )
    login(page, live_server, manager)
    page.goto(f"{live_server.url}/metrics/")
    no_inline_script(page.content())
    assert "Mean time to resolve on Payments API rose from 1 h to 5 h" in page.locator("#insights").inner_text()
    screenshot(page, "dashboard-insights-1280")
    page.get_by_role("link", name="Service availability").click()
    page.get_by_role("link", name="Payments API").click()
    no_inline_script(page.content())
    assert page.locator("#chart-availability svg").count() == 1
    assert "Availability" in page.locator("#service-figures").inner_text()
    screenshot(page, "service-page-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    no_horizontal_scroll(page)
    screenshot(page, "service-page-390")
