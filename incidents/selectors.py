"""Reads of incidents: who sees what (confidential rule of §6), SLA state, timeline, lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import BooleanField, Case, F, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from opsdesk import confidentiality
from opsdesk.models import Notification, Team, TransitionLog
from opsdesk.workflow import transition_history, user_may

from . import sla
from .choices import IncidentState
from .models import BusinessCalendar, Incident, SLAPolicy

# The confidentiality rule of §6 lives in the kernel, for every read path; these are its names here.
VIEW_ALL_CONFIDENTIAL = confidentiality.VIEW_ALL_CONFIDENTIAL
sees_all_incidents = confidentiality.sees_all_incidents


def incidents_visible_to(user) -> QuerySet[Incident]:
    """The incidents ``user`` may see (``opsdesk.confidentiality.visible_incidents``)."""
    return confidentiality.visible_incidents(user)


def incident_visible_to(user, incident: Incident) -> bool:
    """Whether ``user`` may see this one incident (at most one query)."""
    return confidentiality.incident_is_visible(user, incident)


def incident_workers() -> QuerySet:
    """Active users who may work incidents (hold ``incidents.change_incident`` through a group or
    directly, or are superusers): the people automatic assignment may choose."""
    from django.contrib.auth import get_user_model

    perm = Q(codename="change_incident", content_type__app_label="incidents")
    granted = Permission.objects.filter(perm)
    User = get_user_model()
    # Subqueries rather than joins: no row repeats, so no DISTINCT over every user column.
    by_group = User.groups.through.objects.filter(group__permissions__in=granted).values("user_id")
    direct = User.user_permissions.through.objects.filter(permission__in=granted).values("user_id")
    return User.objects.filter(Q(is_superuser=True) | Q(pk__in=by_group) | Q(pk__in=direct), is_active=True)


def incident_workers_by_name() -> QuerySet:
    """``incident_workers`` in the order lists of people show them: first name, last name, username."""
    return incident_workers().order_by("first_name", "last_name", "username")


def incident_worker_names() -> list[tuple[int, Person]]:
    """``incident_workers_by_name`` as ``(pk, person)``, the names alone (lists of people)."""
    return [(pk, Person(first, last, username)) for pk, first, last, username
            in incident_workers_by_name().values_list("pk", "first_name", "last_name", "username")]


def incident_list(*, user, filters: dict | None = None) -> QuerySet[Incident]:
    """The incidents ``user`` may see, ready for a list (queue page, API list, admin).

    ``filters`` (optional) are the query parameters of ``IncidentFilterSet``.
    """
    incidents = incidents_visible_to(user).select_related("service", "team", "assignee", "reporter")
    if filters:
        from .filtersets import IncidentFilterSet

        incidents = IncidentFilterSet(filters, queryset=incidents).qs
    return incidents


# --- the queue ---------------------------------------------------------------------

# The queue's quick views: (key, label). ``mine`` is the default of those who work incidents.
QUEUE_VIEWS = (
    ("mine", "My work"),
    ("open", "Open"),
    ("unacknowledged", "Not acknowledged"),
    ("breached", "Open and breached"),
    ("assigned", "Assigned to me"),
    ("major", "Major"),
    ("follow_up", "Follow-up overdue"),
    ("all", "All"),
)


def my_team_ids(user) -> list[int]:
    """The teams ``user`` is a member or the lead of (one query, cached on the user for the request)."""
    if user is None or not user.is_authenticated:
        return []
    if not hasattr(user, "_opsdesk_team_ids"):
        user._opsdesk_team_ids = list(
            Team.objects.filter(Q(members=user) | Q(lead=user)).values_list("pk", flat=True).distinct()
        )
    return user._opsdesk_team_ids


def default_queue_view(user) -> str:
    """My work for those who work incidents; the open incidents for everyone else."""
    return "mine" if user.has_perm("incidents.change_incident") else "open"


def queue_view(incidents: QuerySet[Incident], view: str, *, user, now: datetime) -> QuerySet[Incident]:
    """Narrow ``incidents`` to one quick view of ``QUEUE_VIEWS`` (an unknown key narrows nothing).

    My work: the user's open incidents and the unassigned open incidents of the user's teams
    (and of no team: anyone may take those, see ``services.assignable_users``)."""
    from .choices import OPEN_STATES

    is_open = Q(state__in=OPEN_STATES)
    if view == "mine":
        mine = Q(assignee=user) | Q(assignee__isnull=True) & (Q(team__in=my_team_ids(user)) | Q(team__isnull=True))
        return incidents.filter(is_open & mine)
    if view == "open":
        return incidents.filter(is_open)
    if view == "unacknowledged":
        return incidents.filter(state=IncidentState.DETECTED)
    if view == "breached":
        return incidents.filter(is_open & (Q(response_breached=True) | Q(resolution_breached=True)))
    if view == "assigned":
        return incidents.filter(is_open, assignee=user)
    if view == "major":
        return incidents.filter(is_open, major=True)
    if view == "follow_up":
        return incidents.filter(state=IncidentState.RESOLVED, follow_up_due__lte=now)
    return incidents


class Named:
    """A related row of a queue row as its cells read it: ``name`` (a service, a team)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class Person:
    """An assignee of a queue row as ``format_person`` names it (``User``'s two methods)."""

    __slots__ = ("first_name", "last_name", "username")

    def __init__(self, first_name: str, last_name: str, username: str) -> None:
        self.first_name, self.last_name, self.username = first_name, last_name, username

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_username(self) -> str:
        return self.username


class QueueRow:
    """One incident of a queue page: the fields its cells and its SLA clock read
    (``QUEUE_ROW_FIELDS``), its service's and team's names and its assignee's, under the
    names of ``Incident``'s attributes; no model instance, no whole related row."""

    def __init__(self, values: dict) -> None:
        service, team = values.pop("service__name"), values.pop("team__name")
        first, last, username = (values.pop("assignee__first_name"), values.pop("assignee__last_name"),
                                 values.pop("assignee__username"))
        self.__dict__.update(values)
        self.pk = values["id"]
        self.service = Named(service)
        self.team = Named(team) if values["team_id"] is not None else None
        self.assignee = Person(first, last, username) if values["assignee_id"] is not None else None

    def get_severity_display(self) -> str:
        from .choices import Severity

        return dict(Severity.choices).get(self.severity, self.severity)

    def get_state_display(self) -> str:
        return dict(IncidentState.choices).get(self.state, self.state)


# What a queue row shows and what ``sla.sla_state`` reads of an incident.
QUEUE_ROW_FIELDS = (
    "id", "number", "title", "severity", "state", "confidential", "escalation_level",
    "service_id", "team_id", "assignee_id", "detected_at", "acknowledged_at", "resolved_at", "updated_at",
    "on_hold_since", "time_on_hold",
    "response_due", "response_warning_due", "response_breached", "response_breached_at", "response_warned_at",
    "resolution_due", "resolution_warning_due", "resolution_breached", "resolution_breached_at",
    "resolution_warned_at",
    "service__name", "team__name", "assignee__first_name", "assignee__last_name", "assignee__username",
)


def queue_rows(ids: list[int]) -> list[QueueRow]:
    """The incidents ``ids`` as queue rows, in that order (one query of the listed columns)."""
    rows = Incident.objects.filter(pk__in=ids).order_by().values(*QUEUE_ROW_FIELDS)  # ordered here, not sorted
    found = {values["id"]: values for values in rows}
    return [QueueRow(found[pk]) for pk in ids if pk in found]


def order_by_urgency(incidents: QuerySet[Incident], *, descending: bool = False) -> QuerySet[Incident]:
    """Most urgent first: running clocks by the deadline that matters now (response until
    acknowledged, then resolution; the most overdue first), then paused ones (on hold), then
    the rest; within one deadline by severity, critical first.

    A deadline lies in its calendar's working time, so the nearest deadline is the least
    remaining time for incidents of one calendar; across calendars it is the nearest instant."""
    from .choices import Severity

    running = Q(state__in=[IncidentState.DETECTED, IncidentState.RESPONDING])
    incidents = incidents.annotate(
        urgency_group=Case(
            When(running, then=Value(0)), When(state=IncidentState.ON_HOLD, then=Value(1)), default=Value(2)
        ),
        urgency_due=Case(
            When(running & Q(acknowledged_at__isnull=True, resolution_breached=False), then=F("response_due")),
            When(running | Q(state=IncidentState.ON_HOLD), then=F("resolution_due")),
            default=None,
        ),
        severity_rank=Case(*(When(severity=value, then=Value(i)) for i, value in enumerate(Severity.values))),
    )
    due = F("urgency_due").desc(nulls_last=True) if descending else F("urgency_due").asc(nulls_last=True)
    group = "-urgency_group" if descending else "urgency_group"
    return incidents.order_by(group, due, "severity_rank", "-detected_at", "-id")


def incident_detail(*, user, pk: int) -> Incident:
    """One incident the user may see (raises ``Incident.DoesNotExist`` otherwise)."""
    return (
        incident_list(user=user)
        .select_related("caused_by_release", "caused_by_change", "survey", "survey__answer")
        .get(pk=pk)
    )


def sla_policies_by_severity() -> dict[str, SLAPolicy]:
    """Every SLA policy with its calendar, keyed by severity (one query)."""
    return {policy.severity: policy for policy in SLAPolicy.objects.select_related("calendar")}


def sla_clocks() -> dict[str, sla.Clock]:
    """The clock of each severity (its policy's calendar, or 24 × 7), one query of the columns
    the clocks need (values, not instances: every list request asks): a list page asks once and
    passes it to ``sla_state`` for every row."""
    columns = [f"calendar__{name}" for name in BusinessCalendar.CLOCK_COLUMNS]
    return {
        severity: BusinessCalendar.clock_of(*calendar) if calendar[0] is not None else sla.ROUND_THE_CLOCK
        for severity, *calendar in SLAPolicy.objects.order_by().values_list("severity", *columns)
    }


def hold_periods(incident_ids) -> dict[int, list[tuple[datetime, datetime]]]:
    """The finished hold periods ``(held_at, resumed_at)`` of each incident, from the
    transition log (one query): a hold ends with ``resume`` or ``cancel``."""
    periods: dict[int, list[tuple[datetime, datetime]]] = {}
    started: dict[int, datetime] = {}
    rows = (
        TransitionLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Incident),
            object_id__in=list(incident_ids),
        )
        .filter(Q(to_state=IncidentState.ON_HOLD) | Q(from_state=IncidentState.ON_HOLD))
        .exclude(from_state=F("to_state"))
        .order_by("object_id", "timestamp", "id")
        .values_list("object_id", "from_state", "to_state", "timestamp")
    )
    for pk, from_state, to_state, at in rows:
        if to_state == IncidentState.ON_HOLD:
            started[pk] = at
        elif from_state == IncidentState.ON_HOLD and pk in started:
            periods.setdefault(pk, []).append((started.pop(pk), at))
    return periods


# --- SLA state -----------------------------------------------------------------

SLAClock = sla.SLAClock
SLAState = sla.SLAState


def sla_state(
    incident: Incident, now: datetime | None = None, *, clocks: dict[str, sla.Clock] | None = None
) -> SLAState:
    """The SLA state of ``incident`` at ``now``, in working time of its policy's calendar
    (``sla.sla_state``). Lists pass ``clocks`` (``sla_clocks()``, read once); without it
    this reads the incident's policy (one query, cached on the instance).
    """
    now = now or timezone.now()
    if clocks is not None and incident.severity in clocks:
        clock = clocks[incident.severity]
    else:
        clock = incident.sla_clock()
    return sla.sla_state(incident, now=now, clock=clock)


def sla_states(incidents, now: datetime | None = None) -> dict[int, SLAState]:
    """The SLA state of each incident of a page (by id) at one instant, with the clocks read
    once (one query)."""
    now = now or timezone.now()
    clocks = sla_clocks()
    return {incident.pk: sla_state(incident, now=now, clocks=clocks) for incident in incidents}


# --- timeline ------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an incident's history: a transition, a note or a notification."""

    at: datetime
    kind: str  # transition | event | note | notification | status_update | action_item | step
    title: str
    body: str = ""
    user: Any = None
    from_state: str = ""
    to_state: str = ""
    recipients: tuple[str, ...] = ()


def incident_timeline(
    incident: Incident, *, steps: list | None = None, status_updates: list | None = None,
    action_items: list | None = None,
) -> list[TimelineEntry]:
    """Transitions (and logged events), notes and notifications of ``incident``, oldest first,
    with the process records of §2.1 when given (already loaded for the page): status
    updates, action items, and the steps people completed or skipped.

    Three queries; notifications of one event (same subject, same moment) are one entry.
    """
    entries: list[TimelineEntry] = []
    for update in status_updates or ():
        entries.append(TimelineEntry(
            at=update.created_at, kind="status_update", title=f"{update.get_audience_display()} status update",
            body=update.body, user=update.author,
        ))
    for item in action_items or ():
        entries.append(TimelineEntry(
            at=item.created_at, kind="action_item", title="action item",
            body=f"{item.title} — {item.owner.get_full_name() or item.owner.get_username()}, "
            f"due {item.due_date:%d %b %Y}",
            user=item.created_by,
        ))
    for step in steps or ():
        if step.state != "pending" and not step.auto and step.done_at is not None:
            entries.append(TimelineEntry(
                at=step.done_at, kind="step", title=f"{step.get_state_display().lower()}: {step.title}",
                body=step.note, user=step.done_by,
            ))
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
    order = {"transition": 0, "event": 1, "step": 2, "status_update": 3, "action_item": 4, "note": 5,
             "notification": 6}
    entries.sort(key=lambda e: (e.at, order[e.kind]))
    return entries


# --- the incident process (§2.1) -------------------------------------------------------


def pending_required_prefetch() -> Prefetch:
    """The pending required steps of each incident, for ``close`` availability without a query per row."""
    from .choices import StepState
    from .models import IncidentStep

    return Prefetch(
        "steps",
        queryset=IncidentStep.objects.filter(required=True, state=StepState.PENDING).order_by("position", "id"),
        to_attr="pending_required_steps",
    )


def prefetch_pending_required(incidents: list[Incident], user) -> None:
    """The keys of the pending required steps (``pending_required_keys``, what ``steps.pending_required``
    reads) of the incidents of a page that ``user`` could close now (the resolved ones, if ``user``
    may close): ``close`` is the only transition those steps gate. One query of the keys alone,
    none without such a row."""
    from .choices import StepState
    from .models import IncidentStep

    resolved = [incident for incident in incidents if incident.state == IncidentState.RESOLVED]
    if not resolved or not user_may(resolved[0], "close", user):
        return
    keys: dict[int, list[str]] = {incident.pk: [] for incident in resolved}
    pending = IncidentStep.objects.filter(incident_id__in=list(keys), required=True, state=StepState.PENDING)
    for incident_id, key in pending.order_by("position", "id").values_list("incident_id", "key"):
        keys[incident_id].append(key)
    for incident in resolved:
        incident.pending_required_keys = keys[incident.pk]


def incident_steps(incident: Incident) -> list:
    """The incident's checklist in order, with who did each step (one query)."""
    return list(incident.steps.select_related("done_by").order_by("position", "id"))


def steps_by_phase(steps: list) -> list[dict]:
    """The checklist grouped per phase, in the handbook's order: ``[{"phase", "label", "steps", "done", "total"}]``."""
    from .choices import Phase, StepState

    groups = []
    for phase in Phase:
        members = [step for step in steps if step.phase == phase]
        if members:
            settled = sum(1 for step in members if step.state != StepState.PENDING)
            groups.append({"phase": phase.value, "label": phase.label, "steps": members, "done": settled,
                           "total": len(members)})
    return groups


def incident_action_items(incident: Incident) -> list:
    """The incident's action items with owner and change (one query)."""
    return list(
        incident.action_items.select_related("owner", "change", "closed_by", "created_by").order_by("due_date", "id")
    )


def incident_status_updates(incident: Incident) -> list:
    """The incident's status updates, oldest first (one query)."""
    return list(incident.status_updates.select_related("author").order_by("created_at", "id"))


def action_items_visible_to(user) -> QuerySet:
    """Action items of the incidents ``user`` may see."""
    from .models import ActionItem

    return ActionItem.objects.filter(incident__in=incidents_visible_to(user).values("pk"))


def process_rows_visible_to(model, user) -> QuerySet:
    """Rows of ``model`` (anything with an ``incident``) that belong to incidents ``user`` may see."""
    return confidentiality.restrict(model.objects.all(), user)


@dataclass(frozen=True)
class MajorBanner:
    """The open major incidents a page names (``named``) and how many it only counts (confidential)."""

    named: list[dict]
    hidden: int

    def __bool__(self) -> bool:
        return bool(self.named or self.hidden)


def open_major_incidents(user, limit: int = 10) -> MajorBanner:
    """Open major incidents for the banner: one query; confidential ones the user may not
    see are counted, never named (§6)."""
    from .choices import OPEN_STATES

    if user is None or not user.is_authenticated or not user.is_active:
        return MajorBanner(named=[], hidden=0)
    rows = Incident.objects.filter(major=True, state__in=OPEN_STATES).order_by("detected_at", "id")
    if sees_all_incidents(user):
        rows = rows.annotate(visible=Value(True, output_field=BooleanField()))
    else:
        rows = rows.annotate(
            visible=Case(
                When(confidentiality.visible_q(user), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
    found = list(rows.values("pk", "number", "title", "severity", "visible")[: limit + 50])
    named = [row for row in found if row["visible"]]
    return MajorBanner(named=named[:limit], hidden=len(found) - len(named))
