"""releases.demo.seed builds releases in every state through the real services."""

from __future__ import annotations

import pytest

from incidents.models import Incident
from opsdesk import demo
from opsdesk.models import TransitionLog
from opsdesk.notifications import muted
from releases import demo as releases_demo
from releases.choices import DeliverableKind, ReleaseState
from releases.models import Deployment, Release

pytestmark = pytest.mark.django_db


def test_seed_creates_releases_in_every_state_with_history():
    with muted():
        ctx, _logins = demo.seed_kernel()
        summary = releases_demo.seed(ctx)
    assert Release.objects.count() == releases_demo.TARGET_TOTAL
    assert set(Release.objects.values_list("state", flat=True)) == set(ReleaseState.values)
    assert "releases" in summary
    failed = Deployment.objects.filter(status="failed")
    assert failed.exists()
    assert Incident.objects.filter(caused_by_release__isnull=False).count() == failed.count()
    assert all(d.incident_id for d in failed)
    for release in Release.objects.filter(state=ReleaseState.COMPLETED):
        assert release.completed_at <= ctx.now
        assert release.deliverables.count() == len(DeliverableKind)
        assert release.checks.filter(passed=True).count() == 4
    assert not TransitionLog.objects.filter(timestamp__gt=ctx.now).exists()
