"""Builders for metrics data sets: rows in any state, with exact timestamps.

The state is given to the model's constructor (a protected FSMField may be set
on a new instance; it is never changed after load), so a test can lay down a
history without running the workflow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from changes.models import ChangeRequest
from incidents.models import Incident
from releases.models import Deployment, Release
from tests.factories import ServiceFactory, TeamFactory, UserFactory

# The period most tests measure: November 2026, UTC.
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    """A UTC time in 2026 (November by default)."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


class Builder:
    """Makes incidents, changes, releases and deployments with the given fields and state."""

    def __init__(self):
        self.service = ServiceFactory()
        self.team = self.service.owner_team
        self.user = UserFactory()
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def incident(self, *, detected_at, started_at=None, state="detected", **fields) -> Incident:
        fields.setdefault("service", self.service)
        fields.setdefault("team", fields["service"].owner_team)
        fields.setdefault("severity", "medium")
        incident = Incident(
            title=f"Incident {self._next()}",
            detected_at=detected_at,
            started_at=started_at or detected_at,
            state=state,
            reporter=self.user,
            **fields,
        )
        incident.save()
        return incident

    def resolved(self, *, detected_at, resolved_at, state="resolved", **fields) -> Incident:
        fields.setdefault("acknowledged_at", resolved_at)
        return self.incident(detected_at=detected_at, resolved_at=resolved_at, state=state, **fields)

    def change(self, *, state="draft", services=None, **fields) -> ChangeRequest:
        change = ChangeRequest(
            title=f"Change {self._next()}", state=state, requester=self.user,
            testing_plan="t", rollback_plan="r", **fields,
        )
        change.save()
        change.services.add(*(services or [self.service]))
        return change

    def finished_change(self, *, state, actual_start, actual_end, **fields) -> ChangeRequest:
        return self.change(state=state, actual_start=actual_start, actual_end=actual_end, **fields)

    def release(self, *, state="planning", services=None, **fields) -> Release:
        release = Release(name=f"Release {self._next()}", state=state, **fields)
        release.save()
        release.services.add(*(services or [self.service]))
        return release

    def deployment(self, *, release, status, finished_at, started_at=None) -> Deployment:
        return Deployment.objects.create(
            release=release,
            environment="production",
            status=status,
            started_at=started_at or finished_at - timedelta(minutes=10),
            finished_at=finished_at,
        )


@pytest.fixture
def build(db) -> Builder:
    return Builder()


@pytest.fixture
def other_service(db):
    return ServiceFactory(owner_team=TeamFactory())


@pytest.fixture
def reader(api_reader, api_client):
    """An API client of an API Reader (a fresh user object: no permission cache between requests)."""
    return api_client(type(api_reader).objects.get(pk=api_reader.pk))
