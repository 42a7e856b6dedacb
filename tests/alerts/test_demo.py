"""The alert intake's demo data: an Alertmanager source with four days of alerts grouped into incidents."""

from __future__ import annotations

import pytest

from alerts import demo
from alerts.models import Alert, AlertSource
from incidents.models import Incident
from opsdesk.demo import seed_kernel
from opsdesk.models import Notification, TransitionLog
from opsdesk.notifications import muted

pytestmark = pytest.mark.django_db


def test_the_demo_source_has_days_of_alerts_grouped_some_auto_resolved(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "TOKEN_FILE", tmp_path / "token.txt")
    ctx, _ = seed_kernel()
    with muted():
        summary = demo.seed(ctx)
    source = AlertSource.objects.get()
    assert (source.slug, source.kind) == ("alertmanager", "alertmanager")
    assert summary.startswith("source 'alertmanager': 11 alerts, 6 incidents (3 auto-resolved)")
    token = demo.read_token("alertmanager", tmp_path / "token.txt")
    assert source.token_matches(token)
    incidents = Incident.objects.filter(created_by_rule="alert_to_incident")
    assert incidents.count() == 6
    assert set(incidents.values_list("state", flat=True)) == {"resolved", "detected", "responding"}
    resolved = TransitionLog.objects.filter(transition="resolve", user=None, comment="All alerts resolved.")
    assert resolved.count() == 4  # the flapping probe's incident was resolved twice
    assert TransitionLog.objects.filter(transition="reopen", user=None).count() == 1
    first_seen = Alert.objects.order_by("first_seen").first().first_seen
    assert (ctx.now - first_seen).days >= 3
    assert all(i.started_at < i.detected_at for i in incidents)  # the monitoring's real delay
    crash = Incident.objects.get(title__startswith="Pod sso-api")
    assert crash.alerts.count() == 3 and crash.service == source.default_service
    assert Notification.objects.count() == 0
