"""``/api/v1/alert-sources/``: who may create sources, the token shown once, and confidentiality of alerts."""

from __future__ import annotations

import pytest

from alerts.models import AlertSource
from incidents.models import Incident
from opsdesk.choices import Role

from .conftest import payload

pytestmark = pytest.mark.django_db


def new_source(**fields):
    return {"name": "Prometheus EU", "slug": "prom-eu", "kind": "alertmanager", **fields}


def test_an_incident_manager_creates_a_source_and_gets_its_token_once(
    clock, api_client, incident_manager, fallback_service, service, send
):
    client = api_client(incident_manager)
    response = client.post("/api/v1/alert-sources/", new_source(default_service=fallback_service.pk), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    token = body["token"]
    assert len(token) >= 40
    assert body["ingest_url"] == "http://127.0.0.1:8000/api/v1/alerts/prom-eu/"
    assert (body["reopen_minutes"], body["rate_limit_per_minute"], body["auto_resolve"], body["enabled"]) == (
        30, 120, True, True
    )
    assert body["severity_map"] == {"critical": "critical", "high": "high", "error": "high", "warning": "medium",
                                    "info": "low"}
    assert body["service_label"] == "service" and body["default_severity"] == "medium"
    source = AlertSource.objects.get()
    assert token not in str(AlertSource.objects.values().get())  # stored only as a hash
    assert body["token_prefix"] == token[:8]
    again = client.get(f"/api/v1/alert-sources/{source.pk}/").json()
    assert "token" not in again
    assert send("prom-eu", token, payload("alertmanager_v4_firing")).status_code == 202


def test_a_superuser_creates_sources_too(api_client, fallback_service, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.test", "pw")
    response = api_client(root).post("/api/v1/alert-sources/", new_source(default_service=fallback_service.pk),
                                     format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("role", [Role.SERVICE_DESK, Role.API_READERS, Role.OPS_MANAGERS])
def test_other_roles_may_not_create_sources_but_read_them(api_client, user_in_role, fallback_service, role):
    client = api_client(user_in_role(role))
    response = client.post("/api/v1/alert-sources/", new_source(default_service=fallback_service.pk), format="json")
    assert response.status_code == 403
    assert not AlertSource.objects.exists()
    assert client.get("/api/v1/alert-sources/").status_code == 200


def test_anonymous_gets_401(api_client):
    assert api_client().get("/api/v1/alert-sources/").status_code == 401


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"severity_map": {"warning": "urgent"}}, "severity_map"),
        ({"severity_map": ["critical"]}, "severity_map"),
        ({"kind": "nagios"}, "kind"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"reopen_minutes": -1}, "reopen_minutes"),
        ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"service_label": "  "}, "service_label"),
        ({"default_service": None}, "default_service"),
    ],
)
def test_bad_fields_are_400_naming_them(api_client, incident_manager, fallback_service, fields, field):
    body = {**new_source(default_service=fallback_service.pk), **fields}
    response = api_client(incident_manager).post("/api/v1/alert-sources/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not AlertSource.objects.exists()


def test_a_duplicate_slug_is_400(api_client, incident_manager, make_source, fallback_service):
    make_source("alertmanager", slug="prom-eu")
    body = new_source(default_service=fallback_service.pk, name="Another")
    response = api_client(incident_manager).post("/api/v1/alert-sources/", body, format="json")
    assert (response.status_code, list(response.json())) == (400, ["slug"])


def test_rotating_the_token_stops_the_old_one(clock, api_client, incident_manager, make_source, service, send):
    source, old = make_source("alertmanager")
    response = api_client(incident_manager).post(f"/api/v1/alert-sources/{source.pk}/rotate-token/")
    assert response.status_code == 200
    new = response.json()["token"]
    assert send("alertmanager", old, payload("alertmanager_v4_firing")).status_code == 401
    assert send("alertmanager", new, payload("alertmanager_v4_firing")).status_code == 202


def test_the_service_desk_may_not_rotate_a_token(api_client, service_desk_user, make_source):
    source, _ = make_source("alertmanager")
    response = api_client(service_desk_user).post(f"/api/v1/alert-sources/{source.pk}/rotate-token/")
    assert response.status_code == 403


def test_an_incident_manager_disables_a_source(api_client, incident_manager, make_source):
    source, _ = make_source("alertmanager")
    response = api_client(incident_manager).patch(f"/api/v1/alert-sources/{source.pk}/", {"enabled": False},
                                                  format="json")
    assert (response.status_code, response.json()["enabled"]) == (200, False)


def test_the_list_shows_last_alert_time_and_counts(clock, api_client, api_reader, make_source, service, send):
    source, token = make_source("alertmanager")
    send("alertmanager", token, payload("alertmanager_v4_firing"))
    row = api_client(api_reader).get("/api/v1/alert-sources/").json()["results"][0]
    assert (row["alerts_firing"], row["alerts_total"], row["last_alert_at"]) == (2, 2, "2026-03-02T09:00:00Z")


def test_alerts_of_a_confidential_incident_are_hidden_from_outsiders(
    clock, api_client, user_in_role, incident_manager, make_source, service, send
):
    source, token = make_source("alertmanager")
    send("alertmanager", token, payload("alertmanager_v4_firing"))
    incident = Incident.objects.get()
    Incident.objects.filter(pk=incident.pk).update(confidential=True)
    outsider = user_in_role(Role.SERVICE_DESK, username="outsider")
    url = f"/api/v1/alert-sources/{source.pk}/alerts/"
    assert api_client(outsider).get(url).json()["count"] == 0
    assert api_client(outsider).get(f"/api/v1/incidents/{incident.pk}/").status_code == 404
    assert api_client(incident_manager).get(url).json()["count"] == 2
    member = service.owner_team.members.first()
    assert api_client(member).get(url).json()["count"] == 2  # the incident's team sees it
