"""Writes of SLA calendars and policies, and the re-timing of open incidents they cause.

Every web form, admin page and API endpoint that changes a ``BusinessCalendar`` or an
``SLAPolicy`` comes through these functions: they check permission, validate (field
errors as ``DomainValidationError``), lock, write and re-time the open incidents of
the policies concerned (``services.retime_incident`` for each, in batches).
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from opsdesk.exceptions import DomainValidationError, TransitionNotAllowed
from opsdesk.models import TransitionLog

from . import sla
from .choices import OPEN_STATES
from .models import BusinessCalendar, Incident, SLAPolicy
from .selectors import hold_periods
from .services import _require_perm, retime_incident

CALENDAR_FIELDS = ("name", "time_zone", "hours", "holidays")
POLICY_FIELDS = ("response_time", "resolution_time", "notification_level", "warning_threshold", "calendar",
                 "detection_time", "follow_up_time")
# The incident process's targets (§2.1): they apply to new detections and resolutions, and re-time nothing.
PROCESS_TARGETS = ("detection_time", "follow_up_time")
RETIME_BATCH = 500


def _require_calendar_perm(by, action: str) -> None:
    _require_perm(by, f"incidents.{action}_businesscalendar", f"You may not {action} SLA calendars.")


def _clean_calendar(calendar: BusinessCalendar) -> None:
    """Check and normalise a calendar (field errors as ``DomainValidationError``)."""
    errors: dict[str, list[str]] = {}
    calendar.name = (calendar.name or "").strip() if isinstance(calendar.name, str) else ""
    if not calendar.name:
        errors["name"] = ["Give the calendar a name."]
    elif len(calendar.name) > 100:
        errors["name"] = ["Keep the name to 100 characters or fewer."]
    elif BusinessCalendar.objects.filter(name__iexact=calendar.name).exclude(pk=calendar.pk).exists():
        errors["name"] = ["A calendar with this name exists."]
    try:
        parsed = sla.parse_calendar(time_zone=calendar.time_zone, hours=calendar.hours, holidays=calendar.holidays)
    except sla.CalendarError as exc:
        errors.update(exc.errors)
    else:
        calendar.hours = sla.format_hours(parsed.hours)
        calendar.holidays = sla.format_holidays(parsed.holidays)
    if errors:
        raise DomainValidationError(errors)
    calendar.__dict__.pop("_working_hours", None)


@transaction.atomic
def calendar_create(*, by, name: str, time_zone: str, hours: dict, holidays: list | None = None) -> BusinessCalendar:
    """Create a business-hours calendar (needs ``incidents.add_businesscalendar``)."""
    _require_calendar_perm(by, "add")
    calendar = BusinessCalendar(name=name, time_zone=time_zone, hours=hours, holidays=holidays or [])
    _clean_calendar(calendar)
    calendar.save()
    return calendar


@transaction.atomic
def calendar_update(*, calendar: BusinessCalendar, by, **fields: Any) -> BusinessCalendar:
    """Change a calendar (needs ``incidents.change_businesscalendar``); the open incidents of
    every policy that counts in it are re-timed, as a severity change would."""
    _require_calendar_perm(by, "change")
    unknown = set(fields) - set(CALENDAR_FIELDS)
    if unknown:
        raise DomainValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    locked = BusinessCalendar.objects.select_for_update().get(pk=calendar.pk)
    for name, value in fields.items():
        setattr(locked, name, value)
    _clean_calendar(locked)
    locked.save()
    for policy in SLAPolicy.objects.filter(calendar=locked).select_related("calendar"):
        policy.calendar = locked
        _retime_open_incidents(policy, by=by, reason=f"calendar {locked.name} changed")
    return locked


@transaction.atomic
def calendar_delete(*, calendar: BusinessCalendar, by) -> None:
    """Delete a calendar no policy uses (needs ``incidents.delete_businesscalendar``)."""
    _require_calendar_perm(by, "delete")
    in_use = list(SLAPolicy.objects.filter(calendar=calendar).values_list("severity", flat=True))
    if in_use:
        raise TransitionNotAllowed(
            f"{calendar.name} is used by the {', '.join(in_use)} SLA policy: detach it first.", missing=["calendar"]
        )
    calendar.delete()


@transaction.atomic
def sla_policy_update(*, policy: SLAPolicy, by, **fields: Any) -> SLAPolicy:
    """Change an SLA policy (needs ``incidents.change_slapolicy``): targets, level, warning
    threshold, calendar (``None``: 24 × 7). The open incidents of its severity are
    re-timed from ``detected_at`` as a severity change would (time on hold kept, in
    the new calendar's working time); recorded breaches stay.
    """
    _require_perm(by, "incidents.change_slapolicy", "You may not change SLA policies.")
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise DomainValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    locked = SLAPolicy.objects.select_for_update(of=("self",)).select_related("calendar").get(pk=policy.pk)
    old_calendar = locked.calendar_id
    errors = {}
    for name in ("response_time", "resolution_time", *PROCESS_TARGETS):
        if name in fields and (fields[name] is None or fields[name] <= sla.ZERO):
            errors[name] = "Give a time longer than zero."
    if errors:
        raise DomainValidationError(errors)
    changed = [name for name, value in fields.items() if getattr(locked, name) != value]
    if not changed:
        return locked
    for name in changed:
        setattr(locked, name, fields[name])
    locked.save()
    if set(changed) - {"notification_level", *PROCESS_TARGETS}:
        calendar = locked.calendar.name if locked.calendar_id else "24 × 7"
        reason = f"calendar {calendar}" if old_calendar != locked.calendar_id else "policy targets changed"
        _retime_open_incidents(locked, by=by, reason=reason, recount_holds=old_calendar != locked.calendar_id)
    return locked


RETIMED_FIELDS = [
    "time_on_hold", "response_due", "resolution_due", "response_warning_due", "resolution_warning_due",
    "response_warned_at", "resolution_warned_at", "updated_at",
]


def _retime_open_incidents(policy: SLAPolicy, *, by, reason: str, recount_holds: bool = True) -> int:
    """Re-time every open incident of ``policy``'s severity, in batches of ``RETIME_BATCH``
    (one lock-and-read, one log read, one bulk update and one log insert per batch);
    each gets a ``retime_sla`` entry on its timeline. Returns how many were re-timed."""
    now = timezone.now()
    pks = list(
        Incident.objects.filter(severity=policy.severity, state__in=OPEN_STATES).order_by("pk").values_list(
            "pk", flat=True
        )
    )
    content_type = ContentType.objects.get_for_model(Incident)
    for offset in range(0, len(pks), RETIME_BATCH):
        chunk = pks[offset : offset + RETIME_BATCH]
        incidents = list(Incident.objects.select_for_update().filter(pk__in=chunk).order_by("pk"))
        holds = hold_periods(chunk) if recount_holds else {}
        for incident in incidents:
            retime_incident(incident, policy, recount_holds=recount_holds, holds=holds)
            incident.updated_at = now
        Incident.objects.bulk_update(incidents, RETIMED_FIELDS)
        TransitionLog.objects.bulk_create(
            TransitionLog(
                content_type=content_type, object_id=i.pk, object_number=i.number, transition="retime_sla",
                from_state=i.state, to_state=i.state,
                user=by if by is not None and by.is_authenticated else None,
                comment=f"SLA re-timed: {reason}", timestamp=now,
            )
            for i in incidents
        )
    return len(pks)
