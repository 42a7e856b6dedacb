"""The two checks every incident write starts with: the permission, and that the user may see the incident.

``by`` None is the system (sweeps, rules), which may do everything.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from .selectors import incident_visible_to


def require_perm(by, perm: str, message: str) -> None:
    """PermissionDenied (403) unless ``by`` is an active user holding ``perm``."""
    if by is None:
        return
    if not by.is_authenticated or not by.is_active or not by.has_perm(perm):
        raise PermissionDenied(message)


def require_visible(by, incident) -> None:
    """PermissionDenied unless ``by`` may see ``incident`` (confidential ones, §6)."""
    if by is not None and not incident_visible_to(by, incident):
        raise PermissionDenied(f"You may not see {incident.number}.")
