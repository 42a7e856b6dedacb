"""Celery tasks of the metrics app: thin, named, safe to run twice."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from . import rollups, services
from .definitions import local_today


@shared_task(name="metrics.snapshot_yesterday")
def snapshot_yesterday() -> str:
    """Store yesterday's figures (site time zone); a re-run replaces the row (beat: 00:15)."""
    day = local_today() - timedelta(days=1)
    rollups.refresh()  # yesterday joins the rollups, stale days are rebuilt
    services.snapshot_day(day=day)
    return day.isoformat()


@shared_task(name="metrics.refresh_rollups")
def refresh_rollups() -> int:
    """Rebuild the rollup days marked stale by writes since the last run (beat: every 5 minutes)."""
    return len(rollups.refresh())


@shared_task(name="metrics.weekly_report")
def weekly_report() -> int:
    """Email the weekly metrics summary to the managers, once per ISO week (beat: Monday 07:30)."""
    return services.send_weekly_report()
