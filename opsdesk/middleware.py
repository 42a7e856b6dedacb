"""Answers for requests OpsDesk cannot serve: a body over the size limit (413) and an
unreachable database (503 with ``Retry-After``), in JSON on the API and as a page elsewhere,
never a traceback (§7)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader

logger = logging.getLogger("opsdesk.unavailable")

RETRY_AFTER_SECONDS = 30
DATABASE_ERRORS = (OperationalError, InterfaceError)


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def too_large(request) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    detail = f"The request body is larger than the limit of {limit} bytes."
    if is_api(request):
        return JsonResponse({"detail": detail}, status=413)
    return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")


def database_unavailable(request, exc: BaseException | None = None) -> HttpResponse:
    """503 with ``Retry-After``: JSON on the API, a plain page (rendered without the database) elsewhere."""
    logger.warning("Database unavailable for %s %s: %s", request.method, request.path,
                   type(exc).__name__ if exc else "-")
    detail = "The database is unreachable; try again in a moment."
    if is_api(request):
        response = JsonResponse({"detail": detail}, status=503)
    else:
        response = HttpResponse(loader.render_to_string("503.html", {"detail": detail}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class RequestLimitsMiddleware:
    """A body whose ``Content-Length`` is over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is refused with 413
    before anything reads it; a view that raises ``RequestDataTooBig`` (a chunked body) too.
    A database error anywhere in a view is a 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            return too_large(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig):
            return too_large(request)
        if isinstance(exception, DATABASE_ERRORS):
            return database_unavailable(request, exception)
        return None
