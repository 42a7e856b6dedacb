"""Fixtures of the alert intake tests: a service with a team, sources of each kind, real payloads."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from rest_framework.test import APIClient

from alerts import services
from opsdesk.choices import Role
from tests.factories import ServiceFactory, TeamFactory, UserFactory

FIXTURES = Path(__file__).parent / "fixtures"
# The fixtures' alerts start at 07:52–08:45 UTC on 2 March 2026; they are received at 09:00.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def payload(name: str) -> dict:
    """A copy of a fixture payload (``alertmanager_v4_firing``, ``grafana_firing``, ``generic``, …)."""
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))


@pytest.fixture(autouse=True)
def _other_rules_off(request):
    """The alert intake on its own: the rules reacting to ``incident.created`` are off."""
    if request.node.get_closest_marker("automation"):
        return
    if any(name in request.fixturenames for name in ("db", "transactional_db")) or request.node.get_closest_marker(
        "django_db"
    ):
        request.getfixturevalue("rules_off")("auto_assign", "recurring_incidents_to_change")


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def team(db):
    lead = UserFactory(username="lead", email="lead@example.test")
    return TeamFactory(name="Web", email="web@example.test", lead=lead,
                       members=[UserFactory(username="member1", roles=[Role.SERVICE_DESK])])


@pytest.fixture
def service(team):
    return ServiceFactory(name="Checkout", slug="checkout", owner_team=team)


@pytest.fixture
def fallback_service(team):
    return ServiceFactory(name="Monitoring", slug="monitoring", owner_team=team)


@pytest.fixture
def make_source(fallback_service):
    """``make_source(kind="alertmanager", **fields)`` → (source, token)."""

    def make(kind: str = "alertmanager", **fields):
        fields.setdefault("name", f"{kind} source")
        fields.setdefault("slug", kind)
        return services.alert_source_create(by=None, kind=kind, default_service=fallback_service, **fields)

    return make


@pytest.fixture
def send():
    """``send(source_slug, token, body)`` posts to the ingest endpoint; ``body`` a dict or raw bytes."""

    def post(slug: str, token: str | None, body, **headers):
        client = APIClient()
        if token is not None:
            headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return client.post(f"/api/v1/alerts/{slug}/", data=data, content_type="application/json", **headers)

    return post
