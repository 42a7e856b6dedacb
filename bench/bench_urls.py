"""OpsDesk's URLs plus the references bench/run measures beside them (bench/run only)."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import path

from incidents.models import Incident
from opsdesk.urls import handler403  # noqa: F401
from opsdesk.urls import urlpatterns as opsdesk_urlpatterns

FIELDS = [
    "id", "number", "title", "severity", "state", "service_id", "team_id", "assignee_id", "detected_at",
    "acknowledged_at", "resolved_at", "response_due", "resolution_due", "response_breached", "resolution_breached",
    "escalation_level", "updated_at",
]


@login_required
def bare_values(request):
    """The same 50 rows as the list API's first page, straight from ``.values()`` (no count, no serializer)."""
    size = min(int(request.GET.get("page_size", 50)), 200)
    rows = list(Incident.objects.order_by("-detected_at", "-id").values(*FIELDS)[:size])
    return JsonResponse({"results": rows})


def _api_columns() -> list[str]:
    """The incident columns the list API shows (its fields that are columns; relations by their id)."""
    from incidents.api.serializers import IncidentSerializer

    columns = {f.name: f.attname for f in Incident._meta.concrete_fields}
    return [columns[name] for name in IncidentSerializer.Meta.fields if name in columns]


@login_required
def bare_values_api_columns(request):
    """The same 50 rows with every column the list API shows (for information beside ``bare_values``)."""
    size = min(int(request.GET.get("page_size", 50)), 200)
    rows = list(Incident.objects.order_by("-detected_at", "-id").values(*_api_columns())[:size])
    return JsonResponse({"results": rows})


@login_required
def layout_only(request):
    """OpsDesk's base layout (navigation, messages, static assets) around an empty page: what the
    peer's ticket list shell is, a page without its rows."""
    return render(request, "base.html", {})


urlpatterns = [
    path("bench/values/", bare_values),
    path("bench/values-api-columns/", bare_values_api_columns),
    path("bench/layout/", layout_only),
    *opsdesk_urlpatterns,
]
