"""Fixtures of the change tests: board members per role, changes in each state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from changes import services
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
        return ChangeRequestFactory(**fields)

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
def release_calls(request, monkeypatch):
    """Records the release-planning hand-off (the releases app is tested on its own).

    Tests marked ``real_release`` run the real ``releases.services.release_for_approved_change``.
    """
    calls = []
    if "real_release" in request.keywords:
        return calls
    monkeypatch.setattr(services, "_join_release", lambda change: calls.append(change.pk))
    return calls


def pytest_configure(config):
    config.addinivalue_line("markers", "real_release: run the real release-planning integration")


@pytest.fixture
def role_groups(django_db_blocker):
    """Recreate the role groups and their permissions (a transactional test's flush removes them)."""
    from opsdesk.roles import create_role_groups, sync_role_permissions

    create_role_groups()
    sync_role_permissions()
