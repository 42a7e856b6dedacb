"""Fixtures of the automation tests: a team with members, board members, release gates."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from automation.models import AutomationRun
from opsdesk.choices import Role
from tests.changes.conftest import board, ops_manager, product_owner, tech_lead  # noqa: F401 - fixtures
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.releases.conftest import advance, satisfy  # noqa: F401 - fixtures


@pytest.fixture
def team(db):
    lead = UserFactory(username="lead", email="lead@example.test")
    members = [UserFactory(username=f"member{n}", email=f"member{n}@example.test", roles=[Role.SERVICE_DESK])
               for n in (1, 2, 3)]
    return TeamFactory(
        name="Payments", email="payments@example.test", lead=lead, members=members,
        webhook_url="https://chat.example.test/hooks/payments",
    )


@pytest.fixture
def service(team):
    return ServiceFactory(name="Checkout", slug="checkout", owner_team=team)


@pytest.fixture
def desk(user_in_role):
    return user_in_role(Role.SERVICE_DESK, username="desk")


def runs(rule: str | None = None, **filters):
    """The recorded runs (of one rule), oldest first, as (outcome, detail)."""
    rows = AutomationRun.objects.order_by("created_at", "id")
    if rule:
        rows = rows.filter(rule__key=rule)
    return list(rows.filter(**filters).values_list("outcome", "detail"))


def run_together(*calls):
    """Run the calls in threads released at the same moment (PostgreSQL tests); returns their errors."""
    barrier = threading.Barrier(len(calls), timeout=20)
    errors = []

    def run(call):
        try:
            barrier.wait()
            call()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
