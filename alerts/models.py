"""Alert intake (§9): where alerts come from, how they are grouped, and each alert.

An ``Alert`` row is one *occurrence* of a fingerprint: from when it first fired
until it resolved. The same fingerprint firing again later is a new row
(``previous`` points at the last one), so an incident keeps the alerts it had.
Only the newest row of a fingerprint is ``current``; a unique index keeps it so.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from incidents.choices import Severity

from .choices import AlertStatus, SourceKind, default_severity_map


def token_digest(token: str) -> str:
    """How a source token is stored: its SHA-256 (tokens are 256-bit random, so no salt or stretching is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


class AlertSource(models.Model):
    """A monitoring system that sends alerts (an Alertmanager, a Grafana, any tool speaking the generic JSON)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True, help_text="Part of the ingest URL: /api/v1/alerts/{slug}/.")
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    token_hash = models.CharField(max_length=64, editable=False)
    token_prefix = models.CharField(
        max_length=8, editable=False, help_text="The first characters of the token, to recognise it."
    )
    token_created_at = models.DateTimeField(null=True, editable=False)
    default_service = models.ForeignKey(
        "opsdesk.Service", on_delete=models.PROTECT, related_name="alert_sources",
        help_text="Incidents go to this service when an alert's service label names none.",
    )
    default_severity = models.CharField(
        max_length=10, choices=Severity.choices, default=Severity.MEDIUM,
        help_text="Severity when an alert's severity label is missing or not in the map.",
    )
    severity_map = models.JSONField(
        default=default_severity_map, blank=True,
        help_text='Severity label value → incident severity, e.g. {"critical": "critical", "warning": "medium"}.',
    )
    service_label = models.CharField(
        max_length=100, default="service", help_text="The label whose value is a service slug."
    )
    auto_resolve = models.BooleanField(
        default=True, help_text="Resolve the incident (as the system) when all of its alerts are resolved."
    )
    reopen_minutes = models.PositiveIntegerField(
        default=30, validators=[MaxValueValidator(7 * 24 * 60)],
        help_text="An alert firing again within this many minutes of its incident's resolution reopens it.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=120, validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="Deliveries (requests) accepted per minute; more are refused with 429.",
    )
    enabled = models.BooleanField(default=True, help_text="A disabled source is refused (401).")
    # The rate limit's counter: requests counted in the minute starting at rate_window.
    rate_window = models.DateTimeField(null=True, editable=False)
    rate_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, editable=False,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def token_matches(self, token: str) -> bool:
        import hmac

        return bool(self.token_hash) and hmac.compare_digest(self.token_hash, token_digest(token))


class AlertGroup(models.Model):
    """Alerts that belong together (Alertmanager's ``groupKey``, the generic ``group``, else one fingerprint).

    ``incident`` is the group's latest incident: new alerts of the group attach to it while it is open.
    """

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="groups")
    key_hash = models.CharField(max_length=64)
    key = models.TextField()
    label = models.CharField(max_length=200, help_text="A readable name of the group.")
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "key_hash"], name="alert_group_unique_key")]

    def __str__(self) -> str:
        return f"{self.source.slug}: {self.label}"

    @property
    def number(self) -> str:
        """How the automation log names a group (its runs' subject)."""
        return f"{self.source.slug}/{self.label}"[:40]


class Alert(models.Model):
    """One occurrence of an alert: from its first firing delivery until it resolved."""

    source = models.ForeignKey(AlertSource, on_delete=models.PROTECT, related_name="alerts")
    group = models.ForeignKey(AlertGroup, on_delete=models.PROTECT, related_name="alerts")
    fingerprint = models.CharField(max_length=128)
    status = models.CharField(max_length=10, choices=AlertStatus.choices)
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    generator_url = models.TextField(blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    current = models.BooleanField(default=True, help_text="The newest occurrence of this fingerprint.")
    previous = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The occurrence of the same fingerprint before this one.",
    )

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "fingerprint"], condition=models.Q(current=True),
                name="alert_one_current_per_fingerprint",
            ),
        ]
        indexes = [
            models.Index(fields=["incident", "status"]),
            models.Index(fields=["source", "last_seen"]),
            models.Index(fields=["group", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.fingerprint})"

    @property
    def title(self) -> str:
        return alert_title(self.labels, self.annotations, self.fingerprint)


def alert_title(labels: dict, annotations: dict, fingerprint: str = "") -> str:
    """What an alert is called: ``annotations.summary``, else ``labels.alertname``, else its fingerprint."""
    return (
        str(annotations.get("summary") or "").strip()
        or str(labels.get("alertname") or "").strip()
        or f"Alert {fingerprint}"
    )[:200]
