"""The automation pages and what the incident, change and release pages say automation did."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from automation.models import AutomationRun
from changes.models import ChangeRequest
from incidents import services as incident_services
from incidents.models import Incident
from releases import services as release_services
from tests.factories import ReleaseFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def recurring(service, rules_off):
    """Three incidents on Checkout: the third opened a change; each was auto-assigned."""
    incidents = [
        incident_services.incident_create(by=None, service=service, title=f"Checkout fails {n}", severity="low",
                                          detected_at=timezone.now() - timedelta(minutes=10 - n))
        for n in range(3)
    ]
    return incidents, ChangeRequest.objects.get()


def test_the_automation_page_shows_rules_and_runs(client, service_desk_user, recurring):
    client.force_login(service_desk_user)
    page = client.get(reverse("automation:index"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "recurring_incidents_to_change" in text and "on incident.created" in text
    assert text.count('class="badge text-bg-success">acted') == AutomationRun.objects.filter(outcome="acted").count()
    only = client.get(reverse("automation:index"), {"rule": "recurring_incidents_to_change"}).content.decode()
    assert "1 run" in only


def test_the_run_log_is_not_counted_row_by_row_beyond_a_thousand(client, service_desk_user, recurring, monkeypatch):
    client.force_login(service_desk_user)
    runs = AutomationRun.objects.count()
    assert f"{runs} runs" in client.get(reverse("automation:index")).content.decode()
    monkeypatch.setattr("opsdesk.pagination.cheap_count", lambda queryset, cap: (2_000_000, True))
    assert "about 2,000,000 runs" in client.get(reverse("automation:index")).content.decode()


def test_a_run_page_links_its_subject_and_records(client, service_desk_user, recurring):
    incidents, change = recurring
    run = AutomationRun.objects.get(rule__key="recurring_incidents_to_change")
    client.force_login(service_desk_user)
    page = client.get(reverse("automation:run", args=[run.pk])).content.decode()
    assert reverse("incidents:detail", args=[incidents[2].pk]) in page
    assert f'created <a href="{reverse("changes:detail", args=[change.pk])}">{change.number}</a>' in page
    assert client.get(reverse("automation:run", args=[99999])).status_code == 404


def test_the_change_page_says_it_was_opened_by_the_rule_with_a_link_to_the_run(client, service_desk_user,
                                                                                 recurring):
    _, change = recurring
    run = AutomationRun.objects.get(rule__key="recurring_incidents_to_change")
    client.force_login(service_desk_user)
    page = client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert "Opened by rule <span class=\"font-monospace\">recurring_incidents_to_change</span>" in page
    assert f'<a href="{reverse("automation:run", args=[run.pk])}">run #{run.pk}</a>' in page


def test_the_incident_page_shows_its_assignment_by_rule(client, service_desk_user, recurring):
    incidents, change = recurring
    client.force_login(service_desk_user)
    page = client.get(reverse("incidents:detail", args=[incidents[0].pk])).content.decode()
    assert "auto_assign #" in page and "Assigned " in page


def test_the_release_page_shows_the_incident_opened_for_its_failed_deployment(client, release_manager, advance):
    release = advance(ReleaseFactory(release_manager=release_manager, services=[ServiceFactory()]), release_manager,
                      to="implementation")
    now = timezone.now()
    release_services.deployment_create(release=release, by=release_manager, environment="prod", status="failed",
                                       started_at=now - timedelta(minutes=4), finished_at=now)
    incident = Incident.objects.get()
    client.force_login(release_manager)
    page = client.get(reverse("releases:detail", args=[release.pk])).content.decode()
    assert "failed_deployment_to_incident #" in page and f"Opened {incident.number}" in page
    incident_page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Opened by rule <span class=\"font-monospace\">failed_deployment_to_incident</span>" in incident_page


def test_outsiders_never_see_runs_about_confidential_incidents(client, api_reader, service, incident_manager,
                                                               rules_off):
    rules_off("recurring_incidents_to_change")
    secret = incident_services.incident_create(by=incident_manager, service=service, title="Leak", severity="high",
                                               confidential=True)
    run = AutomationRun.objects.get(subject_number=secret.number)
    client.force_login(api_reader)
    assert secret.number not in client.get(reverse("automation:index")).content.decode()
    assert client.get(reverse("automation:run", args=[run.pk])).status_code == 404


def test_users_without_a_role_are_refused_and_anonymous_sent_to_login(client):
    assert client.get(reverse("automation:index")).status_code == 302
    client.force_login(UserFactory())
    assert client.get(reverse("automation:index")).status_code == 403


def test_the_run_log_page_makes_a_constant_number_of_queries(client, service_desk_user, service, rules_off,
                                                             django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rules_off("recurring_incidents_to_change")
    client.force_login(service_desk_user)
    incident_services.incident_create(by=None, service=service, title="x", severity="low")
    client.get(reverse("automation:index"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("automation:index"))
    for _ in range(12):
        incident_services.incident_create(by=None, service=service, title="x", severity="low")
    with django_assert_max_num_queries(len(few)):
        assert client.get(reverse("automation:index")).status_code == 200
