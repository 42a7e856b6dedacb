"""Teams and services are archived, never hard-deleted (§6): the API's DELETE archives, history
keeps them, choice lists drop them, and new records cannot point at them."""

from __future__ import annotations

import pytest
from django.test import Client

from incidents import services as incident_services
from opsdesk.choices import Role
from opsdesk.models import Service, Team
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)


def test_delete_of_a_team_archives_it_and_its_incidents_keep_it(api_client, superuser):
    team = TeamFactory()
    incident = IncidentFactory(team=team)
    response = api_client(superuser).delete(f"/api/v1/teams/{team.pk}/")
    assert response.status_code == 204
    team.refresh_from_db()
    incident.refresh_from_db()
    assert team.active is False
    assert incident.team_id == team.pk
    assert api_client(superuser).get(f"/api/v1/teams/{team.pk}/").json()["active"] is False


def test_delete_of_a_service_with_incidents_archives_it_and_is_not_a_409(api_client, superuser):
    service = ServiceFactory()
    IncidentFactory(service=service)
    response = api_client(superuser).delete(f"/api/v1/services/{service.pk}/")
    assert response.status_code == 204  # was 409 "concurrent update" (a protected delete)
    assert Service.objects.get(pk=service.pk).active is False
    assert api_client(superuser).get("/api/v1/services/?active=false").json()["count"] == 1


def test_archiving_needs_the_delete_permission(api_client, user_in_role):
    team = TeamFactory()
    response = api_client(user_in_role(Role.INCIDENT_MANAGERS)).delete(f"/api/v1/teams/{team.pk}/")
    assert response.status_code == 403
    assert Team.objects.get(pk=team.pk).active is True


def test_an_archived_service_or_team_cannot_be_chosen_for_a_new_incident(api_client, user_in_role):
    desk = user_in_role(Role.SERVICE_DESK)
    archived = ServiceFactory(active=False)
    response = api_client(desk).post("/api/v1/incidents/", {
        "title": "x", "service": archived.pk, "severity": "low"}, format="json")
    assert response.status_code == 400
    assert "service" in response.json()
    live = ServiceFactory()
    old_team = TeamFactory(active=False)
    response = api_client(desk).post("/api/v1/incidents/", {
        "title": "x", "service": live.pk, "team": old_team.pk, "severity": "low"}, format="json")
    assert response.status_code == 400
    assert "team" in response.json()


def test_a_service_whose_owner_team_is_archived_logs_incidents_without_a_team(user_in_role):
    desk = user_in_role(Role.SERVICE_DESK)
    service = ServiceFactory(owner_team=TeamFactory(active=False))
    incident = incident_services.incident_create(by=desk, title="x", service=service, severity="low")
    assert incident.team is None


def test_archived_ones_leave_the_pages_choices_but_an_edit_keeps_them(user_in_role):
    desk = user_in_role(Role.SERVICE_DESK)
    client = Client()
    client.force_login(desk)
    archived_service = ServiceFactory(name="Retired mainframe", active=False)
    archived_team = TeamFactory(name="Disbanded squad", active=False)
    page = client.get("/incidents/new/").content.decode()
    assert "Retired mainframe" not in page and "Disbanded squad" not in page
    incident = IncidentFactory(team=archived_team, service=archived_service)
    edit = client.get(f"/incidents/{incident.pk}/edit/")
    assert edit.status_code == 200
    assert "Disbanded squad" in edit.content.decode()
    response = client.post(f"/incidents/{incident.pk}/edit/", {
        "title": "New title", "team": archived_team.pk, "customers_affected": 0,
        "expected_state": incident.state,
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    incident.refresh_from_db()
    assert (incident.title, incident.team_id) == ("New title", archived_team.pk)
