"""The incident admin: visibility, read-only system fields, transition buttons routed through
incident_transition (allowed and refused), transition forms, creation through the service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from incidents import services
from incidents.models import Incident, SLAPolicy
from opsdesk.choices import Role
from opsdesk.models import TransitionLog
from tests.factories import IncidentFactory

from .conftest import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_manager(user_in_role):
    return user_in_role(Role.INCIDENT_MANAGERS, username="staff-im", is_staff=True)


@pytest.fixture
def staff_desk(user_in_role):
    return user_in_role(Role.SERVICE_DESK, username="staff-desk", is_staff=True)


def change_url(incident):
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def form_data(incident, **extra):
    """What the admin change form posts back unchanged."""

    def split(value, name):
        return {f"{name}_0": value.strftime("%Y-%m-%d"), f"{name}_1": value.strftime("%H:%M:%S")}

    data = {
        "title": incident.title,
        "description": incident.description,
        "severity": incident.severity,
        "service": incident.service_id,
        "team": incident.team_id or "",
        "assignee": incident.assignee_id or "",
        "customers_affected": incident.customers_affected,
        "resolution_summary": incident.resolution_summary,
        "root_cause": incident.root_cause,
        "lessons_learned": incident.lessons_learned,
        "preventive_measures": incident.preventive_measures,
        "caused_by_release": "",
        "caused_by_change": "",
        "notes-TOTAL_FORMS": "0",
        "notes-INITIAL_FORMS": "0",
        "notes-MIN_NUM_FORMS": "0",
        "notes-MAX_NUM_FORMS": "1000",
        "status_updates-TOTAL_FORMS": "0",
        "status_updates-INITIAL_FORMS": "0",
        "status_updates-MIN_NUM_FORMS": "0",
        "status_updates-MAX_NUM_FORMS": "1000",
        "action_items-TOTAL_FORMS": "0",
        "action_items-INITIAL_FORMS": "0",
        "action_items-MIN_NUM_FORMS": "0",
        "action_items-MAX_NUM_FORMS": "1000",
        "steps-TOTAL_FORMS": "0",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        **split(incident.started_at, "started_at"),
        **split(incident.detected_at, "detected_at"),
    }
    if incident.confidential:
        data["confidential"] = "on"
    data.update(extra)
    return data


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_changelist_lists_visible_incidents_only(clock, client, staff_desk, staff_manager, service):
    IncidentFactory(service=service, title="Public one")
    IncidentFactory(service=service, title="Secret one", confidential=True)
    client.force_login(staff_desk)
    body = client.get(reverse("admin:incidents_incident_changelist")).content.decode()
    assert "Public one" in body and "Secret one" not in body
    client.force_login(staff_manager)
    body = client.get(reverse("admin:incidents_incident_changelist")).content.decode()
    assert "Public one" in body and "Secret one" in body


def test_confidential_change_page_is_not_reachable_for_outsiders(clock, client, staff_desk, service):
    secret = IncidentFactory(service=service, confidential=True)
    client.force_login(staff_desk)
    response = client.get(change_url(secret))
    assert response.status_code == 302
    response = client.post(change_url(secret), form_data(secret, _fsm_transition_to="acknowledge"))
    secret.refresh_from_db()
    assert secret.state == "detected"


def test_change_page_shows_allowed_buttons_and_read_only_system_fields(clock, client, staff_desk, service):
    incident = IncidentFactory(service=service)
    client.force_login(staff_desk)
    response = client.get(change_url(incident))
    assert response.status_code == 200
    body = " ".join(response.content.decode().split())
    assert 'name="_fsm_transition_to" value="acknowledge"' in body
    assert 'name="_fsm_transition_to" value="resolve"' in body
    assert 'value="cancel"' not in body
    form = response.context["adminform"].form
    for name in ("state", "number", "response_due", "resolution_due", "response_breached", "escalation_level"):
        assert name not in form.fields
    assert "severity" not in form.fields  # Service Desk may not change the severity


def test_button_runs_the_transition_through_the_service(clock, client, staff_desk, service):
    incident = IncidentFactory(service=service)
    client.force_login(staff_desk)
    response = client.post(change_url(incident), form_data(incident, _fsm_transition_to="acknowledge"))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.state, incident.acknowledged_at) == ("responding", T0)
    log = TransitionLog.objects.get(object_id=incident.pk)
    assert (log.transition, log.user) == ("acknowledge", staff_desk)
    assert "acknowledge: done." in messages_of(response)


def test_button_refused_without_permission(clock, client, staff_desk, service):
    incident = IncidentFactory(service=service)
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    client.force_login(staff_desk)
    response = client.post(change_url(incident), form_data(incident, _fsm_transition_to="hold"))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.state == "responding"
    assert any("may not hold" in m for m in messages_of(response))
    assert TransitionLog.objects.filter(object_id=incident.pk, transition="hold").count() == 0


def test_button_refused_from_the_wrong_state(clock, client, staff_manager, service):
    incident = IncidentFactory(service=service)
    client.force_login(staff_manager)
    response = client.post(change_url(incident), form_data(incident, _fsm_transition_to="reopen"))
    incident.refresh_from_db()
    assert incident.state == "detected"
    assert any("Cannot reopen" in m for m in messages_of(response))


def test_resolve_asks_for_the_summary_on_a_form(clock, client, staff_desk, service):
    incident = IncidentFactory(service=service)
    client.force_login(staff_desk)
    response = client.post(change_url(incident), form_data(incident, _fsm_transition_to="resolve"))
    transition_url = reverse("admin:incidents_incident_transition", args=[incident.pk, "resolve"])
    assert response.status_code == 302 and response.url == transition_url
    assert client.get(transition_url).status_code == 200
    response = client.post(transition_url, {"resolution_summary": ""})
    assert response.status_code == 200  # the form again, with its error
    incident.refresh_from_db()
    assert incident.state == "detected"
    response = client.post(transition_url, {"resolution_summary": "Restarted", "comment": "done"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.state, incident.resolution_summary) == ("resolved", "Restarted")
    assert TransitionLog.objects.get(object_id=incident.pk).comment == "done"


def test_cancel_form_refused_for_service_desk(clock, client, staff_desk, service):
    incident = IncidentFactory(service=service)
    client.force_login(staff_desk)
    url = reverse("admin:incidents_incident_transition", args=[incident.pk, "cancel"])
    response = client.post(url, {"reason": "duplicate"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.state == "detected"


def test_close_form_by_incident_manager(clock, client, staff_manager, service):
    incident = IncidentFactory(service=service)
    services.incident_transition(instance=incident, name="resolve", by=None, resolution_summary="x")
    client.force_login(staff_manager)
    url = reverse("admin:incidents_incident_transition", args=[incident.pk, "close"])
    response = client.post(url, {"root_cause": "Leak", "lessons_learned": "Monitor"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.state == "closed"


def test_saving_the_form_goes_through_incident_update(clock, client, staff_manager, service):
    incident = IncidentFactory(service=service, severity="medium")
    client.force_login(staff_manager)
    response = client.post(change_url(incident), form_data(incident, title="Renamed", severity="critical"))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.title, incident.severity) == ("Renamed", "critical")
    assert incident.response_due == incident.detected_at + timedelta(minutes=15)
    assert TransitionLog.objects.filter(object_id=incident.pk, transition="change_severity").count() == 1


def test_bad_input_is_a_form_error_not_a_500(clock, client, staff_manager, service):
    incident = IncidentFactory(service=service)
    client.force_login(staff_manager)
    later = incident.detected_at + timedelta(hours=1)
    data = form_data(incident, started_at_0=later.strftime("%Y-%m-%d"), started_at_1=later.strftime("%H:%M:%S"))
    response = client.post(change_url(incident), data)
    assert response.status_code == 200
    assert "started_at" in response.context["adminform"].form.errors


def test_add_goes_through_incident_create(clock, client, staff_desk, service, team):
    client.force_login(staff_desk)
    response = client.post(
        reverse("admin:incidents_incident_add"),
        {"title": "From the admin", "severity": "high", "service": service.pk, "customers_affected": "3",
         "description": "", "team": "", "assignee": "", "caused_by_release": "", "caused_by_change": "",
         "notes-TOTAL_FORMS": "0", "notes-INITIAL_FORMS": "0", "notes-MIN_NUM_FORMS": "0",
         "notes-MAX_NUM_FORMS": "1000"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    incident = Incident.objects.get()
    assert (incident.reporter, incident.team, incident.detected_at) == (staff_desk, team, T0)
    assert incident.response_due == T0 + timedelta(minutes=30)


def test_sla_policies_are_editable_but_not_deletable(clock, client, admin_user):
    client.force_login(admin_user)
    policy = SLAPolicy.objects.get(severity="low")
    url = reverse("admin:incidents_slapolicy_change", args=[policy.pk])
    response = client.post(url, {"severity": "low", "response_time": "05:00:00", "resolution_time": "1 00:00:00",
                                 "notification_level": "routine", "warning_threshold": "0.80",
                                 "detection_time": "00:15:00", "follow_up_time": "1 00:00:00"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.response_time == timedelta(hours=5)
    assert client.get(reverse("admin:incidents_slapolicy_delete", args=[policy.pk])).status_code == 403


def test_incident_cannot_be_deleted_in_the_admin(clock, client, admin_user, service):
    incident = IncidentFactory(service=service)
    client.force_login(admin_user)
    assert client.get(reverse("admin:incidents_incident_delete", args=[incident.pk])).status_code == 403
