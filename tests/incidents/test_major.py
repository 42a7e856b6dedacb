"""Major incidents and status updates (§2.1): declaring, the banner on every page (confidential
ones counted, never named to outsiders), stakeholder emails, and the status-update reminder."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import major, process, services
from incidents.models import Incident, IncidentStep, StatusUpdate
from incidents.selectors import open_major_incidents
from opsdesk.choices import Role
from opsdesk.models import Notification
from tests.factories import ServiceFactory, TeamFactory, UserFactory

from .conftest import T0, sent

pytestmark = pytest.mark.django_db

LIST = "/api/v1/incidents/"


def log(service, by=None, severity="critical", **kwargs):
    return services.incident_create(by=by, title="Portal down", service=service, severity=severity, **kwargs)


def reload(incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


# --- declaring -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.INCIDENT_MANAGERS, 200), (Role.SERVICE_DESK, 403), (Role.OPS_MANAGERS, 403), (Role.API_READERS, 403),
     (Role.CHANGE_MANAGERS, 403)],
)
def test_declare_major_needs_the_role(clock, service, user_in_role, api_client, role, status):
    incident = log(service)
    response = api_client(user_in_role(role)).post(f"{LIST}{incident.pk}/declare-major/", {}, format="json")
    assert response.status_code == status
    assert reload(incident).major is (status == 200)


def test_declaring_sets_the_first_update_due_logs_and_announces(clock, service, manager, managers):
    incident = log(service, severity="low")
    declared = major.incident_declare_major(incident=incident, by=manager, comment="Everyone locked out")
    assert (declared.major, declared.major_declared_at) == (True, T0)
    assert declared.status_update_due == T0 + timedelta(minutes=30)
    assert sent(subject__contains="Declared a major incident") >= {("email", "im@example.test"),
                                                                   ("email", "lead@example.test")}
    from opsdesk.workflow import transition_history

    assert [e.transition for e in transition_history(incident)] == ["declare_major"]


def test_declaring_twice_or_on_a_closed_incident_is_409(clock, service, manager, api_client):
    incident = log(service)
    client = api_client(manager)
    assert client.post(f"{LIST}{incident.pk}/declare-major/", {}, format="json").status_code == 200
    assert client.post(f"{LIST}{incident.pk}/declare-major/", {}, format="json").status_code == 409
    cancelled = services.incident_transition(instance=log(service), name="cancel", by=manager, reason="duplicate")
    assert client.post(f"{LIST}{cancelled.pk}/declare-major/", {}, format="json").status_code == 409


def test_major_at_creation_needs_the_role_too(clock, service, desk, manager, api_client):
    body = {"title": "Portal down", "service": service.pk, "severity": "critical", "major": True}
    assert api_client(desk).post(LIST, body, format="json").status_code == 403
    assert not Incident.objects.exists()
    response = api_client(manager).post(LIST, body, format="json")
    assert response.status_code == 201
    assert (response.json()["major"], response.json()["status_update_due"]) == (True, "2026-03-02T09:30:00Z")
    patched = api_client(manager).patch(f"{LIST}{response.json()['id']}/", {"major": False}, format="json")
    assert patched.json()["major"] is True  # read-only: never un-declared by an edit


# --- status updates --------------------------------------------------------------------------


def test_a_stakeholder_update_is_emailed_and_shows_stakeholder_communication(clock, team, manager, api_client):
    service = ServiceFactory(owner_team=team, stakeholder_emails="cfo@example.com, care@example.com;cfo@example.com")
    incident = log(service)
    response = api_client(manager).post(f"{LIST}{incident.pk}/status-updates/",
                                        {"body": "Portal down; next update 10:00.", "audience": "stakeholders"},
                                        format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["audience"], response.json()["author"]) == ("stakeholders", manager.pk)
    assert sent(subject__contains="status update") == {("email", "cfo@example.com"), ("email", "care@example.com")}
    step = IncidentStep.objects.get(incident=incident, key="stakeholder_communication")
    assert (step.state, step.auto, step.done_by) == ("done", True, manager)


def test_an_internal_update_reaches_no_stakeholder(clock, team, manager):
    service = ServiceFactory(owner_team=team, stakeholder_emails="cfo@example.com")
    incident = log(service)
    major.status_update_add(incident=incident, by=manager, body="Investigating.")
    assert not Notification.objects.filter(recipient="cfo@example.com").exists()
    assert IncidentStep.objects.get(incident=incident, key="stakeholder_communication").state == "pending"


def test_a_confidential_incidents_updates_stay_internal(clock, team, manager, api_client):
    service = ServiceFactory(owner_team=team, stakeholder_emails="cfo@example.com")
    incident = log(service, confidential=True)
    response = api_client(manager).post(f"{LIST}{incident.pk}/status-updates/",
                                        {"body": "Breach contained.", "audience": "stakeholders"}, format="json")
    assert response.status_code == 400 and "audience" in response.json()
    assert not StatusUpdate.objects.exists()


def test_a_status_update_on_a_closed_incident_is_409(clock, service, manager, api_client):
    incident = services.incident_transition(instance=log(service), name="resolve", by=None, resolution_summary="ok")
    services.incident_transition(instance=incident, name="close", by=manager, root_cause="x", lessons_learned="y")
    response = api_client(manager).post(f"{LIST}{incident.pk}/status-updates/", {"body": "Late news"},
                                        format="json")
    assert response.status_code == 409
    assert not StatusUpdate.objects.exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.SERVICE_DESK, 201), (Role.INCIDENT_MANAGERS, 201), (Role.TECH_LEADS, 403), (Role.API_READERS, 403)],
)
def test_who_may_post_status_updates(clock, service, user_in_role, api_client, role, status):
    incident = log(service)
    client = api_client(user_in_role(role))
    assert client.post(f"{LIST}{incident.pk}/status-updates/", {"body": "x"}, format="json").status_code == status
    assert client.get(f"{LIST}{incident.pk}/status-updates/").status_code == 200


def test_status_updates_are_404_for_a_confidential_incident_one_may_not_see(clock, service, api_client):
    incident = log(service, confidential=True)
    outsider = UserFactory(roles=[Role.SERVICE_DESK])
    assert api_client(outsider).get(f"{LIST}{incident.pk}/status-updates/").status_code == 404


# --- the reminder ------------------------------------------------------------------------------


def test_an_open_major_incident_without_updates_reminds_once_per_interval(clock, service, manager, managers):
    incident = log(service, by=manager, major=True)
    services.incident_assign(incident=incident, by=manager, assignee=service.owner_team.members.first())
    assignee = reload(incident).assignee
    clock.move_to(T0 + timedelta(minutes=29))
    assert services.sla_sweep()["status_updates_reminded"] == 0
    clock.move_to(T0 + timedelta(minutes=31))
    assert services.sla_sweep()["status_updates_reminded"] == 1
    assert services.sla_sweep()["status_updates_reminded"] == 0
    assert sent(subject__contains="status update due") == {
        ("email", assignee.email), ("email", "im@example.test"), ("email", "manager@example.test")}
    clock.move_to(T0 + timedelta(minutes=61))
    assert services.sla_sweep()["status_updates_reminded"] == 1
    assert reload(incident).status_update_due == T0 + timedelta(minutes=90)


def test_an_update_restarts_the_interval_and_a_long_gap_sends_one_reminder(clock, service, manager, managers):
    incident = log(service, by=manager, major=True)
    clock.move_to(T0 + timedelta(minutes=20))
    major.status_update_add(incident=incident, by=manager, body="Working on it.")
    assert reload(incident).status_update_due == T0 + timedelta(minutes=50)
    clock.move_to(T0 + timedelta(hours=5))  # the sweep was down for hours
    assert services.sla_sweep()["status_updates_reminded"] == 1
    assert services.sla_sweep()["status_updates_reminded"] == 0
    assert reload(incident).status_update_due == T0 + timedelta(hours=5, minutes=30)


def test_without_an_assignee_the_team_lead_is_reminded_and_resolved_incidents_are_not(clock, service, manager,
                                                                                       managers):
    incident = log(service, by=manager, major=True)
    clock.move_to(T0 + timedelta(minutes=31))
    process.sweep()
    assert sent(subject__contains="status update due") == {
        ("email", "lead@example.test"), ("email", "im@example.test"), ("email", "manager@example.test")}
    services.incident_transition(instance=incident, name="resolve", by=None, resolution_summary="ok")
    clock.move_to(T0 + timedelta(hours=3))
    assert process.sweep()["status_updates_reminded"] == 0


def test_two_reminder_claims_for_one_interval_act_once(clock, service, manager):
    incident = log(service, by=manager, major=True)
    due = reload(incident).status_update_due
    now = due + timedelta(minutes=1)
    assert process._remind_status_update(incident.pk, due, now) + process._remind_status_update(
        incident.pk, due, now) == 1


def test_the_interval_is_a_setting(clock, service, manager, settings):
    settings.OPSDESK_STATUS_UPDATE_MINUTES = 10
    incident = log(service, by=manager, major=True)
    assert incident.status_update_due == T0 + timedelta(minutes=10)


# --- the banner ---------------------------------------------------------------------------------


def test_the_banner_names_open_major_incidents_on_every_page(clock, client, service, manager, desk):
    incident = log(service, by=manager, major=True)
    client.force_login(desk)
    for name in ("home", "incidents:list", "changes:list", "metrics:dashboard"):
        page = client.get(reverse(name)).content.decode()
        assert 'id="major-banner"' in page, name
        assert incident.number in page
    services.incident_transition(instance=incident, name="resolve", by=None, resolution_summary="ok")
    assert 'id="major-banner"' not in client.get(reverse("home")).content.decode()


def test_a_confidential_major_incident_is_counted_not_named_to_outsiders(clock, client, service, manager, team):
    incident = log(service, by=manager, major=True, confidential=True)
    outsider = UserFactory(roles=[Role.SERVICE_DESK])
    TeamFactory().members.add(outsider)
    client.force_login(outsider)
    page = client.get(reverse("home")).content.decode()
    assert "1 confidential major incident" in page
    assert incident.number not in page and "Portal down" not in page
    insider = team.members.first()
    insider.groups.add(*outsider.groups.all())
    client.force_login(insider)
    assert incident.number in client.get(reverse("home")).content.decode()


def test_the_banner_costs_one_query(clock, service, manager, desk):
    for _ in range(3):
        log(service, by=manager, major=True)
    log(service, by=manager, major=True, confidential=True)
    desk.has_perm("incidents.view_incident")  # permissions cached, as on any page
    with CaptureQueriesContext(connection) as ctx:
        banner = open_major_incidents(desk)
        assert (len(banner.named), banner.hidden) == (3, 1)
    assert len(ctx.captured_queries) == 1


def test_htmx_fragments_do_not_pay_for_the_banner(clock, client, service, manager, desk):
    log(service, by=manager, major=True)
    client.force_login(desk)
    page = client.get(reverse("incidents:list"), headers={"HX-Request": "true"}).content.decode()
    assert 'id="major-banner"' not in page


def test_the_page_declares_and_posts_updates(clock, client, service, manager, desk):
    incident = log(service)
    client.force_login(desk)
    detail = reverse("incidents:detail", args=[incident.pk])
    assert 'id="declare-major-form"' not in client.get(detail).content.decode()
    assert client.post(reverse("incidents:declare-major", args=[incident.pk])).status_code == 403
    client.force_login(manager)
    assert 'id="declare-major-form"' in client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert client.post(reverse("incidents:declare-major", args=[incident.pk]), {"comment": "Big"}).status_code == 302
    response = client.post(reverse("incidents:status-update-add", args=[incident.pk]),
                           {"body": "", "audience": "internal"})
    assert response.status_code == 400 and "Write the update." in response.content.decode()
    response = client.post(reverse("incidents:status-update-add", args=[incident.pk]),
                           {"body": "Investigating", "audience": "internal"})
    assert response.status_code == 302
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Investigating" in page and 'id="major-badge"' in page


def test_the_incident_page_costs_the_same_with_many_updates_items_and_steps(clock, client, service, manager, team):
    from incidents import review, steps

    incident = log(service, by=manager, major=True)
    incident = services.incident_transition(instance=incident, name="resolve", by=manager, resolution_summary="ok")
    client.force_login(manager)
    url = reverse("incidents:detail", args=[incident.pk])
    client.get(url)  # warm the caches (content types, permissions)
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    for n in range(5):
        major.status_update_add(incident=incident, by=manager, body=f"update {n}")
        review.action_item_create(incident=incident, by=manager, title=f"item {n}", owner=team.lead,
                                  due_date=(T0 + timedelta(days=3)).date())
    for key in ("initial_assessment", "impact_analysis", "containment_measures"):
        steps.step_complete(incident=incident, key=key, by=manager)
    with CaptureQueriesContext(connection) as second:
        assert client.get(url).status_code == 200
    assert len(second) == len(first)
