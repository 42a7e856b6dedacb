"""The incident API: status codes (§7), confidentiality, transitions, escalation, notes,
filters, ordering, available_transitions per user, and a list query count that does not grow."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import Incident
from opsdesk.choices import Role
from tests.factories import IncidentFactory, UserFactory

from .conftest import T0

pytestmark = pytest.mark.django_db

LIST = "/api/v1/incidents/"


def url(incident, action=""):
    return f"{LIST}{incident.pk}/" + (f"{action}/" if action else "")


# --- create ------------------------------------------------------------------------


def test_create_201(clock, api_client, desk, service, team):
    response = api_client(desk).post(
        LIST, {"title": "Checkout down", "service": service.pk, "severity": "critical"}, format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["number"] == f"INC-{data['id']:06d}"
    assert (data["state"], data["team"], data["reporter"]) == ("detected", team.pk, desk.pk)
    assert data["response_due"] == "2026-03-02T09:15:00Z"
    assert set(data["available_transitions"]) == {"acknowledge", "resolve"}
    assert data["sla"]["response"]["remaining_seconds"] == 900
    assert data["sla"]["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "", "severity": "low"}, "title"),
        ({"title": "x" * 201, "severity": "low"}, "title"),
        ({"title": "x", "severity": "bad"}, "severity"),
        ({"title": "x", "severity": "low", "detected_at": "2026-03-02T10:00:00Z"}, "detected_at"),
        (
            {"title": "x", "severity": "low", "detected_at": "2026-03-02T08:00:00Z",
             "started_at": "2026-03-02T08:30:00+00:00"},
            "started_at",
        ),
        ({"title": "x", "severity": "low", "customers_affected": -5}, "customers_affected"),
    ],
)
def test_create_400_with_field_errors(clock, api_client, desk, service, body, field):
    response = api_client(desk).post(LIST, {**body, "service": service.pk}, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_create_400_without_service(clock, api_client, desk):
    response = api_client(desk).post(LIST, {"title": "x", "severity": "low"}, format="json")
    assert response.status_code == 400
    assert "service" in response.json()


def test_create_401_anonymous_403_api_reader(clock, api_client, api_reader, service):
    body = {"title": "x", "service": service.pk, "severity": "low"}
    assert api_client().post(LIST, body, format="json").status_code == 401
    assert api_client().get(LIST).status_code == 401
    assert api_client(api_reader).post(LIST, body, format="json").status_code == 403
    assert Incident.objects.count() == 0


# --- read ----------------------------------------------------------------------------


def test_api_reader_reads_but_has_no_transitions(clock, api_client, api_reader, service):
    incident = IncidentFactory(service=service)
    response = api_client(api_reader).get(url(incident))
    assert response.status_code == 200
    assert response.json()["available_transitions"] == []


def test_unknown_is_404(clock, api_client, desk):
    assert api_client(desk).get(f"{LIST}999999/").status_code == 404


def test_confidential_is_404_for_outsiders_and_absent_from_lists(clock, api_client, user_in_role, service, manager):
    reporter = user_in_role(Role.SERVICE_DESK)
    outsider = user_in_role(Role.SERVICE_DESK)
    incident = services.incident_create(by=reporter, title="Breach", service=service, severity="high",
                                        confidential=True)
    client = api_client(outsider)
    assert client.get(url(incident)).status_code == 404
    assert client.get(LIST).json()["count"] == 0
    assert client.post(url(incident, "acknowledge"), {}, format="json").status_code == 404
    assert client.patch(url(incident), {"title": "x"}, format="json").status_code == 404
    assert client.post(url(incident, "notes"), {"body": "x"}, format="json").status_code == 404
    assert api_client(reporter).get(url(incident)).status_code == 200
    assert api_client(manager).get(LIST).json()["count"] == 1


def test_available_transitions_per_user(clock, api_client, desk, manager, service):
    incident = IncidentFactory(service=service)
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    assert api_client(desk).get(url(incident)).json()["available_transitions"] == ["resolve"]
    assert set(api_client(manager).get(url(incident)).json()["available_transitions"]) == {
        "hold", "resolve", "cancel",
    }


# --- update ----------------------------------------------------------------------------


def test_patch_200(clock, api_client, desk, service):
    incident = IncidentFactory(service=service)
    response = api_client(desk).patch(url(incident), {"title": "Renamed", "customers_affected": 40}, format="json")
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["customers_affected"]) == ("Renamed", 40)


def test_patch_ignores_read_only_fields(clock, api_client, desk, service):
    incident = IncidentFactory(service=service)
    response = api_client(desk).patch(url(incident), {"state": "closed", "escalation_level": 3}, format="json")
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["escalation_level"]) == ("detected", 0)


def test_patch_severity_goes_through_the_severity_service(clock, api_client, desk, manager, service):
    incident = IncidentFactory(service=service, severity="medium")
    assert api_client(desk).patch(url(incident), {"severity": "critical"}, format="json").status_code == 403
    response = api_client(manager).patch(url(incident), {"severity": "critical"}, format="json")
    assert response.status_code == 200
    assert response.json()["response_due"] == "2026-03-02T09:15:00Z"


def test_patch_403_for_api_reader_and_put_delete_not_offered(clock, api_client, api_reader, manager, service):
    incident = IncidentFactory(service=service)
    assert api_client(api_reader).patch(url(incident), {"title": "x"}, format="json").status_code == 403
    admin = UserFactory(is_superuser=True)
    assert api_client(admin).delete(url(incident)).status_code == 405
    assert api_client(admin).put(url(incident), {"title": "x"}, format="json").status_code == 405
    assert api_client(manager).delete(url(incident)).status_code == 403


def test_patch_closed_incident_is_409(clock, api_client, manager, service):
    incident = IncidentFactory(service=service)
    services.incident_transition(instance=incident, name="resolve", by=None, resolution_summary="x")
    services.incident_transition(instance=incident, name="close", by=None, root_cause="r", lessons_learned="l")
    assert api_client(manager).patch(url(incident), {"title": "x"}, format="json").status_code == 409


# --- transitions -------------------------------------------------------------------------


def test_transition_200_and_logged(clock, api_client, desk, service):
    incident = IncidentFactory(service=service)
    response = api_client(desk).post(url(incident, "acknowledge"), {"comment": "mine"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "responding"
    assert response.json()["acknowledged_at"] == "2026-03-02T09:00:00Z"


def test_transition_403_for_the_wrong_role(clock, api_client, desk, api_reader, service):
    incident = IncidentFactory(service=service)
    assert api_client(desk).post(url(incident, "cancel"), {"reason": "duplicate"}, format="json").status_code == 403
    assert api_client(api_reader).post(url(incident, "acknowledge"), {}, format="json").status_code == 403


def test_transition_409_from_the_wrong_state(clock, api_client, manager, service):
    incident = IncidentFactory(service=service)
    response = api_client(manager).post(url(incident, "close"), {"root_cause": "a", "lessons_learned": "b"},
                                        format="json")
    assert response.status_code == 409
    assert "detail" in response.json()


def test_transition_409_on_a_stale_expected_state(clock, api_client, desk, service):
    incident = IncidentFactory(service=service)
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    response = api_client(desk).post(
        url(incident, "resolve"), {"expected_state": "detected", "resolution_summary": "x"}, format="json"
    )
    assert response.status_code == 409
    incident.refresh_from_db()
    assert incident.state == "responding"


def test_transition_400_for_missing_fields(clock, api_client, manager, service):
    incident = IncidentFactory(service=service)
    response = api_client(manager).post(url(incident, "resolve"), {}, format="json")
    assert response.status_code == 400
    assert "resolution_summary" in response.json()
    assert api_client(manager).post(url(incident, "cancel"), {}, format="json").status_code == 400
    assert api_client(manager).post(url(incident, "cancel"), {"reason": "nope"}, format="json").status_code == 400


def test_resolve_and_close_by_api(clock, api_client, manager, service):
    incident = IncidentFactory(service=service)
    client = api_client(manager)
    clock.move_to(T0 + timedelta(minutes=5))
    data = client.post(url(incident, "resolve"), {"resolution_summary": "Rolled back"}, format="json").json()
    assert (data["state"], data["follow_up_due"]) == ("resolved", "2026-03-03T09:05:00Z")
    data = client.post(url(incident, "close"), {"root_cause": "Bad deploy", "lessons_learned": "Canary"},
                       format="json").json()
    assert data["state"] == "closed"


# --- escalate and notes ----------------------------------------------------------------------


def test_escalate(clock, api_client, manager, desk, service):
    incident = IncidentFactory(service=service)
    assert api_client(desk).post(url(incident, "escalate"), {}, format="json").status_code == 403
    client = api_client(manager)
    for level in (1, 2, 3):
        response = client.post(url(incident, "escalate"), {"comment": "help"}, format="json")
        assert response.status_code == 200
        assert response.json()["escalation_level"] == level
    response = client.post(url(incident, "escalate"), {}, format="json")
    assert response.status_code == 409
    assert "highest tier" in response.json()["detail"]


def test_notes(clock, api_client, desk, api_reader, service):
    incident = IncidentFactory(service=service)
    client = api_client(desk)
    response = client.post(url(incident, "notes"), {"body": "Checked the logs"}, format="json")
    assert response.status_code == 201
    assert response.json()["author"] == desk.username
    assert client.post(url(incident, "notes"), {"body": ""}, format="json").status_code == 400
    assert api_client(api_reader).post(url(incident, "notes"), {"body": "x"}, format="json").status_code == 403
    notes = api_client(api_reader).get(url(incident, "notes"))
    assert notes.status_code == 200
    assert [n["body"] for n in notes.json()] == ["Checked the logs"]


# --- list -------------------------------------------------------------------------------------


def test_filters_and_ordering(clock, api_client, desk, service):
    low = IncidentFactory(service=service, severity="low", detected_at=T0 - timedelta(hours=1))
    critical = IncidentFactory(service=service, severity="critical", detected_at=T0 - timedelta(hours=2))
    medium = IncidentFactory(service=service, severity="medium", detected_at=T0 - timedelta(hours=3))
    Incident.objects.filter(pk=medium.pk).update(response_breached=True)
    client = api_client(desk)

    def ids(query):
        response = client.get(LIST + query)
        assert response.status_code == 200
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [low.pk, critical.pk, medium.pk]
    assert ids("?ordering=severity") == [critical.pk, medium.pk, low.pk]
    assert ids("?ordering=-severity") == [low.pk, medium.pk, critical.pk]
    assert ids("?ordering=detected_at") == [medium.pk, critical.pk, low.pk]
    assert ids("?ordering=response_due") == [critical.pk, medium.pk, low.pk]
    assert ids("?breached=true") == [medium.pk]
    assert ids("?severity=low") == [low.pk]
    assert ids("?state=detected&state=resolved&page_size=2") == [low.pk, critical.pk]
    assert client.get(LIST + "?severity=urgent").status_code == 400


def test_list_query_count_does_not_grow_with_page_size(clock, api_client, desk, service):
    client = api_client(desk)

    def count(n):
        Incident.objects.all().delete()
        IncidentFactory.create_batch(n, service=service)
        client.get(LIST)  # warm the permission cache of a fresh session
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LIST + "?page_size=200")
        assert response.status_code == 200
        assert len(response.json()["results"]) == n
        return len(queries)

    assert count(5) == count(25)
    assert count(25) <= 6


def test_schema_documents_the_incident_endpoints(clock, api_client, desk):
    response = api_client(desk).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/incidents/", "/api/v1/incidents/{id}/", "/api/v1/incidents/{id}/resolve/",
                 "/api/v1/incidents/{id}/escalate/", "/api/v1/incidents/{id}/notes/"):
        assert path in paths


def test_a_system_note_has_no_author_and_the_schema_says_author_and_change_number_may_be_null(
    clock, api_client, desk, service,
):
    from incidents.models import IncidentNote

    incident = IncidentFactory(service=service)
    IncidentNote.objects.create(incident=incident, author=None, body="Resolved by the alert intake.")
    notes = api_client(desk).get(url(incident, "notes")).json()
    notes = notes["results"] if isinstance(notes, dict) else notes
    assert [note["author"] for note in notes] == [None]
    schemas = api_client(desk).get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    assert schemas["IncidentNote"]["properties"]["author"]["nullable"] is True
    assert schemas["ActionItem"]["properties"]["change_number"]["nullable"] is True
