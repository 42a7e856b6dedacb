"""Reads of the releases app: list and detail querysets with everything their pages need."""

from __future__ import annotations

import calendar as pycalendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from opsdesk.workflow import transition_history

from .choices import GATE_DELIVERABLES, PIPELINE, CheckKind, DeploymentStatus, ReleaseState
from .gates import APPROVED_CHANGE_STATES, IGNORED_CHANGE_STATES, gate_status
from .models import Deployment, Release, ReleaseCheck, ReleaseDeliverable


def _gate_prefetches() -> list:
    """What ``gates.missing_for`` reads, slimmed to the columns it needs."""
    from changes.models import ChangeRequest

    return [
        Prefetch("deliverables", queryset=ReleaseDeliverable.objects.only("id", "release_id", "kind")),
        Prefetch("deployments", queryset=Deployment.objects.only("id", "release_id", "status")),
        Prefetch("checks", queryset=ReleaseCheck.objects.only("id", "release_id", "kind", "passed")),
        Prefetch(
            "changes",
            queryset=ChangeRequest.objects.only("id", "number", "state", "release_id").order_by("id"),
        ),
    ]


def releases_list() -> QuerySet[Release]:
    """Releases for lists (web table and API): services, manager and gate data prefetched,
    so ``available_transitions`` and gate status cost no query per row."""
    return Release.objects.select_related("release_manager").prefetch_related("services", *_gate_prefetches())


def release_detail(pk: int) -> Release:
    """One release with deliverables, checks, deployments (and incidents), changes."""
    from changes.models import ChangeRequest

    return (
        Release.objects.select_related("release_manager")
        .prefetch_related(
            Prefetch("services", queryset=_services_queryset()),
            Prefetch("deliverables", queryset=ReleaseDeliverable.objects.select_related("author")),
            Prefetch("checks", queryset=ReleaseCheck.objects.select_related("checked_by")),
            Prefetch(
                "deployments",
                queryset=Deployment.objects.select_related("deployed_by", "incident").order_by("started_at", "id"),
            ),
            Prefetch(
                "changes",
                queryset=ChangeRequest.objects.select_related("requester").prefetch_related("approvals")
                .order_by("id"),
            ),
        )
        .get(pk=pk)
    )


def _services_queryset():
    from opsdesk.models import Service

    return Service.objects.select_related("owner_team").order_by("id")


def incidents_caused_by(release: Release, user):
    """The incidents ``release`` caused that ``user`` may see (confidential rule of §6)."""
    from incidents.selectors import incidents_visible_to

    return (
        incidents_visible_to(user).filter(caused_by_release=release).select_related("service")
        .order_by("detected_at", "id")
    )


# Above this many linked changes the stepper counts them instead of listing each.
MAX_CHANGES_LISTED = 6

# The gate (transition) that leaves each phase.
GATE_OF_PHASE = {
    ReleaseState.PLANNING: "prepare",
    ReleaseState.PREPARATION: "implement",
    ReleaseState.IMPLEMENTATION: "verify",
    ReleaseState.VERIFICATION: "complete",
}


@dataclass
class GateItem:
    label: str
    done: bool


@dataclass
class Phase:
    state: str
    label: str
    status: str  # done | current | stopped | todo
    gate: str | None = None  # the transition that leaves this phase
    checklist: list[GateItem] = field(default_factory=list)


def release_pipeline(release: Release, history=None) -> list[Phase]:
    """The phase stepper: each phase of PIPELINE with its exit gate's checklist ticked ✓ or ✗.

    Reads prefetched data only (use ``release_detail``); ``history`` (the transition log)
    tells in which phase a failed, rolled back or cancelled release stopped.
    """
    kinds = {d.kind for d in release.deliverables.all()}
    passed = {c.kind for c in release.checks.all() if c.passed}
    if release.state in PIPELINE:
        reached = PIPELINE.index(release.state)
    else:
        reached = _stopped_in(release, history or [])
    phases = []
    for index, state in enumerate(PIPELINE):
        if release.state == ReleaseState.COMPLETED or index < reached:
            status = "done"
        elif index == reached:
            status = "current" if release.state in PIPELINE else "stopped"
        else:
            status = "todo"
        gate = GATE_OF_PHASE.get(state)
        checklist = []
        if gate:
            checklist += [GateItem(kind.label, kind in kinds) for kind in GATE_DELIVERABLES[gate]]
        if gate == "implement":
            changes = [c for c in release.changes.all() if c.state not in IGNORED_CHANGE_STATES]
            unapproved = [c for c in changes if c.state not in APPROVED_CHANGE_STATES]
            if not changes:
                checklist.append(GateItem("Linked changes approved (none linked)", True))
            elif len(changes) <= MAX_CHANGES_LISTED:
                checklist += [GateItem(f"{c.number} approved", c not in unapproved) for c in changes]
            else:  # many changes: count them, name only those still waiting
                checklist.append(GateItem(
                    f"{len(changes) - len(unapproved)} of {len(changes)} linked changes approved", not unapproved
                ))
                checklist += [GateItem(f"{c.number} approved", False) for c in unapproved]
        elif gate == "verify":
            succeeded = any(d.status == DeploymentStatus.SUCCEEDED for d in release.deployments.all())
            checklist.append(GateItem("A succeeded deployment", succeeded))
        elif gate == "complete":
            checklist += [GateItem(f"{kind.label} passed", kind in passed) for kind in CheckKind]
        phases.append(
            Phase(state=state, label=ReleaseState(state).label, status=status, gate=gate, checklist=checklist)
        )
    return phases


def _stopped_in(release: Release, history) -> int:
    """For failed / rolled back / cancelled releases: the index of the phase it left."""
    entries = [e for e in history if e.to_state == release.state]
    if entries and entries[-1].from_state in PIPELINE:
        return PIPELINE.index(entries[-1].from_state)
    return 0


def release_gates(release: Release) -> dict[str, list[str]]:
    """``{transition: missing items}`` for every gate."""
    return gate_status(release)


def release_history(release: Release):
    """The release's transition log, oldest first, with users."""
    return list(transition_history(release))


# --- calendar --------------------------------------------------------------------


@dataclass
class CalendarDay:
    day: date
    in_month: bool
    planned: list[Release] = field(default_factory=list)
    completed: list[Release] = field(default_factory=list)


def release_calendar(year: int, month: int) -> list[list[CalendarDay]]:
    """Weeks (Monday first) of ``month``: releases planned on each day and completed on each day
    (completion dates in the site's time zone). Two queries."""
    weeks = pycalendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    first, last = weeks[0][0], weeks[-1][-1]
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(first, time.min), tz)
    end = timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min), tz)
    days = {d: CalendarDay(day=d, in_month=d.month == month) for week in weeks for d in week}
    releases = Release.objects.filter(
        Q(planned_date__range=(first, last)) | Q(completed_at__gte=start, completed_at__lt=end)
    ).order_by("planned_date", "number")
    for release in releases:
        if release.planned_date and release.planned_date in days:
            days[release.planned_date].planned.append(release)
        if release.completed_at:
            done = timezone.localtime(release.completed_at, tz).date()
            if done in days:
                days[done].completed.append(release)
    return [[days[d] for d in week] for week in weeks]
