"""Fixtures of the change tests: board members per role, changes in each state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from changes import conflicts, services
from changes.models import StandardChangeTemplate
from opsdesk.choices import Role
from tests.factories import ChangeRequestFactory, ServiceFactory


@pytest.fixture
def tech_lead(user_in_role):
    return user_in_role(Role.TECH_LEADS, username="tech", is_staff=True)


@pytest.fixture
def product_owner(user_in_role):
    return user_in_role(Role.PRODUCT_OWNERS, username="po", is_staff=True)


@pytest.fixture
def ops_manager(user_in_role):
    return user_in_role(Role.OPS_MANAGERS, username="ops", is_staff=True)


@pytest.fixture
def board(tech_lead, product_owner, ops_manager):
    """One member per board role: technical, business, operations."""
    return {"technical": tech_lead, "business": product_owner, "operations": ops_manager}


@pytest.fixture
def service(db):
    return ServiceFactory()


@pytest.fixture
def template(db):
    return StandardChangeTemplate.objects.create(
        name="Certificate renewal",
        implementation_plan="Renew the certificate.",
        testing_plan="Check the expiry date.",
        rollback_plan="Restore the old certificate.",
    )


@pytest.fixture
def make_change(change_manager, service):
    """``make_change(**fields)``: a draft change requested by the change manager."""

    def make(**fields):
        fields.setdefault("requester", change_manager)
        fields.setdefault("services", [service])
        change = ChangeRequestFactory(**fields)
        conflicts.refresh_around(change)  # as change_create does
        return change

    return make


@pytest.fixture
def submitted_change(make_change, change_manager):
    """A normal change submitted to the board."""

    def make(**fields):
        change = make_change(**fields)
        return services.change_transition(instance=change, name="submit", by=change_manager)

    return make


@pytest.fixture
def approved_change(submitted_change, board):
    """A normal change approved by the whole board."""

    def make(**fields):
        change = submitted_change(**fields)
        for member in board.values():
            services.change_approve(change=change, by=member)
        change.refresh_from_db()
        return change

    return make


@pytest.fixture
def window():
    """A planned window two days ahead: (start, end)."""
    start = timezone.now().replace(microsecond=0) + timedelta(days=2)
    return start, start + timedelta(hours=2)


@pytest.fixture(autouse=True)
def approved_events(request, db):
    """The ids of the changes whose ``change.approved`` event was published, in order.

    The release-planning rule is switched off (it is tested in tests/automation);
    tests marked ``real_release`` keep it on.
    """
    from automation.choices import RuleKey
    from automation.models import AutomationRule
    from opsdesk import events

    published = []

    def record(event):
        published.append(event.change_id)

    if "real_release" not in request.keywords:
        AutomationRule.objects.filter(key=RuleKey.APPROVED_CHANGE_TO_RELEASE).update(enabled=False)
    events.subscribe(events.ChangeApproved, record)
    yield published
    events.unsubscribe(events.ChangeApproved, record)


def pytest_configure(config):
    config.addinivalue_line("markers", "real_release: keep the approved_change_to_release rule on")


@pytest.fixture
def role_groups(django_db_blocker):
    """Recreate the role groups and their permissions (a transactional test's flush removes them)."""
    from opsdesk.roles import create_role_groups, sync_role_permissions

    create_role_groups()
    sync_role_permissions()
