"""Kernel pages: the home page, the health check and the 403 page."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache

from .health import broker_status, database_status


@login_required
def home(request):
    """The desk's front page: where to go for each role."""
    from .selectors import desk_summary

    return render(request, "home.html", {"summary": desk_summary()})


def favicon(request):
    """``/favicon.ico`` (asked for by browsers on pages without an icon link, e.g. the admin)."""
    return redirect(static("favicon.svg"), permanent=True)


@never_cache
def healthz(request):
    """200 with the state of the database and the broker; 503 when either is down."""
    checks = {"database": database_status(connection), "broker": broker_status()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


def server_error(request):
    """500, except while the database is unreachable (an error raised outside a view, e.g. when
    the session is saved): then the same 503 with ``Retry-After`` as the middleware's."""
    import sys

    from django.views.defaults import server_error as default_server_error

    from .middleware import DATABASE_ERRORS, database_unavailable

    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable(request, exc)
    return default_server_error(request)


def permission_denied(request, exception=None):
    """A clear 403 page that says what was refused."""
    message = str(exception) if exception and str(exception) else None
    return render(request, "403.html", {"message": message}, status=403)
