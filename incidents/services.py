"""Writes of incidents: create, update, transitions, severity, escalation, notes, the SLA sweep.

Every web view, admin action, API endpoint and Celery task comes through these
functions: they check permission and visibility, lock, write, log, and queue
notifications in one transaction.
"""

from __future__ import annotations

import operator
from datetime import datetime
from functools import reduce
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from opsdesk import events
from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.services import refuse_archived
from opsdesk.workflow import actor_id, apply_transition, log_transition

from . import guards, notify, process, sla, steps, survey, sweep
from .choices import OPEN_STATES, IncidentState, Severity, SLAClockName
from .models import Incident, IncidentNote, SLAPolicy
from .selectors import hold_periods, sees_all_incidents

MAX_ESCALATION_LEVEL = notify.MAX_ESCALATION_LEVEL

# Fields a user gives when logging an incident (the web form and the admin offer a subset).
CREATE_FIELDS = (
    "title",
    "description",
    "severity",
    "service",
    "team",
    "assignee",
    "started_at",
    "detected_at",
    "customers_affected",
    "confidential",
    "caused_by_release",
    "caused_by_change",
    "caller_name",
    "caller_email",
    "major",
)

# Fields the incident process (§2.1) sets; read-only everywhere (``major`` by declare-major only).
PROCESS_FIELDS = (
    "major", "major_declared_at", "status_update_due", "detection_breached", "follow_up_breached",
    "follow_up_breached_at",
)

# Fields incident_update may change (state, numbers, deadlines and flags never; ``major`` only by
# declare-major, which needs its own permission).
EDITABLE_FIELDS = (
    *(name for name in CREATE_FIELDS if name != "major"),
    "resolution_summary", "root_cause", "lessons_learned", "preventive_measures",
)


# --- helpers -------------------------------------------------------------------


_require_perm = guards.require_perm
_require_visible = guards.require_visible


def _policy(severity: str) -> SLAPolicy:
    policy = SLAPolicy.objects.select_related("calendar").filter(severity=severity).first()
    if policy is None:
        raise DomainValidationError({"severity": f"No SLA policy for severity {severity!r}."})
    return policy


def validate_incident_fields(incident: Incident, now: datetime | None = None) -> None:
    """The field rules of §2 (raises DomainValidationError with field keys); strips the title."""
    now = now or timezone.now()
    errors: dict[str, str] = {}
    title = (incident.title or "").strip()
    if not title:
        errors["title"] = "Give the incident a title."
    elif len(title) > 200:
        errors["title"] = "Keep the title to 200 characters or fewer."
    if incident.severity not in Severity.values:
        errors["severity"] = f"Choose a severity: {', '.join(Severity.values)}."
    if incident.service_id is None:
        errors["service"] = "Choose the affected service."
    if incident.detected_at is None:
        errors["detected_at"] = "Say when the incident was detected."
    elif incident.detected_at > now:
        errors["detected_at"] = "The detection time cannot be in the future."
    if incident.started_at is not None and incident.detected_at is not None:
        if incident.started_at > incident.detected_at:
            errors["started_at"] = "Impact cannot start after the incident was detected."
    customers = incident.customers_affected
    if customers is None or not isinstance(customers, int) or customers < 0:
        errors["customers_affected"] = "Customers affected must be a whole number, 0 or more."
    errors.update(process.caller_errors(incident))
    if errors:
        raise DomainValidationError(errors)
    incident.title = title


def _locked(incident: Incident) -> Incident:
    return Incident.objects.select_for_update(of=("self",)).select_related("team", "service").get(pk=incident.pk)


# --- create / update -----------------------------------------------------------


@transaction.atomic
def incident_create(
    *,
    by,
    title: str,
    service,
    severity: str,
    description: str = "",
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
    customers_affected: int = 0,
    confidential: bool = False,
    team=None,
    assignee=None,
    caused_by_release=None,
    caused_by_change=None,
    caller_name: str = "",
    caller_email: str = "",
    major: bool = False,
    created_by_rule: str | None = None,
    at: datetime | None = None,
) -> Incident:
    """Log an incident: validate, number it, set its SLA deadlines, notify per level,
    and publish ``incident.created`` (automation rules react to it: auto-assignment,
    recurring incidents).

    ``by`` None means the system (e.g. a failed deployment); the reporter is then empty,
    and ``created_by_rule`` names the automation rule that opened it.
    Needs ``incidents.add_incident`` otherwise. ``at`` (demo data replaying history)
    is when it was logged: the moment its event is stamped with.

    The incident gets its checklist (the process template's steps); ``major`` needs
    ``incidents.declare_major_incident``; ``detection_breached`` records whether
    impact began longer than the policy's ``detection_time`` before detection.
    """
    _require_perm(by, "incidents.add_incident", "You may not log incidents.")
    refuse_archived(service=service, team=team)
    if major:
        _require_perm(by, process.DECLARE_MAJOR_PERM, "You may not declare major incidents.")
    now = timezone.now()
    detected_at = detected_at or now
    incident = Incident(
        title=title or "",
        description=description or "",
        severity=severity,
        service=service,
        # The service's owner team by default, unless it is archived (the incident then waits for a team).
        team=team if team is not None else (
            service.owner_team if service is not None and service.owner_team and service.owner_team.active else None
        ),
        assignee=assignee,
        reporter=by if by is not None and by.is_authenticated else None,
        started_at=started_at or detected_at,
        detected_at=detected_at,
        customers_affected=customers_affected,
        confidential=bool(confidential),
        caused_by_release=caused_by_release,
        caused_by_change=caused_by_change,
        created_by_rule=created_by_rule or None,
        caller_name=(caller_name or "").strip(),
        caller_email=(caller_email or "").strip(),
    )
    validate_incident_fields(incident, now)
    policy = _policy(incident.severity)
    incident.apply_policy(policy)
    process.apply_detection_target(incident, policy)
    if major:
        process.mark_major(incident, at=at or now)
    incident.save()
    steps.create_steps(incident, by=by, at=at or now)
    notify.notify_event(
        incident, event="created", headline="New major incident" if major else "New incident", key="created"
    )
    events.publish(events.IncidentCreated(incident_id=incident.pk, by_id=actor_id(by), at=at or now))
    return incident


@transaction.atomic
def incident_update(*, incident: Incident, by, **fields: Any) -> Incident:
    """Change editable, non-state fields (``EDITABLE_FIELDS``); needs ``incidents.change_incident``.

    Confidential incidents may be changed only by those who can see them. A new
    ``severity`` goes through ``incident_change_severity`` (its own permission);
    a new ``detected_at`` recomputes the deadlines, keeping time on hold.
    """
    _require_perm(by, "incidents.change_incident", "You may not change incidents.")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    locked = _locked(incident)
    _require_visible(by, locked)
    if locked.state in (IncidentState.CLOSED, IncidentState.CANCELLED):
        raise TransitionNotAllowed(f"{locked.number} is {locked.get_state_display().lower()}: it cannot be changed.")
    severity = fields.pop("severity", None)
    changed = []
    for name, value in fields.items():
        if isinstance(value, str):
            value = value.strip() if name != "description" else value
        if name in ("team", "service") and value is not None and getattr(locked, f"{name}_id") != value.pk:
            refuse_archived(**{name: value})
        if getattr(locked, name) != value:
            setattr(locked, name, value)
            changed.append(name)
    if changed:
        validate_incident_fields(locked)
        if "detected_at" in changed:
            locked.apply_policy(_policy(locked.severity))
        if {"detected_at", "started_at"} & set(changed):
            process.apply_detection_target(locked, _policy(locked.severity))
        locked.save()
        steps.observe_fields(locked, by=by)
    if severity is not None and severity != locked.severity:
        locked = incident_change_severity(incident=locked, by=by, severity=severity)
    return locked


def assignable_users(incident: Incident):
    """Who may be assigned ``incident``: active members and the lead of its team (anyone active without a team)."""
    users = get_user_model().objects.filter(is_active=True)
    if incident.team_id is None:
        return users
    return users.filter(Q(teams=incident.team_id) | Q(led_teams=incident.team_id)).distinct()


@transaction.atomic
def incident_assign(
    *, incident: Incident, by, assignee, comment: str = "", at: datetime | None = None
) -> Incident:
    """Assign ``incident`` to ``assignee`` (None unassigns); needs ``incidents.change_incident``.

    The assignee must be an active member (or the lead) of the incident's team.
    Logged as an ``assign`` event; the new assignee is told by email unless they
    assigned themselves. ``by`` None is the system (the ``auto_assign`` rule).
    """
    _require_perm(by, "incidents.change_incident", "You may not assign incidents.")
    locked = _locked(incident)
    _require_visible(by, locked)
    if locked.state in (IncidentState.CLOSED, IncidentState.CANCELLED):
        raise TransitionNotAllowed(f"{locked.number} is {locked.get_state_display().lower()}: it cannot be assigned.")
    if assignee is not None and not assignable_users(locked).filter(pk=assignee.pk).exists():
        where = f"the {locked.team} team" if locked.team_id else "OpsDesk"
        name = assignee.get_full_name() or assignee.get_username()
        raise DomainValidationError({"assignee": f"{name} is not an active member of {where}."})
    if locked.assignee_id == (assignee.pk if assignee else None):
        return locked
    locked.assignee = assignee
    locked.save(update_fields=["assignee", "updated_at"])
    who = (assignee.get_full_name() or assignee.get_username()) if assignee else "nobody"
    entry = log_transition(
        obj=locked, name="assign", from_state=locked.state, to_state=locked.state, by=by,
        comment=f"assigned to {who}: {comment}" if comment else f"assigned to {who}", at=at,
    )
    if assignee is not None and assignee.pk != actor_id(by):
        notify.notify_assignee(locked, assignee=assignee, by=by, key=f"assigned:{entry.pk}")
    return locked


# --- transitions ---------------------------------------------------------------


@transaction.atomic
def incident_transition(
    *,
    instance: Incident,
    name: str,
    by,
    comment: str = "",
    expected_state: str | None = None,
    at: datetime | None = None,
    **fields: Any,
) -> Incident:
    """Run transition ``name`` (acknowledge, hold, resume, resolve, reopen, close, cancel).

    Checks that ``by`` may see the incident, then ``apply_transition`` locks,
    checks permission, state and ``expected_state`` (409 when someone moved it
    since), runs it, saves and logs. A resolution is announced per level.
    """
    if by is not None and not sees_all_incidents(by):
        current = Incident.objects.only("pk", "confidential", "reporter_id", "team_id", "number").get(pk=instance.pk)
        _require_visible(by, current)
    if name == "close":
        process.check_close(instance, by=by, fields=fields)
    incident = apply_transition(
        instance=instance, name=name, by=by, comment=comment, expected_state=expected_state, at=at, **fields
    )
    steps.observe_transition(incident, name, by=by, at=at or timezone.now())
    if name == "acknowledge":
        _take_on_acknowledge(incident, by=by, at=at)
    if name == "close":
        missing = steps.pending_required(incident)
        if missing:  # rolls the close back with everything it did
            raise steps.refuse_close(incident, missing)
    if name == "resolve":
        notify.notify_event(
            incident, event="resolved", headline="Resolved", key=f"resolved:{incident.resolved_at.isoformat()}"
        )
        survey.send_survey(incident=incident, at=incident.resolved_at)
    return incident


def _take_on_acknowledge(incident: Incident, *, by, at: datetime | None) -> None:
    """Whoever acknowledges an unassigned incident becomes its assignee, when they may be
    (an active member or the lead of its team); logged as an ``assign`` event."""
    if by is None or incident.assignee_id is not None:
        return
    if not assignable_users(incident).filter(pk=by.pk).exists():
        return
    incident.assignee = by
    incident.save(update_fields=["assignee", "updated_at"])
    log_transition(
        obj=incident, name="assign", from_state=incident.state, to_state=incident.state, by=by,
        comment=f"assigned to {by.get_full_name() or by.get_username()} on acknowledging", at=at,
    )


# The queue's bulk actions: each runs one service per incident.
BULK_ACTIONS = ("assign", "acknowledge", "severity")


def incident_bulk_action(
    *, incidents, by, action: str, assignee=None, severity: str = ""
) -> tuple[list[Incident], list[tuple[Incident, str]]]:
    """Run one action on several incidents, each through its own service call
    (``incident_assign``, ``incident_transition`` acknowledge, ``incident_change_severity``)
    and its own transaction: one refusal never undoes the others.

    Returns ``(done, refused)``; ``refused`` pairs each incident with why, in the words the
    single-incident pages use."""
    if action not in BULK_ACTIONS:
        raise DomainValidationError({"action": "Choose an action: assign, acknowledge or change severity."})
    if action == "severity" and severity not in Severity.values:
        raise DomainValidationError({"severity": f"Choose a severity: {', '.join(Severity.values)}."})
    if action == "assign" and assignee is None:
        raise DomainValidationError({"assignee": "Choose whom to assign the incidents to."})
    done: list[Incident] = []
    refused: list[tuple[Incident, str]] = []
    for incident in incidents:
        try:
            if action == "assign":
                if incident.assignee_id == assignee.pk:
                    raise TransitionNotAllowed(f"{incident.number} is already assigned to "
                                               f"{assignee.get_full_name() or assignee.get_username()}.")
                done.append(incident_assign(incident=incident, by=by, assignee=assignee))
            elif action == "acknowledge":
                done.append(incident_transition(instance=incident, name="acknowledge", by=by))
            else:
                if incident.severity == severity:
                    raise TransitionNotAllowed(f"{incident.number} is already {Severity(severity).label.lower()}.")
                done.append(incident_change_severity(incident=incident, by=by, severity=severity))
        except (TransitionNotAllowed, ConcurrentUpdate) as exc:
            refused.append((incident, exc.message))
        except DomainValidationError as exc:
            refused.append((incident, " ".join(" ".join(v) for v in exc.errors.values())))
        except PermissionDenied as exc:
            refused.append((incident, str(exc) or "Your role does not allow this."))
    return done, refused


@transaction.atomic
def incident_change_severity(*, incident: Incident, by, severity: str, comment: str = "") -> Incident:
    """Change the severity: both deadlines are recomputed from ``detected_at`` with the new
    policy, keeping all time already on hold (the clock never restarts). Logged as a
    ``change_severity`` event. Recorded breaches stay; warnings may go out again for the
    new windows. Needs ``incidents.change_severity_incident``.
    """
    _require_perm(by, "incidents.change_severity_incident", "You may not change the severity of incidents.")
    if severity not in Severity.values:
        raise DomainValidationError({"severity": f"Choose a severity: {', '.join(Severity.values)}."})
    locked = _locked(incident)
    _require_visible(by, locked)
    if locked.state in (IncidentState.CLOSED, IncidentState.CANCELLED):
        raise TransitionNotAllowed(
            f"Cannot change the severity of {locked.number}: it is {locked.get_state_display().lower()}."
        )
    old = locked.severity
    if old == severity:
        return locked
    policy = _policy(severity)
    old_calendar = locked.sla_policy().calendar_id if locked.sla_policy() else None
    locked.severity = severity
    recount = old_calendar != policy.calendar_id
    retime_incident(locked, policy, recount_holds=recount, holds=hold_periods([locked.pk]) if recount else {})
    locked.save()
    text = f"{Severity(old).label.lower()} → {Severity(severity).label.lower()}"
    entry = log_transition(
        obj=locked,
        name="change_severity",
        from_state=locked.state,
        to_state=locked.state,
        by=by,
        comment=f"{text}: {comment}" if comment else text,
    )
    if locked.state in OPEN_STATES:
        notify.notify_event(
            locked, event="severity", headline=f"Severity changed ({text})", key=f"severity:{entry.pk}",
            level=policy.notification_level,
        )
    events.publish(
        events.IncidentSeverityChanged(
            incident_id=locked.pk, old_severity=old, new_severity=severity, log_id=entry.pk,
            by_id=actor_id(by), at=entry.timestamp,
        )
    )
    return locked


def _escalate(incident: Incident, *, by, reason: str, at: datetime | None = None) -> bool:
    """Raise ``escalation_level`` by one (at most 3), log it and notify the next tier.

    Shared by manual and automatic escalation; a conditional UPDATE makes two
    concurrent escalations raise the level twice, never lose one. Returns False
    at the top tier. Call inside a transaction.
    """
    at = at or timezone.now()
    raised = Incident.objects.filter(pk=incident.pk, escalation_level__lt=MAX_ESCALATION_LEVEL).update(
        escalation_level=F("escalation_level") + 1, updated_at=timezone.now()
    )
    if not raised:
        return False
    incident.escalation_level = Incident.objects.values_list("escalation_level", flat=True).get(pk=incident.pk)
    level = incident.escalation_level
    log_transition(
        obj=incident,
        name="escalate",
        from_state=incident.state,
        to_state=incident.state,
        by=by,
        comment=f"level {level} ({notify.ESCALATION_TIERS[level]}): {reason}",
        at=at,
    )
    notify.notify_escalation(incident, level=level, reason=reason)
    return True


@transaction.atomic
def incident_escalate(*, incident: Incident, by, comment: str = "") -> Incident:
    """Escalate by hand to the next tier (needs ``incidents.escalate_incident``).

    409 (``TransitionNotAllowed``) when the incident is not open or already at level 3.
    """
    _require_perm(by, "incidents.escalate_incident", "You may not escalate incidents.")
    locked = _locked(incident)
    _require_visible(by, locked)
    if locked.state not in OPEN_STATES:
        raise TransitionNotAllowed(f"Cannot escalate {locked.number}: it is {locked.get_state_display().lower()}.")
    if locked.escalation_level >= MAX_ESCALATION_LEVEL:
        raise TransitionNotAllowed(
            f"{locked.number} is already escalated to the highest tier ({notify.ESCALATION_TIERS[3]})."
        )
    who = by.get_username() if by is not None else "the system"
    _escalate(locked, by=by, reason=comment or f"escalated by hand by {who}")
    return locked


@transaction.atomic
def incident_add_note(*, incident: Incident, by, body: str, at: datetime | None = None) -> IncidentNote:
    """Add a work note to the timeline (needs ``incidents.add_incidentnote``).

    ``by`` None is the system (the alert intake notes resolved alerts): the note has no author.
    ``at`` (demo data, the event's moment) dates the note; not exposed to users."""
    _require_perm(by, "incidents.add_incidentnote", "You may not add notes to incidents.")
    if by is not None and not by.is_authenticated:
        raise PermissionDenied("Notes need an author.")
    _require_visible(by, incident)
    body = (body or "").strip()
    if not body:
        raise DomainValidationError({"body": "Write something in the note."})
    return IncidentNote.objects.create(incident=incident, author=by, body=body, created_at=at or timezone.now())


# --- the SLA sweep -------------------------------------------------------------


def response_breach_arms(now: datetime) -> list:
    """Incidents whose response SLA has breached but is not flagged yet (also those
    acknowledged late before any sweep saw them, so a missed minute loses nothing): one
    queryset per arm of the condition, each the predicate of one partial index
    (``models.Incident.Meta``), so that the sweep reads each with an index scan."""
    rows = Incident.objects.exclude(state=IncidentState.CANCELLED).filter(
        response_breached=False, response_due__isnull=False,
    )
    return [
        rows.filter(acknowledged_at__isnull=True, response_due__lte=now),
        rows.filter(acknowledged_at__gt=F("response_due")),
    ]


def resolution_breach_arms(now: datetime) -> list:
    """Incidents whose resolution SLA has breached but is not flagged yet, one queryset per
    partial index: a paused clock cannot breach; an incident put on hold or resolved after
    its deadline did."""
    rows = Incident.objects.filter(resolution_breached=False, resolution_due__isnull=False)
    return [
        rows.filter(state__in=[IncidentState.DETECTED, IncidentState.RESPONDING], resolution_due__lte=now),
        rows.filter(state=IncidentState.ON_HOLD, on_hold_since__gt=F("resolution_due")),
        rows.filter(resolved_at__gt=F("resolution_due")).exclude(state=IncidentState.CANCELLED),
    ]


def response_breaches(now: datetime):
    """The response breaches not flagged yet, as one queryset (``response_breach_arms``)."""
    return reduce(operator.or_, response_breach_arms(now))


def resolution_breaches(now: datetime):
    """The resolution breaches not flagged yet, as one queryset (``resolution_breach_arms``)."""
    return reduce(operator.or_, resolution_breach_arms(now))


# The states in which each clock runs (and so may warn); these filters repeat the
# predicates of the partial indexes on the warning instants (models.Incident.Meta).
WARNING_STATES = {
    SLAClockName.RESPONSE: [IncidentState.DETECTED],
    SLAClockName.RESOLUTION: [IncidentState.DETECTED, IncidentState.RESPONDING],
}


def warnings_due(now: datetime, clock: str):
    """Open incidents whose stored warning instant of ``clock`` has come and that are not
    warned yet (those already past due get the breach, not a warning)."""
    names = sla.clock_fields(clock)
    states = WARNING_STATES[SLAClockName(clock)]
    rows = Incident.objects.filter(
        state__in=states,
        **{
            f"{names.warned_at}__isnull": True,
            names.breached: False,
            f"{names.warning_due}__lte": now,
            f"{names.due}__gt": now,
        }
    )
    if clock == SLAClockName.RESPONSE:
        rows = rows.filter(acknowledged_at__isnull=True)
    return rows


def sla_sweep(now: datetime | None = None) -> dict[str, int]:
    """Find due warnings and breaches and act on each once, set-based (``incidents.sweep``).

    Breaches first (flag + timestamp = the due time, escalate one level, notify),
    then warnings for clocks not yet past due, at their stored instants. Rows are
    claimed by a conditional UPDATE, so two sweeps at once act once; notifications
    are deduped. The number of statements does not grow with what the sweep finds
    (up to ``sweep.BATCH`` rows per clock). Deadlines and warning instants lie in
    working time, so a sweep at night finds only what fell due while the desk was
    working. Returns counts.
    """
    now = now or timezone.now()
    done = {
        "response_breached": sweep.breach_all(SLAClockName.RESPONSE, response_breach_arms(now), now),
        "resolution_breached": sweep.breach_all(SLAClockName.RESOLUTION, resolution_breach_arms(now), now),
    }
    for clock in SLAClockName.values:
        done[f"{clock}_warned"] = sweep.warn_all(clock, warnings_due(now, clock), now)
    done.update(process.sweep(now))  # follow-up breaches, overdue action items, status-update reminders
    return done


def retime_incident(incident: Incident, policy: SLAPolicy, *, recount_holds: bool, holds: dict) -> None:
    """Recompute the deadlines and warning instants of one incident with ``policy``.

    With ``recount_holds`` (the calendar changed), the time on hold is measured again in
    the new calendar from the hold periods of the transition log; an incident whose
    holds are not in the log keeps its recorded time. A warning already sent for a
    deadline that moved may go out again for the new one; breaches stay recorded.
    """
    periods = holds.get(incident.pk)
    if recount_holds and periods:
        incident.time_on_hold = sla.hold_periods_time(periods, clock=policy.clock)
    old = (incident.response_due, incident.resolution_due)
    incident.apply_policy(policy)
    if incident.response_due != old[0] and not incident.response_breached:
        incident.response_warned_at = None
    if incident.resolution_due != old[1] and not incident.resolution_breached:
        incident.resolution_warned_at = None


def send_routine_digests(now: datetime | None = None) -> int:
    """One digest email per team of its routine incidents of the last 24 h (idempotent per day)."""
    with transaction.atomic():
        return notify.send_routine_digests(now)

