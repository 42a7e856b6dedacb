"""Automation (§8): the configurable rules and the append-only log of what they did."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from opsdesk.models import AppendOnlyModel

from .choices import RunObjectAction, RunOutcome


class AutomationRule(models.Model):
    """One rule of the registry (``automation/rules``): whether it runs, and its parameters.

    The rows are seeded by a migration, one per rule; only ``enabled`` and
    ``params`` are edited (by superusers and Ops Managers), and ``params`` are
    checked against the rule's schema by ``services.rule_update``.
    """

    key = models.CharField(max_length=50, unique=True, editable=False)
    enabled = models.BooleanField(default=True)
    params = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["key"]
        verbose_name = "automation rule"

    def __str__(self) -> str:
        return self.key

    @property
    def definition(self):
        """The rule's code (trigger, schema, action) from the registry; None if none is installed."""
        from .registry import RULES

        return RULES.get(self.key)


class AutomationRun(AppendOnlyModel):
    """One rule's handling of one event: acted, skipped (with the reason) or failed (with the error)."""

    rule = models.ForeignKey(AutomationRule, on_delete=models.PROTECT, related_name="runs")
    event = models.CharField(max_length=50, db_index=True)
    event_key = models.CharField(max_length=200)
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    subject_id = models.PositiveBigIntegerField()
    subject_number = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=10, choices=RunOutcome.choices, db_index=True)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "automation run"
        indexes = [models.Index(fields=["subject_type", "subject_id"])]
        constraints = [
            # A rule acts at most once on one occurrence of an event, however often it is published.
            models.UniqueConstraint(
                fields=["rule", "event_key"], condition=models.Q(outcome="acted"), name="automation_acts_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule_id and self.rule.key} on {self.event_key}: {self.outcome}"

    @property
    def outcome_class(self) -> str:
        return {RunOutcome.ACTED: "success", RunOutcome.SKIPPED: "secondary"}.get(self.outcome, "danger")


class AutomationRunObject(AppendOnlyModel):
    """A record a run created or changed (the incident it opened, the change it attached to, …)."""

    run = models.ForeignKey(AutomationRun, on_delete=models.PROTECT, related_name="records")
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    number = models.CharField(max_length=40, blank=True)
    action = models.CharField(max_length=10, choices=RunObjectAction.choices)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.number or self.object_id}"


class RoundRobinCursor(models.Model):
    """Where ``auto_assign``'s round robin stands in one team: the member it assigned last."""

    team = models.OneToOneField("opsdesk.Team", on_delete=models.CASCADE, related_name="+")
    last_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"round robin of team {self.team_id}"
