"""The incident process (§2.1): the step template, each incident's steps, the post-incident
review's action items and the status updates of (major) incidents.

Writes go through ``incidents.steps``, ``incidents.review`` and ``incidents.major``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from .choices import ActionItemState, Phase, StatusAudience, StepState

PHASE_ORDER = {phase: index for index, phase in enumerate(Phase.values)}


class ProcessTemplate(models.Model):
    """One step of the handbook's process template: what every *new* incident gets.

    Seeded by a migration with the sixteen steps of §2.1. Editing a row (its title,
    whether it is required, whether it is used at all) changes the checklist of
    incidents logged afterwards; the steps of existing incidents are copies and stay.
    """

    phase = models.CharField(max_length=20, choices=Phase.choices)
    key = models.SlugField(
        max_length=50, unique=True,
        validators=[RegexValidator(r"^[a-z][a-z0-9_]*$", "Use lower-case letters, digits and underscores.")],
        help_text="Stable name of the step in the API (e.g. impact_analysis).",
    )
    title = models.CharField(max_length=200)
    required = models.BooleanField(default=False, help_text="An incident cannot be closed while it is pending.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order within the phase.")
    active = models.BooleanField(default=True, help_text="Inactive steps are not given to new incidents.")

    class Meta:
        verbose_name = "process template step"
        verbose_name_plural = "process template"
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.get_phase_display()}: {self.title}"


class IncidentStep(models.Model):
    """One step of one incident's checklist (a copy of the template at the incident's creation)."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="steps")
    phase = models.CharField(max_length=20, choices=Phase.choices)
    key = models.CharField(max_length=50)
    title = models.CharField(max_length=200)
    required = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=10, choices=StepState.choices, default=StepState.PENDING)
    done_at = models.DateTimeField(null=True, blank=True, help_text="When it was done or skipped.")
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Who did or skipped it (empty: the system).",
    )
    auto = models.BooleanField(default=False, help_text="Marked done by OpsDesk, which saw it happen.")
    note = models.TextField(blank=True, help_text="A note on completion, or why it was skipped.")

    class Meta:
        ordering = ["incident", "position", "id"]
        permissions = [("skip_incidentstep", "Can skip optional incident steps")]
        constraints = [models.UniqueConstraint(fields=["incident", "key"], name="incident_step_once")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class ActionItem(models.Model):
    """Follow-up work the post-incident review decided on: an owner, a due date, an outcome."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items")
    due_date = models.DateField()
    state = models.CharField(max_length=10, choices=ActionItemState.choices, default=ActionItemState.OPEN)
    change = models.ForeignKey(
        "changes.ChangeRequest", on_delete=models.SET_NULL, null=True, blank=True, related_name="action_items",
        help_text="The change raised to carry this item out.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When it was done or cancelled.")
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True, help_text="What was done, or why it was cancelled.")
    reminded_at = models.DateTimeField(null=True, blank=True, help_text="When its owner was reminded it is overdue.")

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            # The sweep's reminder query: open, not yet reminded, due before today.
            models.Index(
                fields=["due_date"], name="action_item_reminder_due",
                condition=models.Q(state="open", reminded_at__isnull=True),
            ),
            # incidents.action_items_overdue: open items by due date.
            models.Index(fields=["state", "due_date"], name="action_item_state_due"),
        ]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, today) -> bool:
        return self.state == ActionItemState.OPEN and self.due_date < today


class StatusUpdate(models.Model):
    """A status update on an incident: for the desk (internal) or emailed to the service's stakeholders."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="status_updates")
    body = models.TextField()
    audience = models.CharField(max_length=20, choices=StatusAudience.choices, default=StatusAudience.INTERNAL)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incident_status_updates"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["incident", "created_at"], name="status_update_incident")]

    def __str__(self) -> str:
        return f"{self.get_audience_display()} update on {self.incident}"
