"""Writes of the post-incident review: action items (§2.1).

An action item is follow-up work with an owner and a due date; it is done or
cancelled, and may be carried out by a change (``action_item_link_change``, called
by the automation app's "raise a change", which may create changes: this app may not).
"""

from __future__ import annotations

from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from opsdesk.exceptions import DomainValidationError, TransitionNotAllowed

from . import notify, steps
from .choices import ActionItemState, IncidentState, StepKey
from .guards import require_perm as _require
from .guards import require_visible as _require_visible
from .models import ActionItem, Incident
from .selectors import incident_visible_to

ADD_PERM = "incidents.add_actionitem"
CHANGE_PERM = "incidents.change_actionitem"


def _person(by):
    return by if by is not None and by.is_authenticated else None


def may_complete(user, item: ActionItem) -> bool:
    """The owner completes their own item; holders of ``change_actionitem`` complete any."""
    if user is None:
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    return item.owner_id == user.pk or user.has_perm(CHANGE_PERM)


@transaction.atomic
def action_item_create(
    *, incident: Incident, by, title: str, owner, due_date: date, at: datetime | None = None
) -> ActionItem:
    """Add an action item to ``incident`` (needs ``incidents.add_actionitem``).

    The owner must be an active user who may see the incident; the due date may
    not be in the past. Not on a cancelled incident (409). Shows the step
    ``preventive_measures`` done, and tells the owner.
    """
    _require(by, ADD_PERM, "You may not add action items.")
    locked = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    _require_visible(by, locked)
    if locked.state == IncidentState.CANCELLED:
        raise TransitionNotAllowed(f"{locked.number} is cancelled: it has no review.")
    at = at or timezone.now()
    errors = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = "Say what is to be done."
    elif len(title) > 200:
        errors["title"] = "Keep the title to 200 characters or fewer."
    if owner is None:
        errors["owner"] = "Choose who owns the item."
    elif not owner.is_active:
        errors["owner"] = f"{owner.get_username()} is not an active user."
    elif not incident_visible_to(owner, locked):
        errors["owner"] = f"{owner.get_username()} may not see {locked.number}."
    if due_date is None:
        errors["due_date"] = "Give a due date."
    elif due_date < timezone.localdate(at):
        errors["due_date"] = "The due date cannot be in the past."
    if errors:
        raise DomainValidationError(errors)
    item = ActionItem.objects.create(
        incident=locked, title=title, owner=owner, due_date=due_date, created_by=_person(by), created_at=at
    )
    steps.observe(locked.pk, [StepKey.PREVENTIVE_MEASURES], by=by, at=at, note=f"Action item: {title}")
    notify.notify_action_item_owner(item, by=by)
    return item


def _locked_item(item: ActionItem) -> ActionItem:
    return ActionItem.objects.select_for_update(of=("self",)).select_related("incident", "owner").get(pk=item.pk)


@transaction.atomic
def action_item_complete(*, item: ActionItem, by, note: str = "", at: datetime | None = None) -> ActionItem:
    """Mark an open item done: its owner, or a holder of ``incidents.change_actionitem``."""
    locked = _locked_item(item)
    _require_visible(by, locked.incident)
    if not may_complete(by, locked):
        raise PermissionDenied("Only the item's owner or an Incident Manager may complete it.")
    if locked.state != ActionItemState.OPEN:
        raise TransitionNotAllowed(f"The action item is already {locked.get_state_display().lower()}.")
    locked.state = ActionItemState.DONE
    locked.closed_at = at or timezone.now()
    locked.closed_by = _person(by)
    locked.note = (note or "").strip()
    locked.save(update_fields=["state", "closed_at", "closed_by", "note"])
    return locked


@transaction.atomic
def action_item_cancel(*, item: ActionItem, by, reason: str, at: datetime | None = None) -> ActionItem:
    """Cancel an open item with a reason (needs ``incidents.change_actionitem``)."""
    _require(by, CHANGE_PERM, "You may not cancel action items.")
    locked = _locked_item(item)
    _require_visible(by, locked.incident)
    if locked.state != ActionItemState.OPEN:
        raise TransitionNotAllowed(f"The action item is already {locked.get_state_display().lower()}.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainValidationError({"reason": "Say why the item is cancelled."})
    locked.state = ActionItemState.CANCELLED
    locked.closed_at = at or timezone.now()
    locked.closed_by = _person(by)
    locked.note = reason
    locked.save(update_fields=["state", "closed_at", "closed_by", "note"])
    return locked


def lock_for_change(*, item: ActionItem, by) -> ActionItem:
    """Lock an item a change is about to be raised for; refuse (409) one that is closed or has a change.

    Call inside the transaction that creates the change and then calls
    ``action_item_link_change``: two concurrent requests raise one change.
    """
    locked = _locked_item(item)
    _require_visible(by, locked.incident)
    if locked.state != ActionItemState.OPEN:
        raise TransitionNotAllowed(
            f"The action item is {locked.get_state_display().lower()}: no change is raised for it."
        )
    if locked.change_id is not None:
        raise TransitionNotAllowed(
            f"A change was already raised for this action item: {locked.change.number}.", missing=[]
        )
    if locked.incident.state == IncidentState.CANCELLED:
        raise TransitionNotAllowed(f"{locked.incident.number} is cancelled.")
    return locked


@transaction.atomic
def action_item_link_change(*, item: ActionItem, change, by) -> ActionItem:
    """Record that ``change`` carries out the (locked, open) item."""
    locked = lock_for_change(item=item, by=by)
    locked.change = change
    locked.save(update_fields=["change"])
    return locked


def action_item_owner_choices(incident: Incident):
    """Active users who may own an item of ``incident`` (those who may see it)."""
    from .selectors import VIEW_ALL_CONFIDENTIAL

    users = get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    if not incident.confidential:
        return users
    from django.db.models import Q

    allowed = Q(is_superuser=True) | Q(groups__permissions__codename=VIEW_ALL_CONFIDENTIAL.split(".")[1])
    allowed |= Q(user_permissions__codename=VIEW_ALL_CONFIDENTIAL.split(".")[1])
    if incident.reporter_id:
        allowed |= Q(pk=incident.reporter_id)
    if incident.team_id:
        allowed |= Q(teams=incident.team_id) | Q(led_teams=incident.team_id)
    return users.filter(allowed).distinct()
