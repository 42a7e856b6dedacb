"""Reads of incidents: who sees what (confidential rule of §6), SLA state, timeline, lists."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from opsdesk.models import Notification, Team
from opsdesk.workflow import transition_history

from .choices import IncidentState
from .models import Incident, SLAPolicy

DEFAULT_WARNING_THRESHOLD = Decimal("0.75")
VIEW_ALL_CONFIDENTIAL = "incidents.view_confidential_incident"


# --- visibility ------------------------------------------------------------------


def sees_all_incidents(user) -> bool:
    """Incident Managers (``view_confidential_incident``) and superusers see every incident."""
    if user is None:  # the system itself
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.has_perm(VIEW_ALL_CONFIDENTIAL)


def incidents_visible_to(user) -> QuerySet[Incident]:
    """The incidents ``user`` may see: every non-confidential one, and confidential ones
    where the user is the reporter, a member or the lead of the incident's team.

    ``None`` (the system) and holders of ``view_confidential_incident`` see all;
    anonymous users see nothing.
    """
    incidents = Incident.objects.all()
    if user is None or sees_all_incidents(user):
        return incidents
    if not user.is_authenticated or not user.is_active:
        return incidents.none()
    my_teams = Team.objects.filter(Q(members=user) | Q(lead=user)).values("pk")
    return incidents.filter(Q(confidential=False) | Q(reporter=user) | Q(team__in=my_teams))


def incident_visible_to(user, incident: Incident) -> bool:
    """Whether ``user`` may see this one incident (at most one query)."""
    if not incident.confidential or sees_all_incidents(user):
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    if incident.reporter_id == user.pk:
        return True
    if incident.team_id is None:
        return False
    return Team.objects.filter(pk=incident.team_id).filter(Q(members=user) | Q(lead=user)).exists()


def incident_workers() -> QuerySet:
    """Active users who may work incidents (hold ``incidents.change_incident`` through a group or
    directly, or are superusers): the people automatic assignment may choose."""
    from django.contrib.auth import get_user_model

    perm = Q(codename="change_incident", content_type__app_label="incidents")
    granted = Permission.objects.filter(perm)
    return get_user_model().objects.filter(
        Q(is_superuser=True) | Q(groups__permissions__in=granted) | Q(user_permissions__in=granted), is_active=True
    ).distinct()


def _with_threshold(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """Annotate each incident with its policy's warning threshold (one subquery, no N+1)."""
    return incidents.annotate(
        sla_warning_threshold=Subquery(
            SLAPolicy.objects.filter(severity=OuterRef("severity")).values("warning_threshold")[:1]
        )
    )


def incident_list(*, user, filters: dict | None = None) -> QuerySet[Incident]:
    """The incidents ``user`` may see, ready for a list (queue page, API list, admin).

    ``filters`` (optional) are the query parameters of ``IncidentFilterSet``.
    """
    incidents = _with_threshold(
        incidents_visible_to(user).select_related("service", "team", "assignee", "reporter")
    )
    if filters:
        from .filtersets import IncidentFilterSet

        incidents = IncidentFilterSet(filters, queryset=incidents).qs
    return incidents


def incident_detail(*, user, pk: int) -> Incident:
    """One incident the user may see (raises ``Incident.DoesNotExist`` otherwise)."""
    return incident_list(user=user).select_related("caused_by_release", "caused_by_change").get(pk=pk)


def sla_policies_by_severity() -> dict[str, SLAPolicy]:
    """Every SLA policy, keyed by severity (one query)."""
    return {policy.severity: policy for policy in SLAPolicy.objects.all()}


# --- SLA state -----------------------------------------------------------------


@dataclass(frozen=True)
class SLAClock:
    """One SLA clock (response or resolution) as seen at one instant."""

    due: datetime | None
    remaining_seconds: float | None
    elapsed_seconds: float
    breached: bool
    breached_at: datetime | None
    warned_at: datetime | None
    running: bool
    status: str  # ok | warning | breached | paused | met


@dataclass(frozen=True)
class SLAState:
    """Both SLA clocks of an incident, whether the resolution clock is paused, time on hold."""

    response: SLAClock
    resolution: SLAClock
    paused: bool
    time_on_hold_seconds: float
    status: str  # ok | warning | breached | paused | met (for colour: css class sla-<status>)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def css_class(self) -> str:
        return f"sla-{'ok' if self.status == 'met' else self.status}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        for clock in ("response", "resolution"):
            for key in ("due", "breached_at", "warned_at"):
                value = data[clock][key]
                data[clock][key] = value.isoformat() if value else None
        return data


def _threshold(incident: Incident) -> Decimal:
    annotated = getattr(incident, "sla_warning_threshold", None)
    if annotated is not None:
        return Decimal(annotated)
    policy = SLAPolicy.objects.filter(severity=incident.severity).only("warning_threshold").first()
    return policy.warning_threshold if policy else DEFAULT_WARNING_THRESHOLD


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def _clock(
    *, start, end, due, time_on_hold, flagged, breached_at, warned_at, running, paused, done, threshold
) -> SLAClock:
    """One SLA clock from ``start`` to ``end`` (not counting ``time_on_hold``) against ``due``."""
    elapsed = _seconds(max(end - start - time_on_hold, timedelta(0)))
    remaining = _seconds(due - end) if due else None
    breached = flagged or (remaining is not None and remaining < 0)
    window = _seconds(due - start - time_on_hold) if due else None
    if breached:
        status = "breached"
    elif paused:
        status = "paused"
    elif not running:
        status = "met" if done else "ok"
    elif window and elapsed >= threshold * window:
        status = "warning"
    else:
        status = "ok"
    return SLAClock(
        due=due, remaining_seconds=remaining, elapsed_seconds=elapsed, breached=breached,
        breached_at=breached_at, warned_at=warned_at, running=running, status=status,
    )


def sla_state(incident: Incident, now: datetime | None = None) -> SLAState:
    """The SLA state of ``incident`` at ``now``.

    Remaining is negative once a clock is breached. The response clock stops at
    acknowledgement; the resolution clock stops at resolution and is paused
    (remaining and elapsed frozen) while the incident is on hold. Elapsed
    resolution time does not count time on hold. Uses the annotated warning
    threshold of ``incident_list`` when there is one, else one query.
    """
    now = now or timezone.now()
    threshold = float(_threshold(incident))
    stopped = incident.state == IncidentState.CANCELLED
    stop_at = incident.updated_at if stopped and incident.updated_at else now

    # Response: detected_at .. acknowledged_at (or now).
    response = _clock(
        start=incident.detected_at,
        end=incident.acknowledged_at or stop_at,
        due=incident.response_due,
        time_on_hold=timedelta(0),
        flagged=incident.response_breached,
        breached_at=incident.response_breached_at,
        warned_at=incident.response_warned_at,
        running=incident.acknowledged_at is None and not stopped,
        paused=False,
        done=incident.acknowledged_at is not None,
        threshold=threshold,
    )

    # Resolution: detected_at .. resolved_at (or now), minus time on hold; frozen on hold.
    paused = incident.on_hold_since is not None and incident.state == IncidentState.ON_HOLD
    if incident.resolved_at is not None:
        resolution_end = incident.resolved_at
    elif paused:
        resolution_end = incident.on_hold_since
    else:
        resolution_end = stop_at
    resolution = _clock(
        start=incident.detected_at,
        end=resolution_end,
        due=incident.resolution_due,
        time_on_hold=incident.time_on_hold,
        flagged=incident.resolution_breached,
        breached_at=incident.resolution_breached_at,
        warned_at=incident.resolution_warned_at,
        running=incident.resolved_at is None and not paused and not stopped,
        paused=paused,
        done=incident.resolved_at is not None,
        threshold=threshold,
    )

    statuses = {response.status, resolution.status}
    if "breached" in statuses:
        status = "breached"
    elif paused:
        status = "paused"
    elif incident.resolved_at is not None:
        status = "met"
    elif "warning" in statuses:
        status = "warning"
    else:
        status = "ok"
    return SLAState(
        response=response,
        resolution=resolution,
        paused=paused,
        time_on_hold_seconds=_seconds(incident.hold_time(now if not stopped else stop_at)),
        status=status,
    )


# --- timeline ------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an incident's history: a transition, a note or a notification."""

    at: datetime
    kind: str  # transition | event | note | notification
    title: str
    body: str = ""
    user: Any = None
    from_state: str = ""
    to_state: str = ""
    recipients: tuple[str, ...] = ()


def incident_timeline(incident: Incident) -> list[TimelineEntry]:
    """Transitions (and logged events), notes and notifications of ``incident``, oldest first.

    Three queries; notifications of one event (same subject, same moment) are one entry.
    """
    entries: list[TimelineEntry] = []
    for log in transition_history(incident):
        is_event = log.from_state == log.to_state
        entries.append(
            TimelineEntry(
                at=log.timestamp,
                kind="event" if is_event else "transition",
                title=log.transition.replace("_", " "),
                body=log.comment,
                user=log.user,
                from_state=log.from_state,
                to_state=log.to_state,
            )
        )
    for note in incident.notes.select_related("author"):
        entries.append(TimelineEntry(at=note.created_at, kind="note", title="note", body=note.body, user=note.author))
    grouped: dict[tuple, list[Notification]] = {}
    notifications = Notification.objects.filter(
        content_type=ContentType.objects.get_for_model(Incident), object_id=incident.pk
    ).order_by("created_at", "id")
    for row in notifications:
        grouped.setdefault((row.subject, row.created_at.replace(microsecond=0)), []).append(row)
    for (subject, _), rows in grouped.items():
        entries.append(
            TimelineEntry(
                at=rows[0].created_at,
                kind="notification",
                title=subject,
                body=rows[0].body,
                recipients=tuple(f"{r.channel}: {r.recipient}" for r in rows),
            )
        )
    order = {"transition": 0, "event": 1, "note": 2, "notification": 3}
    entries.sort(key=lambda e: (e.at, order[e.kind]))
    return entries
