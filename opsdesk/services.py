"""Writes of the kernel: archiving teams and services (§6: never hard-deleted).

An archived team or service (``active`` false) keeps every incident, change and release that
points at it, and its name in their history; it leaves every choice list (forms, the API's
writes, new records), so nothing new is logged against it. Restoring is setting ``active``
again (admin or API ``PATCH``).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from .exceptions import DomainValidationError
from .models import Service, Team


def _require(by, perm: str, message: str) -> None:
    if by is not None and not by.has_perm(perm):
        raise PermissionDenied(message)


def _archive(model, pk: int):
    locked = model.objects.select_for_update().get(pk=pk)
    if locked.active:
        locked.active = False
        locked.save(update_fields=["active"])
    return locked


@transaction.atomic
def team_archive(*, team: Team, by) -> Team:
    """Archive a team (needs ``opsdesk.delete_team``, the permission a delete would need)."""
    _require(by, "opsdesk.delete_team", "You may not archive teams.")
    return _archive(Team, team.pk)


@transaction.atomic
def service_archive(*, service: Service, by) -> Service:
    """Archive a service (needs ``opsdesk.delete_service``)."""
    _require(by, "opsdesk.delete_service", "You may not archive services.")
    return _archive(Service, service.pk)


def refuse_archived(**named) -> None:
    """400 naming each field whose team or service (or one of a list of them) is archived:
    new records and new links never point at an archived one."""
    errors = {}
    for field, value in named.items():
        values = value if isinstance(value, (list, tuple, set)) else [value]
        archived = [str(v) for v in values if v is not None and getattr(v, "active", True) is False]
        if archived:
            errors[field] = f"Archived: {', '.join(archived)}. Choose an active one."
    if errors:
        raise DomainValidationError(errors)
