"""The web side of availability and insights: the services page, a service's page with its charts,
the insights at the top of the dashboard and in the weekly report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics.report import weekly_report_text
from opsdesk.choices import Role
from tests.factories import ServiceFactory, UserFactory

from .conftest import at

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def manager(user_in_role):
    return user_in_role(Role.INCIDENT_MANAGERS)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def worsening(build, service=None):
    service = service or build.service
    for day in range(5):
        start = datetime(2026, 10, 20 + day, 1, tzinfo=UTC)
        build.resolved(detected_at=start, resolved_at=start + timedelta(hours=1), service=service)
    for day in range(5):
        start = at(20 + day, 1)
        build.resolved(detected_at=start, resolved_at=start + timedelta(hours=4), service=service,
                       severity="critical", started_at=start)


def test_the_services_page_lists_availability_per_service(manager_client, build):
    worsening(build)
    page = manager_client.get(reverse("metrics:services"), {"from": "2026-11-01", "to": "2026-12-01"})
    html = page.content.decode()
    assert page.status_code == 200 and build.service.name in html
    # 5 critical incidents of 4 h in 30 days: 1 − 20/720
    assert f"{(1 - 20 / 720) * 100:.3f} %" in html
    assert reverse("metrics:service", args=[build.service.pk]) in html


def test_a_service_page_shows_figures_charts_incidents_and_changes(manager_client, build, user_in_role):
    worsening(build)
    secret = build.incident(detected_at=at(21), confidential=True, team=None)
    change = build.finished_change(state="failed", actual_start=at(22), actual_end=at(22, 1))
    page = manager_client.get(reverse("metrics:service", args=[build.service.pk]),
                              {"from": "2026-11-01", "to": "2026-12-01"})
    html = page.content.decode()
    assert page.status_code == 200
    for chart in ("availability", "incidents", "changes", "change-failure-rate"):
        assert f'id="chart-{chart}"' in html and "<svg" in html
    assert f"{(1 - 20 / 720) * 100:.3f} %" in html and change.number in html
    assert secret.number in html  # an Incident Manager sees every incident
    desk = user_in_role(Role.SERVICE_DESK)
    manager_client.force_login(desk)
    html = manager_client.get(reverse("metrics:service", args=[build.service.pk]),
                              {"from": "2026-11-01", "to": "2026-12-01"}).content.decode()
    assert secret.number not in html and secret.title not in html


def test_service_pages_refuse_bad_input_and_unknown_services(manager_client, build):
    from django.test import Client

    client = Client()
    url = reverse("metrics:service", args=[build.service.pk])
    assert manager_client.get(url, {"from": "2026-12-01", "to": "2026-11-01"}).status_code == 400
    assert manager_client.get(reverse("metrics:service", args=[999999])).status_code == 404
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403


def test_the_service_page_query_count_does_not_grow_with_the_data(manager_client, build):
    url = reverse("metrics:service", args=[build.service.pk])

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert manager_client.get(url, {"from": "2026-11-01", "to": "2026-12-01"}).status_code == 200
        return len(ctx.captured_queries)

    worsening(build)
    few = queries()
    worsening(build)
    for _ in range(3):
        worsening(build, ServiceFactory())
    assert queries() == few


def test_the_dashboard_shows_the_top_insights(manager_client, build):
    worsening(build)
    html = manager_client.get(reverse("metrics:dashboard"), {"from": "2026-11-01", "to": "2026-12-01"}).content.decode()
    assert 'id="insights"' in html
    sentence = f"Mean time to resolve on {build.service.name} rose from 1 h to 4 h (+300 %) over 5 resolved incidents."
    assert sentence in html


def test_the_weekly_report_says_what_changed(build):
    for day in range(5):
        build.resolved(detected_at=at(16 + day, 1), resolved_at=at(16 + day, 2))
        build.resolved(detected_at=at(23 + day, 1), resolved_at=at(23 + day, 5))
    _, body = weekly_report_text(today=date(2026, 11, 30))
    section = body.split("What changed", 1)[1].split("Incidents\n", 1)[0]
    assert f"Mean time to resolve on {build.service.name} rose from 1 h to 4 h (+300 %)" in section
    _, quiet = weekly_report_text(today=date(2026, 6, 1))
    assert "No notable change" in quiet
