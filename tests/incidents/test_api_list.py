"""The incident list API renders a page in one pass: the same rows as each incident alone,
and a query count that depends on neither the page size nor the states on the page."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from incidents import services
from incidents.api.serializers import IncidentSerializer
from incidents.choices import StepKey, StepState
from incidents.models import BusinessCalendar, Incident, IncidentStep, SLAPolicy
from opsdesk.choices import Role
from tests.factories import IncidentFactory

from .conftest import T0

pytestmark = pytest.mark.django_db

LIST = "/api/v1/incidents/"


def mixed_page(clock, service, manager) -> dict[str, Incident]:
    """One incident in each state and SLA situation the list shows, a minute apart (newest last)."""
    # Low incidents count in a calendar that does not work on Mondays (T0 is one): their clocks stand still.
    calendar = BusinessCalendar.objects.create(name="Tuesdays", time_zone="UTC", hours={"tue": [["09:00", "17:00"]]})
    SLAPolicy.objects.filter(severity="low").update(calendar=calendar)
    made = {}

    def log(key, severity="medium", **kwargs):
        clock.move_to(T0 + timedelta(minutes=len(made)))
        made[key] = services.incident_create(by=manager, title=key, service=service, severity=severity, **kwargs)
        return made[key]

    def act(key, *names, **kwargs):
        for name in names:
            made[key] = services.incident_transition(instance=made[key], name=name, by=manager, **kwargs)

    log("detected")
    log("outside business hours", severity="low")
    log("breached", severity="critical")
    log("confidential", severity="high", confidential=True)
    log("responding")
    act("responding", "acknowledge")
    log("on hold")
    act("on hold", "acknowledge", "hold")
    log("resolved, steps pending")
    act("resolved, steps pending", "acknowledge")
    act("resolved, steps pending", "resolve", resolution_summary="Restarted")
    # A required step the close form cannot bring about: close is not offered.
    IncidentStep.objects.filter(incident=made["resolved, steps pending"], key=StepKey.STAKEHOLDER_COMMUNICATION).update(
        required=True, state=StepState.PENDING
    )
    clock.move_to(T0 + timedelta(minutes=len(made)))
    made["resolved, no checklist"] = IncidentFactory(service=service, title="resolved, no checklist")
    act("resolved, no checklist", "acknowledge")
    act("resolved, no checklist", "resolve", resolution_summary="Rolled back")
    clock.move_to(T0 + timedelta(minutes=len(made)))
    made["closed"] = IncidentFactory(service=service, title="closed")
    act("closed", "acknowledge")
    act("closed", "resolve", resolution_summary="Fixed")
    act("closed", "close", root_cause="Config", lessons_learned="Review", preventive_measures="Alert")
    log("cancelled", severity="high")
    act("cancelled", "cancel", reason="duplicate")
    # Two hours on: the critical response clock is far past due, the others warned or breached.
    clock.move_to(T0 + timedelta(hours=2))
    Incident.objects.filter(pk=made["breached"].pk).update(response_breached=True, response_breached_at=T0)
    return made


def alone(incident: Incident, user) -> dict:
    """The incident as the serializer renders it by itself: its own clock, its own transitions."""
    request = Request(APIRequestFactory().get(LIST))
    request.user = user
    data = IncidentSerializer(Incident.objects.get(pk=incident.pk), context={"request": request}).data
    return json.loads(JSONRenderer().render(data))


@pytest.mark.parametrize("role", [Role.INCIDENT_MANAGERS, Role.SERVICE_DESK, Role.API_READERS])
def test_a_page_is_each_incident_as_rendered_alone(clock, api_client, user_in_role, service, manager, role):
    made = mixed_page(clock, service, manager)
    user = user_in_role(role)
    rows = api_client(user).get(LIST, {"page_size": 50}).json()["results"]
    visible = [incident for incident in made.values() if not incident.confidential or role == Role.INCIDENT_MANAGERS]
    assert [row["title"] for row in rows] == [incident.title for incident in reversed(visible)]
    assert rows == [alone(incident, user) for incident in reversed(visible)]
    # The page does hold what it is meant to cover.
    by_title = {row["title"]: row for row in rows}
    assert by_title["outside business hours"]["sla"]["paused_reason"] == "outside_business_hours"
    assert by_title["on hold"]["sla"]["paused_reason"] == "on_hold"
    assert by_title["breached"]["sla"]["status"] == "breached"
    assert by_title["resolved, no checklist"]["sla"]["status"] == "met"
    assert by_title["outside business hours"]["sla"]["calendar"] is not None
    if role == Role.INCIDENT_MANAGERS:
        assert "close" in by_title["resolved, no checklist"]["available_transitions"]
        assert "close" not in by_title["resolved, steps pending"]["available_transitions"]
        assert by_title["on hold"]["available_transitions"]
    if role == Role.API_READERS:
        assert all(row["available_transitions"] == [] for row in rows)


def test_list_queries_do_not_grow_with_the_page_size_or_its_states(clock, api_client, user_in_role, service, manager):
    clock.move_to(T0 - timedelta(days=1))
    for n in range(40):  # every fifth one resolved, so that each page has rows whose close is gated
        incident = IncidentFactory(service=service, detected_at=T0 - timedelta(days=1, minutes=40 - n))
        if n % 5 == 0:
            services.incident_transition(instance=incident, name="acknowledge", by=manager)
            services.incident_transition(instance=incident, name="resolve", by=manager, resolution_summary="x")
    clock.move_to(T0)
    client = api_client(user_in_role(Role.INCIDENT_MANAGERS))
    client.get(LIST, {"page_size": 1})  # the user's permissions, cached for the next requests

    def queries(size: int, client=client) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(LIST, {"page_size": size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == size
        return [q["sql"] for q in captured.captured_queries]

    small, large = queries(5), queries(40)
    assert len(small) == len(large) == 4  # count, page, the resolved rows' pending steps, SLA policies
    assert len(queries(2)) == 3  # no resolved row on the page: no steps query
    desk = api_client(user_in_role(Role.SERVICE_DESK))
    desk.get(LIST, {"page_size": 1})
    assert len(queries(40, desk)) == 3  # who may not close needs no steps either


def test_a_page_in_another_time_zone_is_each_incident_as_rendered_alone(clock, api_client, service, manager, settings):
    settings.TIME_ZONE = "Europe/Berlin"  # instants rendered with the +01:00 offset, not as Z
    made = mixed_page(clock, service, manager)
    rows = api_client(manager).get(LIST, {"page_size": 50}).json()["results"]
    assert rows[0]["detected_at"].endswith("+01:00")
    assert rows == [alone(incident, manager) for incident in reversed(made.values())]
