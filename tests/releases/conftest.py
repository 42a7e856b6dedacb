"""Release fixtures: a release manager's release, and helpers to satisfy each gate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from releases import services
from releases.choices import GATE_DELIVERABLES, CheckKind
from tests.factories import ReleaseFactory, ServiceFactory


@pytest.fixture
def release(release_manager):
    """A release in planning managed by ``release_manager``, on one service."""
    return ReleaseFactory(release_manager=release_manager, services=[ServiceFactory()])


@pytest.fixture
def satisfy():
    """``satisfy(release, gate, by)`` adds what ``gate`` needs (deliverables, deployment, checks)."""

    def run(release, gate, by):
        for kind in GATE_DELIVERABLES[gate]:
            services.deliverable_add(release=release, by=by, kind=kind, content=f"{kind} for {release.number}")
        if gate == "verify":
            now = timezone.now()
            services.deployment_create(
                release=release, by=by, environment="production", status="succeeded",
                started_at=now - timedelta(minutes=10), finished_at=now,
            )
        if gate == "complete":
            for kind in CheckKind:
                services.check_record(release=release, by=by, kind=kind, passed=True)

    return run


@pytest.fixture
def advance(satisfy):
    """``advance(release, by, to="implementation")`` walks the gates up to that state."""
    order = [("prepare", "preparation"), ("implement", "implementation"), ("verify", "verification"),
             ("complete", "completed")]

    def run(release, by, to):
        for gate, state in order:
            satisfy(release, gate, by)
            release = services.release_transition(instance=release, name=gate, by=by)
            if state == to:
                return release
        return release

    return run
