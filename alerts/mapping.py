"""How alerts map onto an incident (§9): title, description, severity and service — one place each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from incidents.choices import Severity
from opsdesk.models import Service

from .models import Alert, AlertSource, alert_title

SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
LISTED_ALERTS = 20
# Labels that say little about which thing is alerting (shown in the title or implied by the source).
QUIET_LABELS = {"alertname", "severity", "__name__"}


def severity_of(source: AlertSource, alert: Alert) -> str:
    """The alert's severity through the source's ``severity_map`` (case-insensitive), else the default."""
    value = alert.labels.get("severity") or alert.annotations.get("severity") or ""
    mapped = (source.severity_map or {}).get(str(value).strip().lower())
    return mapped if mapped in Severity.values else source.default_severity


def highest_severity(source: AlertSource, alerts: Sequence[Alert]) -> str:
    return min((severity_of(source, alert) for alert in alerts), key=lambda s: SEVERITY_RANK[s])


def service_slug_of(source: AlertSource, alert: Alert) -> str:
    return str(alert.labels.get(source.service_label) or "").strip()


def service_for(source: AlertSource, alerts: Sequence[Alert]) -> tuple[Service, str]:
    """The service the first alert (by ``starts_at``) with a known service label names, else the default;
    and a sentence when a label named no service (empty otherwise). One query."""
    slugs = [slug for slug in (service_slug_of(source, alert) for alert in alerts) if slug]
    if not slugs:
        return source.default_service, ""
    known = {service.slug: service for service in Service.objects.filter(slug__in=slugs)}
    for slug in slugs:
        if slug in known:
            return known[slug], ""
    unknown = ", ".join(sorted(set(slugs)))
    return source.default_service, (
        f"The {source.service_label} label ({unknown}) names no service in OpsDesk: "
        f"filed on the source's default service {source.default_service.name}."
    )


def started_at(alerts: Sequence[Alert], detected_at: datetime) -> datetime:
    """When impact began: the earliest ``startsAt`` (never after detection: clocks drift)."""
    return min(min(alert.starts_at for alert in alerts), detected_at)


def alert_line(alert: Alert) -> str:
    details = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in QUIET_LABELS)
    since = timezone.localtime(alert.starts_at).strftime("%Y-%m-%d %H:%M")
    text = f"- {alert.title} (since {since}{'; ' + details if details else ''})"
    return f"{text}\n  {alert.generator_url}" if alert.generator_url else text


def alerts_text(alerts: Sequence[Alert]) -> str:
    lines = [alert_line(alert) for alert in alerts[:LISTED_ALERTS]]
    if len(alerts) > LISTED_ALERTS:
        lines.append(f"- … and {len(alerts) - LISTED_ALERTS} more (see the incident's alerts)")
    return "\n".join(lines)


def incident_title(alerts: Sequence[Alert]) -> str:
    """``annotations.summary``, else ``labels.alertname``, of the first alert; "(+ n more)" for a group."""
    title = alerts[0].title
    others = len(alerts) - 1
    suffix = f" (+{others} more alert{'s' if others != 1 else ''})" if others else ""
    return (title[: 200 - len(suffix)] + suffix).strip()


def incident_description(source: AlertSource, alerts: Sequence[Alert], service_note: str = "") -> str:
    """``annotations.description`` of the first alert, then every alert with its link to the generator."""
    first = alerts[0]
    parts = []
    described = str(first.annotations.get("description") or "").strip()
    if described:
        parts.append(described)
    parts.append(f"Alerts from {source.name}:\n{alerts_text(alerts)}")
    runbook = str(first.annotations.get("runbook_url") or "").strip()
    if runbook:
        parts.append(f"Runbook: {runbook}")
    if service_note:
        parts.append(service_note)
    return "\n\n".join(parts)


def by_start(alerts: Sequence[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda alert: (alert.starts_at, alert.pk or 0))


__all__ = [
    "alert_title", "by_start", "highest_severity", "incident_description", "incident_title", "service_for",
    "severity_of", "started_at", "alerts_text",
]
