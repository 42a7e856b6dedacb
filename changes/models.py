"""Changes (§3): change requests, board approvals, standard templates, freezes, maintenance
windows, CAB meetings and calendar feed tokens."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django_fsm import transition

from opsdesk import events
from opsdesk.exceptions import DomainValidationError
from opsdesk.models import AppendOnlyModel
from opsdesk.search import search_index
from opsdesk.workflow import StateField, WorkflowModel

from .choices import RISK_QUESTIONS, ApprovalRole, ChangeState, ChangeType, Decision, Risk

BEFORE_START = [ChangeState.DRAFT, ChangeState.SUBMITTED, ChangeState.APPROVED]

# Decided by the board through ``services.change_approve``/``change_reject`` only,
# never offered to users as plain transitions.
BOARD_TRANSITIONS = ("approve", "reject")


class StandardChangeTemplate(models.Model):
    """A pre-approved, low-risk, repeatable change (a standard change must use one)."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    implementation_plan = models.TextField(blank=True)
    testing_plan = models.TextField(blank=True)
    rollback_plan = models.TextField(blank=True)
    services = models.ManyToManyField("opsdesk.Service", blank=True, related_name="+")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChangeFreeze(models.Model):
    """A window in which standard and normal changes may not be planned (no services = all)."""

    name = models.CharField(max_length=200)
    start = models.DateTimeField()
    end = models.DateTimeField()
    services = models.ManyToManyField(
        "opsdesk.Service", blank=True, related_name="freezes",
        help_text="Leave empty to freeze every service.",
    )
    reason = models.TextField(blank=True)
    sequence = models.PositiveIntegerField(
        default=0, editable=False, help_text="Revision number, the calendar feed's SEQUENCE."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(start__lt=models.F("end")), name="freeze_start_before_end")
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            self.sequence += 1  # every edit is a new revision for subscribed calendars
        super().save(*args, **kwargs)


WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def site_time_zone() -> str:
    return settings.TIME_ZONE


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"“{value}” is not an IANA time zone (e.g. Europe/Zurich).") from exc


class MaintenanceWindow(models.Model):
    """When a service may be changed: weekdays and a time of day in the window's own time zone.

    An end time at or before the start time ends on the next day (22:00–02:00);
    equal times mean the whole day. A service without windows may be changed at
    any time; a service with windows only inside one of them.
    """

    service = models.ForeignKey("opsdesk.Service", on_delete=models.CASCADE, related_name="maintenance_windows")
    name = models.CharField(max_length=100, blank=True, help_text="E.g. “Sunday early morning”.")
    weekdays = models.JSONField(default=list, help_text="Days the window opens: 0 = Monday … 6 = Sunday.")
    start_time = models.TimeField()
    end_time = models.TimeField(help_text="At or before the start time: the window ends the next day.")
    time_zone = models.CharField(max_length=64, default=site_time_zone, validators=[validate_time_zone])

    class Meta:
        ordering = ["service__name", "start_time", "id"]

    def __str__(self) -> str:
        return f"{self.service}: {self.describe()}"

    def describe(self) -> str:
        days = ", ".join(WEEKDAY_NAMES[day] for day in sorted(self.weekdays or []) if 0 <= day <= 6)
        return f"{days or 'no day'} {self.start_time:%H:%M}–{self.end_time:%H:%M} ({self.time_zone})"

    def clean(self) -> None:
        days = self.weekdays
        if not isinstance(days, list) or not days or any(
            not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6 for day in days
        ):
            raise ValidationError({"weekdays": "Pick at least one weekday (0 = Monday … 6 = Sunday)."})
        self.weekdays = sorted(set(days))


class ChangeRequest(WorkflowModel):
    """A planned change to one or more services, approved by the change board."""

    NUMBER_PREFIX = "CHG"
    SEARCH_FIELDS = ("number", "title", "description")  # the word search (opsdesk.search)
    TRANSITIONED_EVENT = events.ChangeTransitioned
    State = ChangeState

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    change_type = models.CharField(max_length=10, choices=ChangeType.choices, default=ChangeType.NORMAL)
    risk = models.CharField(
        max_length=10, choices=Risk.choices, default=Risk.MEDIUM,
        help_text="Follows the risk score unless a Change Manager overrides it with a reason.",
    )
    risk_answers = models.JSONField(default=dict, blank=True, help_text="The risk questionnaire's answers.")
    risk_score = models.PositiveSmallIntegerField(default=0, editable=False)
    risk_factors = models.JSONField(default=list, blank=True, editable=False)
    risk_override_reason = models.TextField(
        blank=True, help_text="Why the risk differs from the score (Change Managers); empty: the score decides."
    )
    impact_assessment = models.TextField(blank=True)
    business_justification = models.TextField(blank=True)
    implementation_plan = models.TextField(blank=True)
    testing_plan = models.TextField(blank=True)
    rollback_plan = models.TextField(blank=True)
    post_implementation_review = models.TextField(
        blank=True, help_text="Required before an emergency change is closed."
    )
    services = models.ManyToManyField("opsdesk.Service", related_name="changes")
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True, db_index=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_changes"
    )
    implementer = models.ForeignKey(
        "opsdesk.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="changes"
    )
    template = models.ForeignKey(
        StandardChangeTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="changes"
    )
    incidents = models.ManyToManyField("incidents.Incident", blank=True, related_name="changes")
    release = models.ForeignKey(
        "releases.Release", on_delete=models.SET_NULL, null=True, blank=True, related_name="changes"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True, db_index=True)
    in_freeze = models.BooleanField(
        default=False, help_text="Emergency change submitted for a window inside a change freeze."
    )
    recurring_service = models.ForeignKey(
        "opsdesk.Service", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        editable=False,
        help_text="Set on changes created automatically for recurring incidents on this service.",
    )
    created_by_rule = models.CharField(
        max_length=50, null=True, blank=True, editable=False,
        help_text="The automation rule that created this record (empty when a person did).",
    )
    conflicts = models.JSONField(
        default=list, blank=True, editable=False,
        help_text="Recomputed whenever the window, the services or the implementer change (changes/conflicts.py).",
    )
    sequence = models.PositiveIntegerField(
        default=0, editable=False, help_text="Revision number, the calendar feed's SEQUENCE."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    state = StateField(
        max_length=20, choices=ChangeState.choices, default=ChangeState.DRAFT, protected=True, db_index=True
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("submit_changerequest", "Can submit changes"),
            ("approve_changerequest", "Can approve or reject changes in their board role"),
            ("start_changerequest", "Can start changes"),
            ("verify_changerequest", "Can move changes to verifying"),
            ("close_changerequest", "Can record the outcome of changes"),
            ("cancel_changerequest", "Can cancel changes"),
            ("override_risk_changerequest", "Can override the computed risk of changes"),
        ]
        indexes = [
            models.Index(fields=["planned_start", "planned_end"]),
            search_index("number", "title", "description", name="change_search"),
            # The list's default order (newest first, id as tiebreaker), for page 1, deep pages and
            # keyset cursors without a sort of every change; also the metrics' live days of the changes
            # created (bench/NOTES.md, "Lists at a million incidents" and "Metrics from rollups").
            models.Index(fields=["created_at", "id"], name="change_created_id"),
        ]

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            self.sequence += 1  # every edit and transition is a new revision for subscribed calendars
        super().save(*args, **kwargs)

    @property
    def unanswered_risk_questions(self) -> list[str]:
        answers = self.risk_answers if isinstance(self.risk_answers, dict) else {}
        return [key for key in RISK_QUESTIONS if key not in answers]

    def available_transitions_for(self, user, page: dict | None = None) -> list[str]:
        """The user's transitions, without approve/reject (those go through the board services)."""
        return [name for name in super().available_transitions_for(user, page) if name not in BOARD_TRANSITIONS]

    # --- transitions (state only; changes/services.py locks, logs and notifies) ---

    @transition(field=state, source=ChangeState.DRAFT, target=ChangeState.SUBMITTED,
                permission="changes.submit_changerequest")
    def submit(self, *, by, at, in_freeze: bool = False) -> None:
        """Send to the board (``services.change_transition`` checks freezes and approves standard ones)."""
        errors = {}
        if not self.testing_plan.strip():
            errors["testing_plan"] = "A testing plan is required to submit."
        if not self.rollback_plan.strip():
            errors["rollback_plan"] = "A rollback plan is required to submit."
        if not (self.planned_start and self.planned_end and self.planned_start < self.planned_end):
            errors["planned_end"] = "The planned window must start before it ends."
        if self.change_type == ChangeType.STANDARD:
            if self.template_id is None:
                errors["template"] = "A standard change needs a standard change template."
            if Risk.for_score(self.risk_score) != Risk.LOW:
                errors["risk"] = (
                    f"A standard change must compute low risk; its score is {self.risk_score} "
                    f"({Risk.for_score(self.risk_score).label.lower()}). Raise it as a normal change."
                )
        if self.unanswered_risk_questions:
            errors["risk_answers"] = (
                "Answer the risk questionnaire to submit: " + ", ".join(self.unanswered_risk_questions) + "."
            )
        if errors:
            raise DomainValidationError(errors)
        self.submitted_at = at
        self.in_freeze = in_freeze

    @transition(field=state, source=ChangeState.SUBMITTED, target=ChangeState.APPROVED,
                permission="changes.approve_changerequest")
    def approve(self, *, by, at) -> None:
        """Every required role has approved (or a standard change was submitted)."""
        self.approved_at = at

    @transition(field=state, source=ChangeState.SUBMITTED, target=ChangeState.REJECTED,
                permission="changes.approve_changerequest")
    def reject(self, *, by, at) -> None:
        """One board member rejected it."""

    @transition(field=state, source=ChangeState.APPROVED, target=ChangeState.IN_PROGRESS,
                permission="changes.start_changerequest")
    def start(self, *, by, at) -> None:
        self.actual_start = at

    @transition(field=state, source=ChangeState.IN_PROGRESS, target=ChangeState.VERIFYING,
                permission="changes.verify_changerequest")
    def verify(self, *, by, at) -> None:
        """Implementation done; checking it worked."""

    def _require_review(self, post_implementation_review: str | None) -> None:
        if post_implementation_review is not None:
            self.post_implementation_review = post_implementation_review.strip()
        if self.change_type == ChangeType.EMERGENCY and not self.post_implementation_review:
            raise DomainValidationError(
                {"post_implementation_review": "An emergency change needs a post-implementation review note."}
            )

    @transition(field=state, source=ChangeState.VERIFYING, target=ChangeState.COMPLETED,
                permission="changes.close_changerequest")
    def complete(self, *, by, at, post_implementation_review: str | None = None) -> None:
        self._require_review(post_implementation_review)
        self.actual_end = at

    @transition(field=state, source=[ChangeState.IN_PROGRESS, ChangeState.VERIFYING],
                target=ChangeState.FAILED, permission="changes.close_changerequest")
    def fail(self, *, by, at, post_implementation_review: str | None = None) -> None:
        self._require_review(post_implementation_review)
        self.actual_end = at

    @transition(field=state, source=[ChangeState.IN_PROGRESS, ChangeState.VERIFYING],
                target=ChangeState.ROLLED_BACK, permission="changes.close_changerequest")
    def roll_back(self, *, by, at, post_implementation_review: str | None = None) -> None:
        self._require_review(post_implementation_review)
        self.actual_end = at

    @transition(field=state, source=BEFORE_START, target=ChangeState.CANCELLED,
                permission="changes.cancel_changerequest")
    def cancel(self, *, by, at) -> None:
        """Withdrawn before implementation started."""


class ChangeApproval(AppendOnlyModel):
    """One board member's decision in one role (append-only)."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="approvals")
    role = models.CharField(max_length=12, choices=ApprovalRole.choices)
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(default=timezone.now)
    meeting = models.ForeignKey(
        "CABMeeting", on_delete=models.PROTECT, null=True, blank=True, related_name="decisions",
        help_text="The CAB meeting whose board page recorded this decision, if any.",
    )

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["change", "role"], name="one_decision_per_role"),
            models.UniqueConstraint(fields=["change", "approver"], name="one_role_per_approver"),
        ]

    def __str__(self) -> str:
        return f"{self.change.number} {self.role}: {self.decision} by {self.approver}"


class CABMeeting(models.Model):
    """A change advisory board meeting; its agenda is computed (``selectors.cab_agenda``).

    The agenda is every normal change submitted before ``cutoff`` and still
    awaiting a decision; the board decides on it in place in the admin.
    """

    title = models.CharField(max_length=200, blank=True, help_text="Empty: “CAB <date>”.")
    starts_at = models.DateTimeField()
    cutoff = models.DateTimeField(help_text="Normal changes submitted before this are on the agenda.")
    minutes = models.TextField(blank=True)
    minutes_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    minutes_recorded_at = models.DateTimeField(null=True, blank=True, editable=False)
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="cab_meetings")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = "CAB meeting"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cutoff__lte=models.F("starts_at")), name="cab_cutoff_before_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title or 'CAB'} {timezone.localtime(self.starts_at):%Y-%m-%d %H:%M}"


class CalendarFeedToken(models.Model):
    """A user's secret for the change calendar feed (calendar clients cannot send headers).

    Only the SHA-256 of the token is stored; the token itself is shown once.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed_tokens")
    name = models.CharField(max_length=100, help_text="Where it is used, e.g. “Outlook on my laptop”.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False, help_text="The token's first characters, to tell it apart.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
