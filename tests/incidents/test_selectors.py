"""Selectors: confidential visibility (§6), the list selector, the timeline; the FilterSet."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser

from incidents import services
from incidents.filtersets import IncidentFilterSet
from incidents.models import Incident
from incidents.selectors import incident_list, incident_timeline, incident_visible_to, incidents_visible_to
from opsdesk.choices import Role
from tests.factories import IncidentFactory, ServiceFactory, UserFactory

from .conftest import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(service, user_in_role):
    reporter = user_in_role(Role.SERVICE_DESK, username="reporter")
    return services.incident_create(
        by=reporter, title="Leaked credentials", service=service, severity="high", confidential=True
    )


@pytest.fixture
def public(service):
    return IncidentFactory(service=service, title="Slow checkout")


def visible_titles(user) -> set[str]:
    return set(incidents_visible_to(user).values_list("title", flat=True))


@pytest.mark.parametrize("who", ["reporter", "member1", "lead", "manager", "superuser", "system"])
def test_confidential_incident_is_visible_to(clock, secret, public, manager, who):
    if who == "system":
        user = None
    elif who == "manager":
        user = manager
    elif who == "superuser":
        user = UserFactory(is_superuser=True)
    else:
        user = UserFactory(username=who)
    assert visible_titles(user) == {"Leaked credentials", "Slow checkout"}
    assert incident_visible_to(user, secret) is True


@pytest.mark.parametrize("role", [Role.SERVICE_DESK, Role.OPS_MANAGERS, Role.API_READERS])
def test_confidential_incident_is_hidden_from_others(clock, secret, public, user_in_role, role):
    user = user_in_role(role)
    assert visible_titles(user) == {"Slow checkout"}
    assert incident_visible_to(user, secret) is False
    assert incident_visible_to(user, public) is True


def test_anonymous_sees_nothing(clock, secret, public):
    assert visible_titles(AnonymousUser()) == set()


def test_visibility_does_not_duplicate_rows(clock, secret, team):
    member = team.members.first()
    team.members.add(team.lead)
    assert incidents_visible_to(member).count() == 1
    assert incidents_visible_to(team.lead).count() == 1


def test_list_selector_query_count(clock, desk, service, django_assert_num_queries):
    IncidentFactory.create_batch(5, service=service)
    desk.has_perm("incidents.view_incident")  # permissions are loaded once per request
    with django_assert_num_queries(1):
        rows = list(incident_list(user=desk))
        [(r.service.name, r.team.name, r.reporter.username) for r in rows]


def test_timeline_has_transitions_events_notes_and_notifications_in_order(clock, manager, service):
    incident = services.incident_create(by=manager, title="Down", service=service, severity="medium")
    clock.move_to(T0 + timedelta(minutes=1))
    services.incident_transition(instance=incident, name="acknowledge", by=manager)
    clock.move_to(T0 + timedelta(minutes=2))
    services.incident_add_note(incident=incident, by=manager, body="Rolling back")
    clock.move_to(T0 + timedelta(minutes=3))
    services.incident_change_severity(incident=incident, by=manager, severity="high")
    kinds = [(e.kind, e.title) for e in incident_timeline(incident)]
    assert kinds[0][0] == "notification"
    assert kinds[1:4] == [("transition", "acknowledge"), ("note", "note"), ("event", "change severity")]
    assert kinds[4][0] == "notification"
    first = incident_timeline(incident)[0]
    assert "email: platform@example.test" in first.recipients


# --- FilterSet -------------------------------------------------------------------------


def filtered(params) -> set[str]:
    return set(IncidentFilterSet(params, queryset=Incident.objects.all()).qs.values_list("title", flat=True))


def test_filters(clock, service, team):
    other = ServiceFactory()
    assignee = team.members.first()
    IncidentFactory(title="a", service=service, severity="critical", assignee=assignee,
                    detected_at=T0 - timedelta(days=2))
    b = IncidentFactory(title="b", service=other, severity="low", description="disk full")
    services.incident_transition(instance=b, name="acknowledge", by=None)
    IncidentFactory(title="c", service=service, severity="low")
    Incident.objects.filter(title="c").update(resolution_breached=True)
    assert filtered({"state": ["responding"]}) == {"b"}
    assert filtered({"state": ["responding", "detected"]}) == {"a", "b", "c"}
    assert filtered({"severity": "low"}) == {"b", "c"}
    assert filtered({"service": other.pk}) == {"b"}
    assert filtered({"team": team.pk}) == {"a", "c"}
    assert filtered({"assignee": assignee.pk}) == {"a"}
    assert filtered({"breached": "true"}) == {"c"}
    assert filtered({"breached": "false"}) == {"a", "b"}
    assert filtered({"detected_after": (T0 - timedelta(days=1)).isoformat()}) == {"b", "c"}
    assert filtered({"detected_before": (T0 - timedelta(days=1)).isoformat()}) == {"a"}
    assert filtered({"q": "DISK"}) == {"b"}
    number = Incident.objects.get(title="a").number
    assert filtered({"q": number}) == {"a"}


def test_filtering_on_several_states_needs_no_distinct(clock, secret, public):
    """The state is a column of the row: no SELECT DISTINCT (a sort of every column at scale)."""
    filtered = IncidentFilterSet({"state": ["detected", "responding"]}, queryset=Incident.objects.all()).qs
    assert not filtered.query.distinct
    assert sorted(filtered.values_list("pk", flat=True)) == sorted(
        Incident.objects.filter(state__in=["detected", "responding"]).values_list("pk", flat=True)
    )
