"""Domain errors a user can cause; mapped once to form errors and HTTP status codes.

- ``DomainValidationError`` → 400 (field errors)
- ``PermissionDenied`` (Django's) → 403
- ``TransitionNotAllowed`` and ``ConcurrentUpdate`` → 409
"""

from __future__ import annotations


class OpsDeskError(Exception):
    """Base of the errors a user can cause."""

    def __init__(self, message: str = "", **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra


class DomainValidationError(OpsDeskError):
    """Bad input: ``errors`` maps field names (or ``non_field_errors``) to messages."""

    def __init__(self, errors: dict[str, str | list[str]] | str):
        if isinstance(errors, str):
            errors = {"non_field_errors": [errors]}
        self.errors = {k: v if isinstance(v, list) else [v] for k, v in errors.items()}
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()))


class TransitionNotAllowed(OpsDeskError):
    """The transition is not possible now: wrong state, or a gate whose needs are ``missing``."""

    def __init__(self, message: str, missing: list[str] | None = None):
        super().__init__(message, missing=missing or [])
        self.missing = missing or []


class ConcurrentUpdate(OpsDeskError):
    """Someone else changed the object since the user looked at it."""


class AppendOnlyError(OpsDeskError):
    """An attempt to edit or delete an append-only record."""
