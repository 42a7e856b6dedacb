"""Reads of the alert intake: who sees which alerts (§6), sources with their figures, an incident's alerts."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.urls import reverse

from opsdesk import confidentiality

from .choices import AlertStatus
from .models import Alert, AlertSource


def alerts_visible_to(user) -> QuerySet[Alert]:
    """The alerts ``user`` may see: those of incidents the user sees, and those with no incident.
    Alerts of a confidential incident are hidden from everyone who may not see it."""
    alerts = Alert.objects.all()
    if user is not None and (not user.is_authenticated or not user.is_active):
        return alerts.none()
    return confidentiality.restrict(alerts, user)


def alert_list(*, user, source: AlertSource | None = None) -> QuerySet[Alert]:
    alerts = alerts_visible_to(user).select_related("source", "incident")
    if source is not None:
        alerts = alerts.filter(source=source)
    return alerts.order_by("-last_seen", "-id")


def source_list() -> QuerySet[AlertSource]:
    """Every source with its last alert time and its counts of firing and all alerts.

    Counts are of every alert (numbers only: confidential incidents are counted, never named)."""
    per_source = Alert.objects.filter(source=OuterRef("pk")).order_by().values("source")
    return AlertSource.objects.select_related("default_service").annotate(
        last_alert_at=Subquery(per_source.annotate(m=Max("last_seen")).values("m")[:1]),
        alerts_total=Subquery(per_source.annotate(n=Count("pk")).values("n")[:1]),
        alerts_firing=Subquery(
            per_source.filter(status=AlertStatus.FIRING, current=True).annotate(n=Count("pk")).values("n")[:1]
        ),
    )


def incident_alerts(incident, *, limit: int | None = None) -> list[Alert]:
    """The alerts of one incident (firing first, then newest), with their source. One query."""
    alerts = incident.alerts.select_related("source").order_by("status", "-last_seen", "-id")
    return list(alerts[:limit] if limit else alerts)


def ingest_url(source: AlertSource) -> str:
    """The absolute URL a monitoring system posts to."""
    return settings.OPSDESK_BASE_URL.rstrip("/") + reverse("alerts-ingest", kwargs={"source_slug": source.slug})
