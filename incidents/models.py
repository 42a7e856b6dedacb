"""Incidents (§2): the incident record, its lifecycle, SLA policies and work notes.

The process records of §2.1 (template, steps, action items, status updates) are in
``process_models`` and imported at the end of this module."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django_fsm import transition

from opsdesk import events
from opsdesk.exceptions import DomainValidationError
from opsdesk.search import search_index
from opsdesk.workflow import StateField, WorkflowModel

from . import sla
from .choices import CancelReason, IncidentState, NotificationLevel, Severity

FOLLOW_UP_AFTER = sla.DEFAULT_FOLLOW_UP_TIME


class BusinessCalendar(models.Model):
    """Working hours an SLA counts in (§2): an IANA time zone, intervals per weekday, holidays.

    ``hours`` is ``{"mon": [["09:00", "12:00"], ["13:00", "18:00"]], …}`` (a missing
    day is not worked; an interval may end at "24:00"); ``holidays`` is a list of
    dates and ``[first, last]`` ranges. Both are kept in the canonical form
    ``sla.parse_calendar`` gives; write them through ``incidents.services``.
    """

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, help_text="IANA time zone, e.g. Europe/Berlin.")
    hours = models.JSONField(default=dict, blank=True)
    holidays = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.time_zone})"

    def working_hours(self) -> sla.WorkingHours:
        """This calendar as a clock (parsed once per instance)."""
        cached = self.__dict__.get("_working_hours")
        if cached is None:
            cached = self.__dict__["_working_hours"] = self.clock_of(
                self.pk, self.time_zone, self.hours, self.holidays, self.name
            )
        return cached

    # The columns ``clock_of`` takes, in order: lists read them as values (``selectors.sla_clocks``).
    CLOCK_COLUMNS = ("id", "time_zone", "hours", "holidays", "name")

    @staticmethod
    def clock_of(pk, time_zone, hours, holidays, name) -> sla.WorkingHours:
        """The clock of a calendar given by its ``CLOCK_COLUMNS``."""
        return sla.parse_calendar(time_zone=time_zone, hours=hours, holidays=holidays, calendar_id=pk, name=name)


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
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="policies",
        help_text="Count working time of this calendar only; empty: around the clock (24 × 7).",
    )
    # The incident process (§2.1): the detection and follow-up targets.
    detection_time = models.DurationField(
        default=sla.DEFAULT_DETECTION_TIME, help_text="Longest acceptable time from impact to detection."
    )
    follow_up_time = models.DurationField(
        default=sla.DEFAULT_FOLLOW_UP_TIME,
        help_text="Close (post-incident review done) within this time of resolution.",
    )

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["response_time"]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} SLA"

    @property
    def clock(self) -> sla.Clock:
        """The clock deadlines of this severity count in: the calendar's, or 24 × 7."""
        return self.calendar.working_hours() if self.calendar_id else sla.ROUND_THE_CLOCK


class Incident(WorkflowModel):
    """An unplanned interruption of a service, with its SLA clocks."""

    NUMBER_PREFIX = "INC"
    SEARCH_FIELDS = ("number", "title", "description")  # the word search (opsdesk.search)
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
    detected_at = models.DateTimeField(default=timezone.now)  # indexed with the id: Meta.indexes
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
    response_warning_due = models.DateTimeField(
        null=True, blank=True, help_text="When the response warning is due (the policy's threshold, in working time)."
    )
    resolution_warning_due = models.DateTimeField(
        null=True, blank=True, help_text="When the resolution warning is due (moves later with time on hold)."
    )
    working_time_to_resolve = models.DurationField(
        null=True, blank=True,
        help_text="detected_at → resolved_at in working time of the policy's calendar at resolution.",
    )
    escalation_level = models.PositiveSmallIntegerField(default=0)
    time_on_hold = models.DurationField(
        default=timedelta(0),
        help_text="Total time on hold in the policy's working time, not counting a hold still running.",
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
    state = StateField(
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

    # --- the incident process (§2.1) ---
    caller_name = models.CharField(max_length=200, blank=True, help_text="The person affected.")
    caller_email = models.EmailField(blank=True, help_text="The affected person's address (gets the survey).")
    major = models.BooleanField(
        default=False, help_text="A major incident: stakeholder updates, a banner on every page."
    )
    major_declared_at = models.DateTimeField(null=True, blank=True)
    status_update_due = models.DateTimeField(
        null=True, blank=True, help_text="Major incidents: when the next status update is due (the sweep reminds)."
    )
    detection_breached = models.BooleanField(
        default=False, help_text="Detected later after impact began than the policy's detection time."
    )
    follow_up_breached = models.BooleanField(default=False)
    follow_up_breached_at = models.DateTimeField(null=True, blank=True)

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
            ("declare_major_incident", "Can declare major incidents"),
        ]
        indexes = [
            search_index("number", "title", "description", name="incident_search"),
            models.Index(fields=["state", "response_due"]),
            models.Index(fields=["state", "resolution_due"]),
            models.Index(fields=["service", "detected_at"]),
            # Lists and pages (bench/NOTES.md, "Lists at a million incidents"): the default order
            # (newest first, id as tiebreaker) as an index-only scan of ids, for deep pages and
            # keyset cursors; it serves every ``detected_at`` range as well. It carries the columns
            # of the confidentiality rule, so that the pages of those who do not see every incident
            # are index-only scans too.
            models.Index(
                fields=["detected_at", "id"], name="incident_detected_id", include=["confidential", "reporter", "team"]
            ),
            # The queue's pages of open incidents: every column its filters and its urgency order
            # read, so the page's ids come from an index-only scan of the open rows alone.
            models.Index(
                fields=["severity", "state"], name="incident_open_queue",
                include=["response_breached", "resolution_breached", "acknowledged_at", "response_due",
                         "resolution_due", "detected_at", "id", "assignee", "team", "confidential", "reporter"],
                condition=models.Q(state__in=["detected", "responding", "on_hold"]),
            ),
            # Open incidents per assignee (the least-loaded assignment, "my work").
            models.Index(fields=["assignee", "state"]),
            # The sweep's warning queries: "warning due by now, not yet warned, clock still
            # running". Partial indexes over the open, un-warned rows only, so they stay
            # small (a few thousand entries at a million incidents) and the query is one
            # range scan on the stored instant; the query repeats the predicate so that
            # the planner may use them (services.warnings_due).
            models.Index(
                fields=["response_warning_due"],
                name="incident_response_warning_due",
                condition=models.Q(state="detected", response_warned_at__isnull=True, response_breached=False),
            ),
            models.Index(
                fields=["resolution_warning_due"],
                name="incident_resolution_warn_due",
                condition=models.Q(
                    state__in=["detected", "responding"], resolution_warned_at__isnull=True, resolution_breached=False
                ),
            ),
            # The SLA sweep's breach queries (services.response_breaches / resolution_breaches), one
            # partial index per arm of their OR: each holds only rows not yet flagged whose clock can
            # still breach, so an idle sweep is a few index probes however many incidents there are
            # (EXPLAIN in bench/NOTES.md).
            models.Index(
                fields=["response_due"], name="incident_response_unacked",
                condition=models.Q(acknowledged_at__isnull=True, response_breached=False)
                & ~models.Q(state="cancelled"),
            ),
            models.Index(
                fields=["response_due"], name="incident_response_acked_late",
                condition=models.Q(response_breached=False, acknowledged_at__gt=models.F("response_due"))
                & ~models.Q(state="cancelled"),
            ),
            models.Index(
                fields=["resolution_due"], name="incident_resolution_running",
                condition=models.Q(resolution_breached=False, state__in=["detected", "responding"]),
            ),
            models.Index(
                fields=["resolution_due"], name="incident_resolution_held_late",
                condition=models.Q(
                    resolution_breached=False, state="on_hold", on_hold_since__gt=models.F("resolution_due")
                ),
            ),
            models.Index(
                fields=["resolution_due"], name="incident_resolution_done_late",
                condition=models.Q(resolution_breached=False, resolved_at__gt=models.F("resolution_due"))
                & ~models.Q(state="cancelled"),
            ),
            # The process sweep (incidents.process): partial indexes over the few rows it looks at.
            models.Index(
                fields=["follow_up_due"], name="incident_follow_up_due",
                condition=models.Q(state="resolved", follow_up_breached=False),
            ),
            models.Index(
                fields=["status_update_due"], name="incident_status_update_due",
                condition=models.Q(major=True, state__in=["detected", "responding", "on_hold"]),
            ),
            # The major-incident banner of every page: the open ones, oldest first (bench/NOTES.md).
            # The predicate is ``major`` alone, which SQLite can match against a query with bound
            # state parameters; the state leads the key.
            models.Index(
                fields=["state", "detected_at", "id"], name="incident_major_open",
                include=["number", "title", "severity"], condition=models.Q(major=True),
            ),
            # The live part of the follow-up metric: resolved, not closed, window still open (bench/NOTES.md).
            models.Index(
                fields=["follow_up_due"], name="incident_follow_up_open",
                condition=models.Q(closed_at__isnull=True, follow_up_due__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(started_at__lte=models.F("detected_at")),
                name="incident_started_not_after_detected",
            ),
        ]

    # --- SLA -----------------------------------------------------------------

    def sla_policy(self) -> SLAPolicy | None:
        """The policy of this incident's severity, with its calendar (one query, then cached)."""
        cached = self.__dict__.get("_sla_policy")
        if cached is None or cached.severity != self.severity:
            cached = SLAPolicy.objects.select_related("calendar").filter(severity=self.severity).first()
            self.__dict__["_sla_policy"] = cached
        return cached

    def sla_clock(self) -> sla.Clock:
        policy = self.sla_policy()
        return policy.clock if policy is not None else sla.ROUND_THE_CLOCK

    def apply_policy(self, policy: SLAPolicy) -> None:
        """Set both deadlines and warning instants from ``detected_at`` with ``policy``,
        keeping time on hold (in the policy's working time, see ``sla.deadlines``)."""
        self.__dict__["_sla_policy"] = policy
        (
            self.response_due, self.response_warning_due, self.resolution_due, self.resolution_warning_due
        ) = sla.deadlines(
            detected_at=self.detected_at,
            response_time=policy.response_time,
            resolution_time=policy.resolution_time,
            time_on_hold=self.time_on_hold,
            warning_threshold=policy.warning_threshold,
            clock=policy.clock,
        )

    def transition_blockers(self, transition: str) -> list[str]:
        """``close`` waits for the required steps of the checklist that its own form cannot bring about."""
        if transition == "close":
            from .steps import close_blockers

            return close_blockers(self)
        return []

    def follow_up_time(self) -> timedelta:
        """The follow-up target of this incident's severity (the handbook's 24 h without a policy)."""
        policy = self.sla_policy()
        return policy.follow_up_time if policy is not None else FOLLOW_UP_AFTER

    def hold_time(self, now=None) -> timedelta:
        """Total working time on hold including a hold still running."""
        return sla.hold_time(
            time_on_hold=self.time_on_hold, on_hold_since=self.on_hold_since, now=now or timezone.now(),
            clock=self.sla_clock(),
        )

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
        """Restart the clock; ``resolution_due`` moves later by exactly the paused working time."""
        clock = self.sla_clock()
        before = self.time_on_hold
        self.time_on_hold = sla.resume_hold_time(
            time_on_hold=before, on_hold_since=self.on_hold_since, at=at, clock=clock
        )
        self.on_hold_since = None
        policy = self.sla_policy()
        if policy is not None:
            self.apply_policy(policy)
        elif self.resolution_due is not None:  # no policy (never seeded): shift by the paused time
            self.resolution_due = clock.add(self.resolution_due, self.time_on_hold - before)

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
        self.working_time_to_resolve = self.sla_clock().between(self.detected_at, at)
        self.follow_up_due = sla.follow_up_due(resolved_at=at, follow_up_time=self.follow_up_time())

    @transition(
        field=state,
        source=IncidentState.RESOLVED,
        target=IncidentState.RESPONDING,
        permission="incidents.reopen_incident",
    )
    def reopen(self, *, by, at) -> None:
        """The fix did not hold."""
        self.resolved_at = None
        self.working_time_to_resolve = None
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
        if self.follow_up_due is not None and at > self.follow_up_due and not self.follow_up_breached:
            # Closed late before a sweep saw it: the target was missed all the same.
            self.follow_up_breached = True
            self.follow_up_breached_at = self.follow_up_due

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
            self.time_on_hold = sla.resume_hold_time(
                time_on_hold=self.time_on_hold, on_hold_since=self.on_hold_since, at=at, clock=self.sla_clock()
            )
            self.on_hold_since = None
        self.cancel_reason = reason


class IncidentNote(models.Model):
    """A work note on an incident's timeline."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="incident_notes",
        help_text="Empty for a note the system wrote (e.g. the alert intake).",
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [search_index("body", name="incident_note_search")]

    def __str__(self) -> str:
        return f"Note on {self.incident.number} by {self.author or 'the system'}"


from .process_models import ActionItem, IncidentStep, ProcessTemplate, StatusUpdate  # noqa: E402
from .survey_models import SatisfactionSurvey, SurveyAnswer  # noqa: E402

__all__ = [
    "SLAPolicy", "Incident", "IncidentNote", "ProcessTemplate", "IncidentStep", "ActionItem", "StatusUpdate",
    "SatisfactionSurvey", "SurveyAnswer",
]
