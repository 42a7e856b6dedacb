"""The incident process (§2.1) inside the incident's own writes, and the process sweep.

``services`` calls the helpers here while it logs, edits and closes incidents
(caller fields, the detection target, major incidents, the close gate). ``sweep``
is the process part of the SLA sweep: follow-up breaches, reminders of overdue
action items and of due status updates of major incidents. Like the SLA part it
finds candidates with one indexed query each and claims every row with a
conditional UPDATE before acting, and every notification carries a dedupe key,
so a duplicate, concurrent or late sweep neither loses nor repeats anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from opsdesk.workflow import user_may

from . import notify, sla, steps
from .choices import OPEN_STATES, ActionItemState, IncidentState
from .models import ActionItem, Incident, SLAPolicy

DECLARE_MAJOR_PERM = "incidents.declare_major_incident"


def status_update_interval() -> timedelta:
    """How long a major incident may go without a status update (``OPSDESK_STATUS_UPDATE_MINUTES``)."""
    return timedelta(minutes=settings.OPSDESK_STATUS_UPDATE_MINUTES)


# --- inside the incident's writes ------------------------------------------------------------


def caller_errors(incident: Incident) -> dict[str, str]:
    """Field errors of the caller fields (optional; the address must be one)."""
    errors = {}
    if len(incident.caller_name or "") > 200:
        errors["caller_name"] = "Keep the caller's name to 200 characters or fewer."
    address = (incident.caller_email or "").strip()
    if address:
        try:
            validate_email(address)
        except ValidationError:
            errors["caller_email"] = "Enter a valid email address for the caller."
    return errors


def apply_detection_target(incident: Incident, policy: SLAPolicy) -> None:
    """Record whether the detection target of ``policy`` was missed (from the incident's two times)."""
    incident.detection_breached = sla.detection_breached(
        started_at=incident.started_at, detected_at=incident.detected_at, detection_time=policy.detection_time
    )


def mark_major(incident: Incident, *, at: datetime) -> None:
    """Make ``incident`` major: the first status update is due one interval from now."""
    incident.major = True
    incident.major_declared_at = at
    incident.status_update_due = at + status_update_interval()


def check_close(instance: Incident, *, by, fields: dict) -> None:
    """Refuse ``close`` (409, the step keys in ``missing``) while a required step would stay pending.

    Counts what the close itself records (``root_cause``, ``lessons_learned``,
    ``preventive_measures`` in ``fields``). Says nothing when the user may not close
    or the incident is not resolved: ``apply_transition`` gives that refusal (403/409).
    """
    current = Incident.objects.get(pk=instance.pk)
    if current.state != IncidentState.RESOLVED or not user_may(current, "close", by):
        return
    missing = steps.missing_for_close(current, fields)
    if missing:
        raise steps.refuse_close(current, missing)


# --- the sweep ---------------------------------------------------------------------------------


def follow_up_breaches(now: datetime):
    """Resolved incidents past ``follow_up_due`` whose follow-up breach is not flagged yet
    (the partial index ``incident_follow_up_due`` holds exactly the unflagged resolved rows)."""
    return Incident.objects.filter(state=IncidentState.RESOLVED, follow_up_breached=False, follow_up_due__lte=now)


def _flag_follow_up(pk: int, now: datetime) -> int:
    """Flag one follow-up breach (once, race-safe) and tell the team lead and Incident Managers."""
    with transaction.atomic():
        flagged = Incident.objects.filter(
            pk=pk, state=IncidentState.RESOLVED, follow_up_breached=False, follow_up_due__lte=now
        ).update(follow_up_breached=True, follow_up_breached_at=F("follow_up_due"), updated_at=now)
        if not flagged:
            return 0
        incident = Incident.objects.select_related("team", "service").get(pk=pk)
        notify.notify_follow_up_breach(incident)
        return 1


def overdue_action_items(today):
    """Open action items due before ``today`` whose owner was not reminded yet (partial index
    ``action_item_reminder_due``); those of cancelled incidents are left alone."""
    return ActionItem.objects.filter(state=ActionItemState.OPEN, reminded_at__isnull=True, due_date__lt=today).exclude(
        incident__state=IncidentState.CANCELLED
    )


def _remind_action_item(pk: int, now: datetime) -> int:
    with transaction.atomic():
        claimed = ActionItem.objects.filter(pk=pk, state=ActionItemState.OPEN, reminded_at__isnull=True).update(
            reminded_at=now
        )
        if not claimed:
            return 0
        item = ActionItem.objects.select_related("owner", "incident").get(pk=pk)
        notify.notify_action_item_overdue(item)
        return 1


def status_updates_due(now: datetime):
    """Open major incidents whose next status update is due (partial index ``incident_status_update_due``)."""
    return Incident.objects.filter(major=True, state__in=OPEN_STATES, status_update_due__lte=now)


def _remind_status_update(pk: int, due: datetime, now: datetime) -> int:
    """Remind once for the interval that ended at ``due``; the next reminder is one interval later
    (or one interval from now, after a long gap, so missed minutes never send a burst)."""
    interval = status_update_interval()
    following = due + interval
    if following <= now:
        following = now + interval
    with transaction.atomic():
        claimed = Incident.objects.filter(
            pk=pk, major=True, state__in=OPEN_STATES, status_update_due=due
        ).update(status_update_due=following, updated_at=now)
        if not claimed:
            return 0
        incident = Incident.objects.select_related("team", "service", "assignee").get(pk=pk)
        notify.notify_status_update_due(incident, since=due - interval, key=due.isoformat())
        return 1


def sweep(now: datetime | None = None) -> dict[str, int]:
    """The process part of the SLA sweep; returns what this run did."""
    now = now or timezone.now()
    done = {"follow_up_breached": 0, "action_items_reminded": 0, "status_updates_reminded": 0}
    for pk in follow_up_breaches(now).order_by("follow_up_due").values_list("pk", flat=True):
        done["follow_up_breached"] += _flag_follow_up(pk, now)
    for pk in overdue_action_items(timezone.localdate(now)).order_by("due_date").values_list("pk", flat=True):
        done["action_items_reminded"] += _remind_action_item(pk, now)
    for pk, due in status_updates_due(now).order_by("status_update_due").values_list("pk", "status_update_due"):
        done["status_updates_reminded"] += _remind_status_update(pk, due, now)
    return done
