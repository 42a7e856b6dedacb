"""Fixtures for the incident tests: a team with a lead, members and a webhook; a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from opsdesk.choices import Role
from opsdesk.models import Notification
from tests.factories import ServiceFactory, TeamFactory, UserFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _incident_rules_off(request):
    """The incidents app on its own: the rules reacting to ``incident.created`` are off
    (tests/automation covers them). Tests marked ``automation`` keep them on."""
    uses_db = any(name in request.fixturenames for name in ("db", "transactional_db", "django_db_setup"))
    if request.node.get_closest_marker("automation") or not (uses_db or request.node.get_closest_marker("django_db")):
        return
    request.getfixturevalue("rules_off")("auto_assign", "recurring_incidents_to_change")


@pytest.fixture
def clock():
    """The clock stands still at T0 (a Monday 09:00 UTC); ``clock.move_to(dt)`` moves it."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def team(db):
    lead = UserFactory(username="lead", email="lead@example.test")
    members = [
        UserFactory(username="member1", email="member1@example.test"),
        UserFactory(username="member2", email="member2@example.test"),
    ]
    return TeamFactory(
        name="Platform", email="platform@example.test", lead=lead, members=members,
        webhook_url="https://chat.example.test/hooks/platform",
    )


@pytest.fixture
def service(team):
    return ServiceFactory(name="Payments", slug="payments", owner_team=team)


@pytest.fixture
def managers(db):
    """One Incident Manager and one Ops Manager with known addresses."""
    return {
        "im": UserFactory(username="im", email="im@example.test", roles=[Role.INCIDENT_MANAGERS]),
        "om": UserFactory(username="om", email="om@example.test", roles=[Role.OPS_MANAGERS]),
    }


@pytest.fixture
def desk(user_in_role):
    return user_in_role(Role.SERVICE_DESK, username="desk", email="desk@example.test")


@pytest.fixture
def manager(user_in_role):
    return user_in_role(Role.INCIDENT_MANAGERS, username="manager", email="manager@example.test")


def sent(**filters) -> set[tuple[str, str]]:
    """The (channel, recipient) pairs of the outbox rows matching ``filters``."""
    return set(Notification.objects.filter(**filters).values_list("channel", "recipient"))
