"""``auto_assign``: an incident logged without an assignee goes to a member of its team."""

from __future__ import annotations

import pytest

from automation import services as automation_services
from automation.models import AutomationRule
from incidents import services as incident_services
from opsdesk.models import Notification, TransitionLog
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

from .conftest import runs

pytestmark = pytest.mark.django_db

RULE = "auto_assign"


@pytest.fixture(autouse=True)
def _only_this_rule(rules_off):
    rules_off("recurring_incidents_to_change")


def log(service, **fields):
    fields.setdefault("title", "Checkout fails")
    fields.setdefault("severity", "medium")
    incident = incident_services.incident_create(by=None, service=service, **fields)
    incident.refresh_from_db()  # the rule assigned it inside the same transaction
    return incident


def strategy(name):
    automation_services.rule_update(rule=AutomationRule.objects.get(key=RULE), by=None, params={"strategy": name})


def test_round_robin_takes_the_members_in_turn(service, team):
    members = sorted(team.members.all(), key=lambda m: m.pk)
    assignees = [log(service).assignee for _ in range(4)]
    assert assignees == [*members, members[0]]
    first = runs(RULE)[0]
    assert first[0] == "acted" and "round robin" in first[1]


def test_round_robin_skips_inactive_members(service, team):
    first, second, third = sorted(team.members.all(), key=lambda m: m.pk)
    second.is_active = False
    second.save()
    assert [log(service).assignee for _ in range(3)] == [first, third, first]


def test_least_loaded_picks_the_member_with_fewest_open_incidents(service, team):
    strategy("least_loaded")
    first, second, third = sorted(team.members.all(), key=lambda m: m.pk)
    IncidentFactory(service=service, assignee=first)
    IncidentFactory(service=service, assignee=first)
    IncidentFactory(service=service, assignee=third)
    closed = IncidentFactory(service=service, assignee=second)
    type(closed).objects.filter(pk=closed.pk).update(state="closed")  # not open: does not count
    assert log(service).assignee == second
    assert log(service).assignee == second  # one open now, still fewer than first (2); ties go to the lowest id
    assert log(service).assignee == third


def test_the_assignee_is_told_and_the_assignment_logged(service, team):
    incident = log(service)
    mail = Notification.objects.filter(recipient=incident.assignee.email, subject__contains="assigned to you")
    assert mail.count() == 1 and "automatic assignment" in mail.get().body
    entry = TransitionLog.objects.get(object_id=incident.pk, transition="assign")
    assert entry.user is None and f"rule {RULE}" in entry.comment


def test_an_incident_with_an_assignee_is_left_alone(service, team):
    chosen = team.members.order_by("-pk").first()
    assert log(service, assignee=chosen).assignee == chosen
    assert runs(RULE) == []


def test_strategy_none_leaves_incidents_unassigned(service):
    strategy("none")
    assert log(service).assignee is None
    assert runs(RULE) == []


def test_a_team_without_active_members_is_skipped_with_the_reason(db):
    team = TeamFactory(name="Night shift")
    incident = log(ServiceFactory(owner_team=team))
    assert incident.assignee is None
    assert runs(RULE) == [(
        "skipped", f"The Night shift team has no active member who works incidents to assign {incident.number} to.",
    )]


def test_only_members_who_work_incidents_are_chosen(service, team):
    first, second, third = sorted(team.members.all(), key=lambda m: m.pk)
    first.groups.clear()  # e.g. a product owner in the team: sees incidents, does not work them
    assert {log(service).assignee for _ in range(4)} == {second, third}


def test_an_incident_without_team_is_skipped(db):
    service = ServiceFactory(owner_team=None)
    incident = log(service)
    assert runs(RULE) == [("skipped", f"{incident.number} has no team to assign it within.")]


def test_a_disabled_rule_stops_at_once(service):
    automation_services.rule_update(rule=AutomationRule.objects.get(key=RULE), by=None, enabled=False)
    assert log(service).assignee is None
    assert runs(RULE) == []


def test_incident_assign_refuses_someone_outside_the_team(service, team, service_desk_user):
    incident = log(service)
    outsider = UserFactory()
    with pytest.raises(incident_services.DomainValidationError, match="not an active member of the Payments team"):
        incident_services.incident_assign(incident=incident, by=service_desk_user, assignee=outsider)
    with pytest.raises(incident_services.PermissionDenied):
        incident_services.incident_assign(incident=incident, by=UserFactory(), assignee=team.lead)
