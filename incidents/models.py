"""Incidents (§2): the incident record, its lifecycle, SLA policies and work notes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition

from opsdesk import events
from opsdesk.exceptions import DomainValidationError
from opsdesk.workflow import WorkflowModel

from . import sla
from .choices import CancelReason, IncidentState, NotificationLevel, Severity

FOLLOW_UP_AFTER = timedelta(hours=24)


class SLAPolicy(models.Model):
    """Response and resolution targets for one severity (seeded from the handbook)."""

    severity = models.CharField(max_length=10, choices=Severity.choices, unique=True)
    response_time = models.DurationField()
    resolution_time = models.DurationField()
    notification_level = models.CharField(max_length=10, choices=NotificationLevel.choices)
    warning_threshold = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.75"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("0.99"))],
        help_text="Share of a window after which a warning goes out (0.75 = 75 %).",
    )

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["response_time"]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} SLA"

    @property
    def clock(self) -> sla.Clock:
        return sla.ROUND_THE_CLOCK


class Incident(WorkflowModel):
    """An unplanned interruption of a service, with its SLA clocks."""

    NUMBER_PREFIX = "INC"
    TRANSITIONED_EVENT = events.IncidentTransitioned
    State = IncidentState

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, db_index=True)
    service = models.ForeignKey(
        "opsdesk.Service", on_delete=models.PROTECT, related_name="incidents"
    )
    team = models.ForeignKey(
        "opsdesk.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="incidents"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_incidents",
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reported_incidents",
    )
    started_at = models.DateTimeField(help_text="When impact began.")
    detected_at = models.DateTimeField(default=timezone.now, db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    customers_affected = models.PositiveIntegerField(default=0)
    confidential = models.BooleanField(
        default=False, help_text="Security incident: visible to Incident Managers, its team and reporter only."
    )
    response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    follow_up_due = models.DateTimeField(null=True, blank=True)
    response_breached = models.BooleanField(default=False)
    resolution_breached = models.BooleanField(default=False)
    response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    response_warned_at = models.DateTimeField(null=True, blank=True)
    resolution_warned_at = models.DateTimeField(null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    time_on_hold = models.DurationField(
        default=timedelta(0), help_text="Total time on hold, not counting a hold still running."
    )
    on_hold_since = models.DateTimeField(null=True, blank=True)
    resolution_summary = models.TextField(blank=True)
    root_cause = models.TextField(blank=True)
    lessons_learned = models.TextField(blank=True)
    preventive_measures = models.TextField(blank=True)
    cancel_reason = models.CharField(max_length=20, choices=CancelReason.choices, blank=True)
    caused_by_release = models.ForeignKey(
        "releases.Release",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="caused_incidents",
    )
    caused_by_change = models.ForeignKey(
        "changes.ChangeRequest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="caused_incidents",
    )
    state = FSMField(
        max_length=20,
        choices=IncidentState.choices,
        default=IncidentState.DETECTED,
        protected=True,
        db_index=True,
    )
    created_by_rule = models.CharField(
        max_length=50, null=True, blank=True, editable=False,
        help_text="The automation rule that created this record (empty when a person did).",
    )
    updated_at = models.DateTimeField(auto_now=True)
    notifications = GenericRelation("opsdesk.Notification")

    class Meta:
        ordering = ["-detected_at", "-id"]
        permissions = [
            ("acknowledge_incident", "Can acknowledge incidents"),
            ("hold_incident", "Can put incidents on hold"),
            ("resume_incident", "Can resume incidents"),
            ("resolve_incident", "Can resolve incidents"),
            ("reopen_incident", "Can reopen incidents"),
            ("close_incident", "Can close incidents"),
            ("cancel_incident", "Can cancel incidents"),
            ("change_severity_incident", "Can change the severity of incidents"),
            ("escalate_incident", "Can escalate incidents"),
            ("view_confidential_incident", "Can view every confidential incident"),
        ]
        indexes = [
            models.Index(fields=["state", "response_due"]),
            models.Index(fields=["state", "resolution_due"]),
            models.Index(fields=["service", "detected_at"]),
            # Open incidents per assignee (the least-loaded assignment, "my work").
            models.Index(fields=["assignee", "state"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(started_at__lte=models.F("detected_at")),
                name="incident_started_not_after_detected",
            ),
        ]

    # --- SLA -----------------------------------------------------------------

    def apply_policy(self, policy: SLAPolicy) -> None:
        """Set both deadlines from ``detected_at`` with ``policy``, keeping time on hold."""
        self.response_due = sla.response_due(
            detected_at=self.detected_at, response_time=policy.response_time, clock=policy.clock
        )
        self.resolution_due = sla.resolution_due(
            detected_at=self.detected_at,
            resolution_time=policy.resolution_time,
            time_on_hold=self.time_on_hold,
            clock=policy.clock,
        )

    def hold_time(self, now=None) -> timedelta:
        """Total time on hold including a hold still running."""
        running = (now or timezone.now()) - self.on_hold_since if self.on_hold_since else timedelta(0)
        return self.time_on_hold + running

    # --- transitions (state only; services log, lock and notify) -------------

    @transition(
        field=state,
        source=IncidentState.DETECTED,
        target=IncidentState.RESPONDING,
        permission="incidents.acknowledge_incident",
    )
    def acknowledge(self, *, by, at) -> None:
        """Someone has taken it on: the response clock stops."""
        self.acknowledged_at = at

    @transition(
        field=state,
        source=IncidentState.RESPONDING,
        target=IncidentState.ON_HOLD,
        permission="incidents.hold_incident",
    )
    def hold(self, *, by, at) -> None:
        """Pause the resolution clock (waiting on a customer or a supplier)."""
        self.on_hold_since = at

    @transition(
        field=state,
        source=IncidentState.ON_HOLD,
        target=IncidentState.RESPONDING,
        permission="incidents.resume_incident",
    )
    def resume(self, *, by, at) -> None:
        """Restart the clock; ``resolution_due`` moves later by exactly the paused time."""
        paused = max(at - self.on_hold_since, timedelta(0))
        self.time_on_hold += paused
        self.on_hold_since = None
        if self.resolution_due is not None:
            self.resolution_due += paused

    @transition(
        field=state,
        source=[IncidentState.DETECTED, IncidentState.RESPONDING],
        target=IncidentState.RESOLVED,
        permission="incidents.resolve_incident",
    )
    def resolve(self, *, by, at, resolution_summary: str | None = None) -> None:
        """Service restored; needs a resolution summary. Follow-up is due 24 h later."""
        if resolution_summary is not None:
            self.resolution_summary = resolution_summary.strip()
        if not self.resolution_summary:
            raise DomainValidationError({"resolution_summary": "Say how the incident was resolved."})
        if self.acknowledged_at is None:
            self.acknowledged_at = at
        self.resolved_at = at
        self.follow_up_due = at + FOLLOW_UP_AFTER

    @transition(
        field=state,
        source=IncidentState.RESOLVED,
        target=IncidentState.RESPONDING,
        permission="incidents.reopen_incident",
    )
    def reopen(self, *, by, at) -> None:
        """The fix did not hold."""
        self.resolved_at = None
        self.follow_up_due = None

    @transition(
        field=state,
        source=IncidentState.RESOLVED,
        target=IncidentState.CLOSED,
        permission="incidents.close_incident",
    )
    def close(
        self, *, by, at, root_cause: str | None = None, lessons_learned: str | None = None,
        preventive_measures: str | None = None,
    ) -> None:
        """Post-incident review done: needs root cause and lessons learned."""
        for name, value in (
            ("root_cause", root_cause),
            ("lessons_learned", lessons_learned),
            ("preventive_measures", preventive_measures),
        ):
            if value is not None:
                setattr(self, name, value.strip())
        errors = {}
        if not self.root_cause:
            errors["root_cause"] = "Give the root cause before closing."
        if not self.lessons_learned:
            errors["lessons_learned"] = "Give the lessons learned before closing."
        if errors:
            raise DomainValidationError(errors)
        self.closed_at = at

    @transition(
        field=state,
        source=[IncidentState.DETECTED, IncidentState.RESPONDING, IncidentState.ON_HOLD],
        target=IncidentState.CANCELLED,
        permission="incidents.cancel_incident",
    )
    def cancel(self, *, by, at, reason: str | None = None) -> None:
        """Not a real incident (false alarm, duplicate); excluded from metrics."""
        if reason not in CancelReason.values:
            raise DomainValidationError(
                {"reason": f"Choose a reason: {', '.join(CancelReason.values)}."}
            )
        if self.on_hold_since is not None:
            self.time_on_hold += max(at - self.on_hold_since, timedelta(0))
            self.on_hold_since = None
        self.cancel_reason = reason


class IncidentNote(models.Model):
    """A work note on an incident's timeline."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incident_notes"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note on {self.incident.number} by {self.author}"
