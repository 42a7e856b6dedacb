"""Shared fixtures: users per role, real-service gates, API clients."""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest
from django.db import connection
from rest_framework.test import APIClient

from opsdesk.choices import Role

from .factories import UserFactory

REQUIRE_SERVICES = os.environ.get("OPSDESK_REQUIRE_SERVICES") == "1"


def _missing(reason: str):
    """A missing service: skip, or fail when OPSDESK_REQUIRE_SERVICES=1 (CI)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (OPSDESK_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def redis_url() -> str:
    """The Redis the service-backed tests use."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    default = broker if broker.startswith("redis://") else "redis://127.0.0.1:6379/15"
    return os.environ.get("OPSDESK_TEST_REDIS_URL", default)


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _service_gates(request):
    if request.node.get_closest_marker("redis") and not _reachable(redis_url()):
        _missing(f"Redis not reachable at {redis_url()}")
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing("this test needs PostgreSQL (set DATABASE_URL)")
    if request.node.get_closest_marker("browser") and not shutil.which("chromium"):
        _missing("Chromium not installed (apt-get install -y chromium)")


@pytest.fixture
def user_in_role(db):
    """``user_in_role(Role.SERVICE_DESK, username=...)`` makes an active user in that group."""

    def make(*roles: str, **kwargs):
        return UserFactory(roles=roles, **kwargs)

    return make


@pytest.fixture
def service_desk_user(user_in_role):
    return user_in_role(Role.SERVICE_DESK)


@pytest.fixture
def incident_manager(user_in_role):
    return user_in_role(Role.INCIDENT_MANAGERS)


@pytest.fixture
def change_manager(user_in_role):
    return user_in_role(Role.CHANGE_MANAGERS, is_staff=True)


@pytest.fixture
def release_manager(user_in_role):
    return user_in_role(Role.RELEASE_MANAGERS)


@pytest.fixture
def api_reader(user_in_role):
    return user_in_role(Role.API_READERS)


@pytest.fixture
def api_client():
    """``api_client(user)`` returns a DRF client authenticated as ``user`` (or anonymous)."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def rules_off(db):
    """``rules_off("auto_assign", …)`` switches automation rules off (no key: all of them)."""
    from automation.models import AutomationRule

    def switch_off(*keys: str) -> None:
        rules = AutomationRule.objects.all()
        if keys:
            rules = rules.filter(key__in=keys)
        rules.update(enabled=False)

    return switch_off
