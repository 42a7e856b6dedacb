"""Demo data for metrics: the rollups of the demo history, and a snapshot for each of its last 90 days."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from . import rollups
from .definitions import local_today
from .services import snapshot_days

DEMO_DAYS = 90


def seed(ctx) -> str:
    """Answer the demo surveys (every app has made its incidents by now), then backfill MetricSnapshot
    for the 90 days before ``ctx.now`` (site time zone)."""
    from incidents.demo import seed_surveys

    today = local_today(ctx.now)
    with transaction.atomic():  # one commit for the whole backfill
        surveys = seed_surveys(ctx)
        rollups.build(today=today)  # the history was written in bulk too: build, later writes mark days stale
        count = snapshot_days(first=today - timedelta(days=DEMO_DAYS), end=today)
    return f"metrics: {surveys}; {count} daily snapshots"
