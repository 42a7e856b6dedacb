"""Conflicts of a change's planned window (§3.1): the one place that decides what collides.

Four kinds, each an item ``{"kind", "detail", "change", "number"}`` (``change``
and ``number`` name the other change, or are null):

- ``overlap``: another approved or in-progress change on a shared service in an
  overlapping window;
- ``implementer_busy``: the same implementer team is planned on another approved
  or in-progress change in an overlapping window;
- ``freeze``: the window overlaps a ChangeFreeze on one of its services (or all);
- ``outside_maintenance_window``: one of its services has maintenance windows
  and the planned window does not fit inside one of them.

Conflicts are **stored** on the change (``ChangeRequest.conflicts``) and
recomputed by the services whenever something they depend on changes: the
change's own window, services or implementer (create, edit), any state change
of a change (its neighbours gain or lose an approved or in-progress
counterpart), a freeze or a maintenance window saved or deleted. Storing them
makes every list page and the API read a column (no query per row, sortable and
filterable), and lets the maintenance-window rule be written in Python, in each
window's own time zone and across DST, which a per-row SQL annotation cannot do
portably. ``compute_conflicts`` works on a batch with a constant number of
queries; a periodic task (``changes.refresh_conflicts``) re-checks the open
changes so that nothing stays stale after two concurrent decisions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from .choices import ChangeState, ConflictKind
from .models import ChangeFreeze, ChangeRequest, MaintenanceWindow

# The states of the *other* change that make an overlapping window a conflict (§3).
CONFLICTING_STATES = (ChangeState.APPROVED, ChangeState.IN_PROGRESS)
# The states in which a change's own conflicts still matter (not yet finished).
OPEN_STATES = (
    ChangeState.DRAFT,
    ChangeState.SUBMITTED,
    ChangeState.APPROVED,
    ChangeState.IN_PROGRESS,
    ChangeState.VERIFYING,
)
# A window longer than this is never inside a maintenance window (bounds the day loop).
MAX_MAINTENANCE_DAYS = 62

_ServiceLink = ChangeRequest.services.through


def _local(value: datetime) -> str:
    return f"{timezone.localtime(value):%a %d %b %H:%M}"


def _span(start: datetime, end: datetime) -> str:
    local_start, local_end = timezone.localtime(start), timezone.localtime(end)
    end_text = f"{local_end:%H:%M}" if local_start.date() == local_end.date() else _local(end)
    return f"{_local(start)}–{end_text}"


def _item(kind: ConflictKind, detail: str, other: ChangeRequest | None = None) -> dict:
    return {
        "kind": str(kind),
        "detail": detail,
        "change": other.pk if other is not None else None,
        "number": other.number if other is not None else None,
    }


def _has_window(change: ChangeRequest) -> bool:
    return bool(
        change.pk and change.planned_start and change.planned_end and change.planned_start < change.planned_end
        and change.state in OPEN_STATES
    )


# --- maintenance windows -------------------------------------------------------------------


def _occurrences(window: MaintenanceWindow, first: date, last: date) -> Iterable[tuple[datetime, datetime]]:
    """The window's openings that start on a local date in ``[first, last]``, as aware datetimes."""
    zone = ZoneInfo(window.time_zone)
    days = set(window.weekdays or [])
    day = first
    while day <= last:
        if day.weekday() in days:
            start = datetime.combine(day, window.start_time, tzinfo=zone)
            end_day = day if window.end_time > window.start_time else day + timedelta(days=1)
            end = datetime.combine(end_day, window.end_time, tzinfo=zone)
            yield start, end
        day += timedelta(days=1)


def fits_maintenance_windows(start: datetime, end: datetime, windows: Sequence[MaintenanceWindow]) -> bool:
    """Whether ``[start, end)`` lies inside one opening (or back-to-back openings) of ``windows``."""
    if end - start > timedelta(days=MAX_MAINTENANCE_DAYS):
        return False
    openings = []
    for window in windows:
        zone = ZoneInfo(window.time_zone)
        # From the day before (an opening may run past midnight) to the last day of the change.
        first = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date()
        openings.extend(_occurrences(window, first, last))
    openings.sort()
    covered_until = None
    for opening_start, opening_end in openings:
        if covered_until is None:
            if opening_start <= start < opening_end:
                covered_until = opening_end
        elif opening_start <= covered_until:  # contiguous: extends the covered stretch
            covered_until = max(covered_until, opening_end)
        if covered_until is not None and covered_until >= end:
            return True
    return False


# --- computing ------------------------------------------------------------------------------


def compute_conflicts(changes: Sequence[ChangeRequest]) -> dict[int, list[dict]]:
    """The conflicts of each change (by pk), with a constant number of queries for the batch.

    ``changes`` must have ``services`` prefetched (and ``implementer`` selected).
    Finished changes and changes without a complete window have none.
    """
    result: dict[int, list[dict]] = {change.pk: [] for change in changes if change.pk}
    wanted = [change for change in changes if _has_window(change)]
    if not wanted:
        return result
    services_of = {change.pk: {service.pk: service for service in change.services.all()} for change in wanted}
    service_ids = {pk for mine in services_of.values() for pk in mine}
    team_ids = {change.implementer_id for change in wanted if change.implementer_id}
    span_start = min(change.planned_start for change in wanted)
    span_end = max(change.planned_end for change in wanted)

    shares = Q(pk__in=_ServiceLink.objects.filter(service_id__in=service_ids).values("changerequest_id"))
    others = list(
        ChangeRequest.objects.filter(
            shares | Q(implementer_id__in=team_ids),
            state__in=CONFLICTING_STATES, planned_start__lt=span_end, planned_end__gt=span_start,
        )
        .select_related("implementer")
        .prefetch_related("services")
        .order_by("planned_start", "pk")
    )
    freezes = list(
        ChangeFreeze.objects.filter(start__lt=span_end, end__gt=span_start).prefetch_related("services").order_by(
            "start", "pk"
        )
    )
    windows_by_service: dict[int, list[MaintenanceWindow]] = defaultdict(list)
    for window in MaintenanceWindow.objects.filter(service_id__in=service_ids).order_by("start_time", "pk"):
        windows_by_service[window.service_id].append(window)

    for change in wanted:
        mine = services_of[change.pk]
        items = result[change.pk]
        for other in others:
            if other.pk == change.pk or not (
                other.planned_start < change.planned_end and other.planned_end > change.planned_start
            ):
                continue
            shared = [mine[s.pk].name for s in other.services.all() if s.pk in mine]
            window = _span(other.planned_start, other.planned_end)
            if shared:
                items.append(_item(
                    ConflictKind.OVERLAP,
                    f"Overlaps {other.number} “{other.title}” ({other.get_state_display().lower()}, {window}) "
                    f"on {', '.join(sorted(shared))}.",
                    other,
                ))
            if change.implementer_id and other.implementer_id == change.implementer_id:
                items.append(_item(
                    ConflictKind.IMPLEMENTER_BUSY,
                    f"{other.implementer} is also implementing {other.number} “{other.title}” "
                    f"({other.get_state_display().lower()}, {window}).",
                    other,
                ))
        for freeze in freezes:
            if not (freeze.start < change.planned_end and freeze.end > change.planned_start):
                continue
            scope = {service.pk for service in freeze.services.all()}
            if scope and not scope & set(mine):
                continue
            where = "every service" if not scope else ", ".join(sorted(mine[pk].name for pk in scope & set(mine)))
            items.append(_item(
                ConflictKind.FREEZE,
                f"Inside the change freeze “{freeze.name}” ({_span(freeze.start, freeze.end)}) on {where}.",
            ))
        for service_id, service in sorted(mine.items(), key=lambda pair: pair[1].name):
            windows = windows_by_service.get(service_id)
            if windows and not fits_maintenance_windows(change.planned_start, change.planned_end, windows):
                items.append(_item(
                    ConflictKind.OUTSIDE_MAINTENANCE_WINDOW,
                    f"Outside every maintenance window of {service.name} "
                    f"({'; '.join(window.describe() for window in windows)}).",
                ))
    return result


# --- storing --------------------------------------------------------------------------------


def refresh_conflicts(changes: QuerySet[ChangeRequest], *, batch_size: int = 500) -> int:
    """Recompute and store the conflicts of ``changes``; returns how many rows changed.

    Writes with ``update()``: a conflict is not an edit of the change (no new revision).
    """
    changed = 0
    queryset = changes.select_related("implementer").prefetch_related("services").order_by("pk")
    last_pk = 0
    while True:
        batch = list(queryset.filter(pk__gt=last_pk)[:batch_size])
        if not batch:
            return changed
        computed = compute_conflicts(batch)
        for change in batch:
            value = computed.get(change.pk, [])
            if change.conflicts != value:
                ChangeRequest.objects.filter(pk=change.pk).update(conflicts=value)
                changed += 1
        last_pk = batch[-1].pk


def refresh_around(change: ChangeRequest) -> None:
    """After ``change`` was created, edited or moved: its own conflicts and its neighbours'.

    Neighbours are the open changes whose window overlaps it and that share a
    service or the implementer: they gain or lose ``change`` as a counterpart.
    """
    targets = Q(pk=change.pk)
    if change.planned_start and change.planned_end:
        service_ids = _ServiceLink.objects.filter(changerequest_id=change.pk).values("service_id")
        near = Q(pk__in=_ServiceLink.objects.filter(service_id__in=service_ids).values("changerequest_id"))
        if change.implementer_id:
            near |= Q(implementer_id=change.implementer_id)
        targets |= near & Q(
            state__in=OPEN_STATES, planned_start__lt=change.planned_end, planned_end__gt=change.planned_start
        )
    refresh_conflicts(ChangeRequest.objects.filter(targets))
    change.conflicts = ChangeRequest.objects.values_list("conflicts", flat=True).get(pk=change.pk)


def refresh_in_window(start: datetime | None, end: datetime | None) -> int:
    """After a freeze was saved or deleted: the open changes overlapping ``[start, end)``."""
    if start is None or end is None:
        return 0
    return refresh_conflicts(
        ChangeRequest.objects.filter(state__in=OPEN_STATES, planned_start__lt=end, planned_end__gt=start)
    )


def refresh_for_services(service_ids: Iterable[int]) -> int:
    """After a maintenance window was saved or deleted: the open changes on those services."""
    ids = [pk for pk in service_ids if pk]
    return refresh_conflicts(
        ChangeRequest.objects.filter(
            state__in=OPEN_STATES, planned_start__isnull=False,
            pk__in=_ServiceLink.objects.filter(service_id__in=ids).values("changerequest_id"),
        )
    )


def refresh_open_changes(*, now: datetime | None = None) -> int:
    """The periodic re-check: every open change whose window has not ended yet."""
    now = now or timezone.now()
    return refresh_conflicts(ChangeRequest.objects.filter(state__in=OPEN_STATES, planned_end__gt=now))


def conflict_kinds(conflicts: list[dict]) -> list[str]:
    """The distinct kinds of a stored conflict list, in ConflictKind order (for badges)."""
    present = {item.get("kind") for item in conflicts or []}
    return [kind for kind in ConflictKind.values if kind in present]


__all__ = [
    "CONFLICTING_STATES",
    "OPEN_STATES",
    "compute_conflicts",
    "conflict_kinds",
    "fits_maintenance_windows",
    "refresh_around",
    "refresh_conflicts",
    "refresh_for_services",
    "refresh_in_window",
    "refresh_open_changes",
]
