"""The admin of sources (token once, configuration, last alert and counts) and alerts; the incident page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts.models import AlertSource
from incidents.models import Incident
from opsdesk.choices import Role

from .conftest import payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def im(user_in_role, client):
    user = user_in_role(Role.INCIDENT_MANAGERS, is_staff=True, username="im")
    client.force_login(user)
    return user


def form(service, **fields):
    return {
        "name": "Prometheus EU", "slug": "prom-eu", "kind": "alertmanager", "enabled": "on",
        "default_service": service.pk, "default_severity": "medium",
        "severity_map": '{"critical": "critical", "warning": "medium"}', "service_label": "service",
        "auto_resolve": "on", "reopen_minutes": 30, "rate_limit_per_minute": 120, **fields,
    }


def test_an_incident_manager_adds_a_source_and_sees_its_token_once(client, im, fallback_service):
    response = client.post(reverse("admin:alerts_alertsource_add"), form(fallback_service), follow=True)
    assert response.status_code == 200
    source = AlertSource.objects.get()
    text = response.content.decode()
    assert "Its token, shown this once" in text
    assert "webhook_configs:" in text and "credentials: " in text
    assert "http://127.0.0.1:8000/api/v1/alerts/prom-eu/" in text
    assert source.token_prefix in text
    again = client.get(reverse("admin:alerts_alertsource_change", args=[source.pk])).content.decode()
    assert "Its token, shown this once" not in again
    assert "credentials: &lt;the token shown when the source was created&gt;" in again


def test_a_bad_severity_map_is_a_form_error(client, im, fallback_service):
    response = client.post(reverse("admin:alerts_alertsource_add"),
                           form(fallback_service, severity_map='{"warning": "soon"}'))
    assert response.status_code == 200
    assert "Give an object of label value → severity" in response.content.decode()
    assert not AlertSource.objects.exists()


def test_a_duplicate_name_or_slug_is_a_form_error(client, im, make_source, fallback_service):
    make_source("alertmanager", name="Prometheus EU", slug="prom-eu")
    response = client.post(reverse("admin:alerts_alertsource_add"), form(fallback_service))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Another source is already called" in text and "Another source already uses" in text
    assert AlertSource.objects.count() == 1


def test_the_grafana_source_page_shows_a_contact_point(client, im, make_source):
    source, _ = make_source("grafana")
    text = client.get(reverse("admin:alerts_alertsource_change", args=[source.pk])).content.decode()
    assert "type: webhook" in text and "authorization_scheme: Bearer" in text


def test_the_source_list_shows_the_last_alert_and_counts(clock, client, im, make_source, service, send):
    source, token = make_source("alertmanager")
    send("alertmanager", token, payload("alertmanager_v4_firing"))
    text = client.get(reverse("admin:alerts_alertsource_changelist")).content.decode()
    assert '<td class="field-firing">2</td>' in text and '<td class="field-total">2</td>' in text
    assert '<td class="field-last_alert nowrap">2 Mar 2026 09:00</td>' in text  # the one date format, admin included


def test_the_service_desk_cannot_add_sources_in_the_admin(client, user_in_role, fallback_service):
    client.force_login(user_in_role(Role.SERVICE_DESK, is_staff=True))
    assert client.get(reverse("admin:alerts_alertsource_add")).status_code == 403


def test_rotating_in_the_admin_shows_the_new_token(client, im, make_source, service, clock, send):
    source, old = make_source("alertmanager")
    response = client.post(reverse("admin:alerts_alertsource_changelist"),
                           {"action": "rotate_token", "_selected_action": [source.pk]}, follow=True)
    assert "New token for" in response.content.decode()
    assert send("alertmanager", old, payload("alertmanager_v4_firing")).status_code == 401


def test_alerts_of_a_confidential_incident_are_hidden_in_the_admin(clock, client, user_in_role, make_source,
                                                                     service, send):
    _, token = make_source("alertmanager")
    send("alertmanager", token, payload("alertmanager_v4_firing"))
    Incident.objects.update(confidential=True)
    outsider = user_in_role(Role.SERVICE_DESK, is_staff=True, username="outsider")
    client.force_login(outsider)
    text = client.get(reverse("admin:alerts_alert_changelist")).content.decode()
    assert "BlackBox probe failure" not in text and "0 alerts" in text
    client.force_login(user_in_role(Role.INCIDENT_MANAGERS, is_staff=True, username="im2"))
    text = client.get(reverse("admin:alerts_alert_changelist")).content.decode()
    assert "BlackBox probe failure: https://shop.example.org" in text


def test_the_incident_page_shows_its_alerts_with_labels_status_and_links(clock, client, user_in_role, make_source,
                                                                          service, send):
    _, token = make_source("alertmanager")
    send("alertmanager", token, payload("alertmanager_v4_firing"))
    send("alertmanager", token, {**payload("alertmanager_v4_resolved"),
                                 "alerts": payload("alertmanager_v4_resolved")["alerts"][:1]})
    incident = Incident.objects.get()
    client.force_login(user_in_role(Role.SERVICE_DESK))
    text = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert '<h2 class="h6 fw-semibold mb-0" id="alerts-heading">Alerts</h2>' in text
    assert "1 firing</span> of 2 alerts" in text
    assert text.count('data-alert-status="firing"') == 1 and text.count('data-alert-status="resolved"') == 1
    assert "instance=https://api.shop.example.org" in text
    assert 'href="http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&amp;g0.tab=1"' in text
    assert 'href="https://wiki.example.org/runbooks/probe-failure"' in text
    assert "System note" in text  # the resolved alert, noted by the system


def test_an_incident_without_alerts_shows_no_alerts_card(client, user_in_role, service):
    from tests.factories import IncidentFactory

    incident = IncidentFactory(service=service)
    client.force_login(user_in_role(Role.SERVICE_DESK))
    assert 'id="alerts-heading"' not in client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()


def test_send_test_alert_posts_to_a_running_opsdesk_and_resolves(live_server, make_source, service, settings):
    from io import StringIO

    from django.core.management import call_command

    _, token = make_source("alertmanager")
    out = StringIO()
    call_command("send_test_alert", "alertmanager", f"--token={token}", "--url", live_server.url,
                 "--service", "checkout", "--instances", "2", stdout=out)
    assert "→ 202" in out.getvalue()
    incident = Incident.objects.get()
    assert (incident.title, incident.service, incident.state) == (
        "OpsDesk test alert on test-host-1.example.org (+1 more alert)", service, "detected"
    )
    call_command("send_test_alert", "alertmanager", f"--token={token}", "--url", live_server.url, "--resolve",
                 "--service", "checkout", "--instances", "2", stdout=StringIO())
    incident.refresh_from_db()
    assert incident.state == "resolved"


def test_send_test_alert_with_a_wrong_token_says_it_was_refused(live_server, make_source, service):
    from io import StringIO

    from django.core.management import CommandError, call_command

    make_source("grafana")
    with pytest.raises(CommandError, match=r"refused the test alert \(401\)"):
        call_command("send_test_alert", "grafana", "--token", "nope", "--url", live_server.url, stdout=StringIO())
