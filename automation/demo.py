"""Demo data of the automation app: by now every rule has run while the other apps' demo history
was replayed; this adds an orphaned service, whose incidents show a skipped and a failed run."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count

from incidents import services as incident_services
from opsdesk.choices import Criticality, Role
from opsdesk.models import Service

from .choices import RuleKey
from .models import AutomationRule, AutomationRun


def seed(ctx) -> str:
    """The orphaned Legacy FTP service and three incidents on it; returns a summary of every run."""
    desk = ctx.user(Role.SERVICE_DESK)
    legacy = Service.objects.create(
        name="Legacy FTP", slug="legacy-ftp", owner_team=None, criticality=Criticality.LOW,
        description="The old file-transfer server, being decommissioned. No team owns it any more.",
    )
    # As many incidents within the rule's window as make a service recurring: the last one's run fails.
    recurring = AutomationRule.objects.get(key=RuleKey.RECURRING_INCIDENTS_TO_CHANGE).params
    titles = ["Legacy FTP rejects uploads", "Legacy FTP disk full", "Legacy FTP unreachable", "Legacy FTP slow",
              "Legacy FTP certificate warning", "Legacy FTP login fails"]
    count = recurring.get("count", 3)
    for index in range(count):
        days = (count - index) * min(recurring.get("days", 7), 6) / (count + 1)
        title = titles[index % len(titles)]
        detected_at = ctx.now - timedelta(days=days, hours=ctx.rng.randint(1, 3))
        incident = incident_services.incident_create(
            by=desk, title=title, severity="low", service=legacy, detected_at=detected_at, at=detected_at,
            started_at=detected_at - timedelta(minutes=10),
            description="A supplier reports that their nightly transfer failed.",
        )
        if index < count - 1:
            incident_services.incident_transition(
                instance=incident, name="resolve", by=desk, at=detected_at + timedelta(hours=2),
                resolution_summary="Freed space and restarted the FTP daemon.",
            )
    counts = AutomationRun.objects.values_list("rule__key", "outcome").annotate(n=Count("pk")).order_by("rule__key")
    parts = [f"{key} {outcome} {n}" for key, outcome, n in counts]
    return f"{sum(n for *_, n in counts)} runs ({', '.join(parts)})"
