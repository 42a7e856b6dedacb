"""Writes of major incidents and status updates (§2.1).

A major incident is declared at creation or later by an Incident Manager; while
it is open a banner names it on every page (``incidents.context_processors``)
and the sweep reminds when it has had no status update for
``OPSDESK_STATUS_UPDATE_MINUTES``. Status updates are internal, or emailed to the
service's ``stakeholder_emails``.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from opsdesk.exceptions import DomainValidationError, TransitionNotAllowed
from opsdesk.workflow import log_transition

from . import notify, process, steps
from .choices import IncidentState, StatusAudience, StepKey
from .guards import require_perm as _require
from .guards import require_visible
from .models import Incident, StatusUpdate

ADD_UPDATE_PERM = "incidents.add_statusupdate"


def _locked(incident: Incident, by) -> Incident:
    locked = Incident.objects.select_for_update(of=("self",)).select_related("team", "service").get(pk=incident.pk)
    require_visible(by, locked)
    return locked


@transaction.atomic
def incident_declare_major(*, incident: Incident, by, comment: str = "", at: datetime | None = None) -> Incident:
    """Declare ``incident`` a major incident (needs ``incidents.declare_major_incident``).

    Not once it is closed or cancelled, nor twice (409). Logged as a
    ``declare_major`` event, announced at the immediate level; the first status
    update is due one interval later.
    """
    _require(by, process.DECLARE_MAJOR_PERM, "You may not declare major incidents.")
    locked = _locked(incident, by)
    if locked.state in (IncidentState.CLOSED, IncidentState.CANCELLED):
        raise TransitionNotAllowed(
            f"{locked.number} is {locked.get_state_display().lower()}: it cannot become a major incident."
        )
    if locked.major:
        raise TransitionNotAllowed(f"{locked.number} is already a major incident.")
    at = at or timezone.now()
    process.mark_major(locked, at=at)
    locked.save(update_fields=["major", "major_declared_at", "status_update_due", "updated_at"])
    log_transition(
        obj=locked, name="declare_major", from_state=locked.state, to_state=locked.state, by=by,
        comment=comment.strip() or "declared a major incident", at=at,
    )
    notify.notify_major_declared(locked, by=by)
    return locked


@transaction.atomic
def status_update_add(
    *, incident: Incident, by, body: str, audience: str = StatusAudience.INTERNAL, at: datetime | None = None
) -> StatusUpdate:
    """Post a status update (needs ``incidents.add_statusupdate``; ``by`` is the author).

    ``stakeholders`` updates are emailed to the service's ``stakeholder_emails``;
    a confidential incident's updates stay internal (400). Not on a closed or
    cancelled incident (409). The first stakeholder update shows the step
    ``stakeholder_communication`` done; a major incident's next update is due one
    interval later.
    """
    _require(by, ADD_UPDATE_PERM, "You may not post status updates.")
    if by is None or not by.is_authenticated:
        raise PermissionDenied("A status update needs an author.")
    locked = _locked(incident, by)
    if locked.state in (IncidentState.CLOSED, IncidentState.CANCELLED):
        raise TransitionNotAllowed(
            f"{locked.number} is {locked.get_state_display().lower()}: no more status updates."
        )
    errors = {}
    body = (body or "").strip()
    if not body:
        errors["body"] = "Write the update."
    if audience not in StatusAudience.values:
        errors["audience"] = f"Choose an audience: {', '.join(StatusAudience.values)}."
    elif audience == StatusAudience.STAKEHOLDERS and locked.confidential:
        errors["audience"] = "A confidential incident's updates stay internal: its stakeholders may not see it."
    if errors:
        raise DomainValidationError(errors)
    at = at or timezone.now()
    update = StatusUpdate.objects.create(incident=locked, body=body, audience=audience, author=by, created_at=at)
    if locked.major:
        Incident.objects.filter(pk=locked.pk).update(
            status_update_due=at + process.status_update_interval(), updated_at=timezone.now()
        )
    if audience == StatusAudience.STAKEHOLDERS:
        steps.observe(locked.pk, [StepKey.STAKEHOLDER_COMMUNICATION], by=by, at=at)
        notify.notify_stakeholders(update)
    return update
