"""Web-view helpers shared by the apps: domain errors as form errors and messages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied

from .exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed


def add_domain_errors(form, exc: DomainValidationError) -> None:
    """Put a service's field errors on the form (unknown fields become non-field errors)."""
    for field, errors in exc.errors.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def run_action(request, action, *, success: str | None = None) -> bool:
    """Call ``action()``; report refusals as messages. Returns True when it ran.

    ``PermissionDenied`` is re-raised (the 403 page); a refused transition or a
    concurrent update becomes an error message; bad input too, when no form shows it.
    """
    try:
        action()
    except PermissionDenied:
        raise
    except (TransitionNotAllowed, ConcurrentUpdate) as exc:
        messages.error(request, exc.message)
        return False
    except DomainValidationError as exc:
        messages.error(request, " ".join(" ".join(v) for v in exc.errors.values()))
        return False
    if success:
        messages.success(request, success)
    return True
