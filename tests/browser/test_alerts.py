"""An Alertmanager delivery opens an incident whose page shows its alerts, on a desktop and a phone."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from alerts import services
from incidents.models import Incident
from opsdesk.choices import Role
from tests.alerts.conftest import payload
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.browser


def test_the_incident_page_shows_the_alerts_that_opened_it(page, live_server, login, screenshot, rules_off):
    rules_off("auto_assign", "recurring_incidents_to_change")
    ServiceFactory(name="Checkout", slug="checkout")
    fallback = ServiceFactory(name="Monitoring", slug="monitoring")
    _, token = services.alert_source_create(by=None, name="Prometheus", slug="prom", kind="alertmanager",
                                            default_service=fallback)
    answer = APIClient().post("/api/v1/alerts/prom/", data=json.dumps(payload("alertmanager_v4_firing")),
                              content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 202
    incident = Incident.objects.get()
    desk = UserFactory(username="desk", roles=[Role.SERVICE_DESK])
    login(page, live_server, desk)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/incidents/{incident.pk}/")
        alerts = page.locator("#alerts")
        assert "2 firing of 2 alerts" in " ".join(alerts.locator(".card-header").inner_text().split())
        items = alerts.locator("li[data-alert-status=firing]")
        assert items.count() == 2
        assert "instance=https://shop.example.org" in alerts.inner_text()
        link = alerts.get_by_role("link", name="Source ↗").first
        assert link.get_attribute("href").startswith("http://prometheus.example.org:9090/graph")
        box = alerts.bounding_box()
        assert box["width"] <= width  # nothing runs off a phone's screen
        screenshot(page, f"alerts-incident-{width}")
