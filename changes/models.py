"""Changes (§3): change requests, board approvals, standard templates and freezes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition

from opsdesk import events
from opsdesk.exceptions import DomainValidationError
from opsdesk.models import AppendOnlyModel
from opsdesk.workflow import WorkflowModel

from .choices import ApprovalRole, ChangeState, ChangeType, Decision, Risk

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

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(start__lt=models.F("end")), name="freeze_start_before_end")
        ]

    def __str__(self) -> str:
        return self.name


class ChangeRequest(WorkflowModel):
    """A planned change to one or more services, approved by the change board."""

    NUMBER_PREFIX = "CHG"
    TRANSITIONED_EVENT = events.ChangeTransitioned
    State = ChangeState

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    change_type = models.CharField(max_length=10, choices=ChangeType.choices, default=ChangeType.NORMAL)
    risk = models.CharField(max_length=10, choices=Risk.choices, default=Risk.MEDIUM)
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
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    state = FSMField(
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
        ]
        indexes = [models.Index(fields=["planned_start", "planned_end"])]

    def available_transitions_for(self, user) -> list[str]:
        """The user's transitions, without approve/reject (those go through the board services)."""
        return [name for name in super().available_transitions_for(user) if name not in BOARD_TRANSITIONS]

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
            if self.risk != Risk.LOW:
                errors["risk"] = "A standard change must be low risk."
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

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["change", "role"], name="one_decision_per_role"),
            models.UniqueConstraint(fields=["change", "approver"], name="one_role_per_approver"),
        ]

    def __str__(self) -> str:
        return f"{self.change.number} {self.role}: {self.decision} by {self.approver}"
