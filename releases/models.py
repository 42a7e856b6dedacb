"""Releases (§4): releases with phase gates, deliverables, verification checks, deployments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import transition

from opsdesk import events
from opsdesk.search import search_index
from opsdesk.workflow import StateField, WorkflowModel

from .choices import CheckKind, DeliverableKind, DeploymentStatus, ReleaseState


class Release(WorkflowModel):
    """A bundle of changes shipped together through the phase gates."""

    NUMBER_PREFIX = "REL"
    SEARCH_FIELDS = ("number", "name", "version")  # the word search (opsdesk.search)
    TRANSITIONED_EVENT = events.ReleaseTransitioned
    State = ReleaseState

    name = models.CharField(max_length=200)
    version = models.CharField(max_length=50, blank=True)
    services = models.ManyToManyField("opsdesk.Service", related_name="releases")
    release_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="managed_releases",
    )
    planned_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_by_rule = models.CharField(
        max_length=50, null=True, blank=True, editable=False,
        help_text="The automation rule that created this record (empty when a person did).",
    )
    updated_at = models.DateTimeField(auto_now=True)
    state = StateField(
        max_length=20, choices=ReleaseState.choices, default=ReleaseState.PLANNING, protected=True,
        db_index=True,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("move_release", "Can move releases through their gates")]
        indexes = [search_index("number", "name", "version", name="release_search")]

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("releases:detail", args=[self.pk])

    def transition_blockers(self, transition: str) -> list[str]:
        from .gates import missing_for

        return missing_for(self, transition)

    def blocker_labels(self, missing: list[str]) -> list[str]:
        from .gates import missing_labels

        return missing_labels(missing)

    @transition(field=state, source=ReleaseState.PLANNING, target=ReleaseState.PREPARATION,
                permission="releases.move_release")
    def prepare(self, *, by, at) -> None:
        """Plan agreed: release plan, timeline and resource plan are in."""

    @transition(field=state, source=ReleaseState.PREPARATION, target=ReleaseState.IMPLEMENTATION,
                permission="releases.move_release")
    def implement(self, *, by, at) -> None:
        """Package, test plans and rollback plan ready; every change approved."""

    @transition(field=state, source=ReleaseState.IMPLEMENTATION, target=ReleaseState.VERIFICATION,
                permission="releases.move_release")
    def verify(self, *, by, at) -> None:
        """Deployed: deployment report in and at least one deployment succeeded."""

    @transition(field=state, source=ReleaseState.VERIFICATION, target=ReleaseState.COMPLETED,
                permission="releases.move_release")
    def complete(self, *, by, at) -> None:
        """Verified: test results, status updates and all four checks passed."""
        self.completed_at = at

    @transition(field=state, source=[ReleaseState.IMPLEMENTATION, ReleaseState.VERIFICATION],
                target=ReleaseState.FAILED, permission="releases.move_release")
    def fail(self, *, by, at) -> None:
        """The release did not work and is abandoned."""

    @transition(field=state, source=[ReleaseState.IMPLEMENTATION, ReleaseState.VERIFICATION],
                target=ReleaseState.ROLLED_BACK, permission="releases.move_release")
    def roll_back(self, *, by, at) -> None:
        """The release was taken back out."""

    @transition(field=state, source=[ReleaseState.PLANNING, ReleaseState.PREPARATION],
                target=ReleaseState.CANCELLED, permission="releases.move_release")
    def cancel(self, *, by, at) -> None:
        """Dropped before implementation."""


class ReleaseDeliverable(models.Model):
    """A document or link a phase gate needs."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="deliverables")
    kind = models.CharField(max_length=20, choices=DeliverableKind.choices)
    content = models.TextField(blank=True)
    link = models.URLField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(content="", link=""), name="deliverable_has_content_or_link"
            )
        ]

    def __str__(self) -> str:
        return f"{self.release.number} {self.get_kind_display()}"


class ReleaseCheck(models.Model):
    """One verification check of a release: passed or failed, with a note and who checked."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="checks")
    kind = models.CharField(max_length=30, choices=CheckKind.choices)
    passed = models.BooleanField()
    note = models.TextField(blank=True)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind"]
        constraints = [models.UniqueConstraint(fields=["release", "kind"], name="one_result_per_check")]

    def __str__(self) -> str:
        return f"{self.release.number} {self.get_kind_display()}: {'passed' if self.passed else 'failed'}"


class Deployment(models.Model):
    """A deployment of a release to one environment."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="deployments")
    environment = models.CharField(max_length=50)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    status = models.CharField(
        max_length=10, choices=DeploymentStatus.choices, default=DeploymentStatus.RUNNING, db_index=True
    )
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="failed_deployment", help_text="The incident this failed deployment created.",
    )

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.release.number} to {self.environment} ({self.status})"
