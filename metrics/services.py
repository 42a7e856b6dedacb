"""Writes of the metrics app: daily snapshots and the weekly report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction

from opsdesk.choices import Role
from opsdesk.notifications import email, notify

from .definitions import compute, local_today
from .models import MetricSnapshot
from .report import weekly_report_text

REPORT_ROLES = (Role.INCIDENT_MANAGERS, Role.CHANGE_MANAGERS, Role.RELEASE_MANAGERS)


@transaction.atomic
def snapshot_day(*, day: date) -> MetricSnapshot:
    """Store the figures of ``[day, day + 1)`` (site time zone); running it again replaces them."""
    snapshot, _ = MetricSnapshot.objects.update_or_create(
        date=day, defaults={"data": compute(day, day + timedelta(days=1))}
    )
    return snapshot


def snapshot_days(
    *, first: date, end: date, progress: Callable[[int, int, date], None] | None = None
) -> int:
    """Snapshot every day of ``[first, end)``, each in its own transaction; returns how many."""
    total = (end - first).days
    for index in range(total):
        day = first + timedelta(days=index)
        snapshot_day(day=day)
        if progress is not None:
            progress(index + 1, total, day)
    return max(total, 0)


def report_recipients() -> list[str]:
    """Email addresses of every active member of Incident, Change and Release Managers."""
    users = (
        get_user_model().objects.filter(is_active=True, groups__name__in=REPORT_ROLES)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )
    return list(users)


@transaction.atomic
def send_weekly_report(*, today: date | None = None) -> int:
    """Email the last 7 days' metrics vs the 7 before to the managers; once per ISO week.

    The week is the one holding ``today`` (site time zone); the outbox's dedupe key
    makes a second run in the same week write nothing. Returns rows written.
    """
    today = today or local_today()
    iso_year, iso_week, _ = today.isocalendar()
    subject, body = weekly_report_text(today=today)
    rows = notify(
        recipients=[email(address) for address in report_recipients()],
        subject=subject,
        body=body,
        dedupe_key=f"metrics:weekly-report:{iso_year}-W{iso_week:02d}",
    )
    return len(rows)
