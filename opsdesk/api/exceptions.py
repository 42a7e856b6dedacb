"""Maps the domain errors to HTTP once: 400 field errors, 403, 404, 409."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from opsdesk.exceptions import (
    AppendOnlyError,
    ConcurrentUpdate,
    DomainValidationError,
    TransitionNotAllowed,
)


def exception_handler(exc, context):
    if isinstance(exc, DomainValidationError):
        exc = ValidationError(exc.errors)
    elif isinstance(exc, DjangoValidationError):
        exc = ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied(str(exc) or None)
    elif isinstance(exc, TransitionNotAllowed):
        return Response(
            {"detail": exc.message, "missing": exc.missing}, status=status.HTTP_409_CONFLICT
        )
    elif isinstance(exc, ConcurrentUpdate):
        return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, AppendOnlyError):
        return Response({"detail": exc.message}, status=status.HTTP_403_FORBIDDEN)
    elif isinstance(exc, (OperationalError, InterfaceError)):
        from opsdesk.middleware import RETRY_AFTER_SECONDS

        return Response(
            {"detail": "The database is unreachable; try again in a moment."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    elif isinstance(exc, (ProtectedError, RestrictedError)):
        held = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
        return Response(
            {"detail": f"It cannot be deleted: {len(held)} record(s) still point at it."},
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, IntegrityError):
        return Response(
            {"detail": "This conflicts with a concurrent update. Reload and try again."},
            status=status.HTTP_409_CONFLICT,
        )
    return drf_exception_handler(exc, context)
