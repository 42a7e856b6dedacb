"""The service pages of the metrics section: every service's availability, and one service over time.

Both read ``metrics.availability`` (the figures of ``GET /api/v1/metrics/services/``)
and the definitions of ``metrics.definitions``; the charts are the dashboard's
inline SVG (no JavaScript, no CDN).
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from crispy_forms.layout import Column, Layout, Row, Submit
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from changes.choices import ChangeState
from changes.models import ChangeRequest
from incidents.choices import Severity
from incidents.selectors import incident_list
from opsdesk.models import Service

from .availability import availability_series, service_figures, service_report
from .charts import Series, line_chart, stacked_bar_chart
from .dashboard import SEVERITY_COLORS, chart_interval
from .definitions import Window, buckets, incident_counts_by_severity, local_today, timeseries_many
from .formatting import format_duration
from .forms import DEFAULT_DAYS, PRESET_DAYS, DashboardForm

VIEW_METRICS = "metrics.view_metricsnapshot"
LISTED = 20


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


class PeriodForm(DashboardForm):
    """The dashboard's period (a preset or a custom ``[from, to)``) without its filters."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("service", "team", "severity"):
            del self.fields[name]
        self.helper.layout = Layout(Row(
            Column("start", css_class="col-sm-5 col-lg-3"),
            Column("end", css_class="col-sm-5 col-lg-3"),
            Column(Submit("apply", "Show", css_class="mt-sm-4"), css_class="col-sm-2"),
        ))


def _period(request):
    """(form, start, end, presets, active days) for the page's period (presets or from/to)."""
    data = {k: v for k, v in request.GET.items() if k in ("days", "from", "to", "start", "end")}
    form = PeriodForm(data or {"days": str(DEFAULT_DAYS)}, today=local_today())
    presets = [{"days": d, "url": "?" + urlencode({"days": d})} for d in PRESET_DAYS]
    if not form.is_valid():
        return form, None, None, presets, None
    custom = any(request.GET.get(name) for name in ("from", "to", "start", "end"))
    active = None if custom else (form.cleaned_data.get("days") or DEFAULT_DAYS)
    return form, form.cleaned_data["start"], form.cleaned_data["end"], presets, active


def _require(request) -> None:
    if not request.user.has_perm(VIEW_METRICS):
        raise PermissionDenied("Your role does not include viewing metrics.")


def _period_context(start: date, end: date) -> dict:
    return {"start": start, "end": end, "last_day": end - timedelta(days=1), "days": (end - start).days}


@login_required
def service_index(request):
    """Every service: availability, downtime, incidents, changes, change failure rate for the period."""
    _require(request)
    form, start, end, presets, active = _period(request)
    context = {"form": form, "presets": presets, "active_days": active}
    if start is not None:
        query = urlencode({"from": start.isoformat(), "to": end.isoformat()})
        context.update(_period_context(start, end))
        context["rows"] = [
            {**row, "availability_text": _fmt_availability(row["availability"]),
             "downtime_text": format_duration(row["downtime_seconds"]),
             "failure_text": _fmt_rate(row["change_failure_rate"])}
            for row in service_report(start, end)
        ]
        context["query"] = query
        context["csv"] = reverse("metrics-services") + f"?{query}&format=csv"
    return render(request, "metrics/service_list.html", context)


@login_required
def service_detail(request, pk: int):
    """One service over the period: its figures against the previous period, charts, incidents and changes."""
    _require(request)
    service = get_object_or_404(Service.objects.select_related("owner_team"), pk=pk)
    form, start, end, presets, active = _period(request)
    context = {"service": service, "form": form, "presets": presets, "active_days": active}
    if start is None:
        return render(request, "metrics/service_detail.html", context, status=400)
    previous_start = start - (end - start)
    current = service_figures(start, end, services=[service.pk])[service.pk]
    previous = service_figures(previous_start, start, services=[service.pk])[service.pk]
    interval = chart_interval(start, end)
    spans = buckets(start, end, interval)
    labels = [label.isoformat() for label, _ in spans]
    filters = {"service": service.pk}
    series = timeseries_many(["changes.count", "dora.change_failure_rate"], interval, start, end, filters)
    by_severity = incident_counts_by_severity(interval, start, end, filters)
    uptime = availability_series(service.pk, spans)
    window = Window(start, end)
    incidents = (
        incident_list(user=request.user)
        .filter(service=service)
        .filter(window.contains("detected_at"))
        .order_by("-detected_at")[:LISTED]
    )
    changes = (
        ChangeRequest.objects.filter(services=service, actual_end__gte=window.start, actual_end__lt=window.end,
                                     state__in=[ChangeState.COMPLETED, ChangeState.FAILED, ChangeState.ROLLED_BACK])
        .order_by("-actual_end")[:LISTED]
    )
    sev_series = [
        Series(Severity(s).label, SEVERITY_COLORS[s], [b["counts"][s] for b in by_severity])
        for s in reversed(Severity.values)
    ]
    charts = [
        {"id": "availability", "title": "Availability",
         "svg": line_chart(labels, [Series("Availability", "#198754", uptime)], title="Availability",
                           y_format=_percent, y_max=1.0),
         "table": list(zip(labels, ["—" if v is None else _percent(v) for v in uptime], strict=True))},
        {"id": "incidents", "title": f"Incidents per {interval} by severity",
         "svg": stacked_bar_chart(labels, sev_series, title="Incidents by severity"),
         "table": list(zip(labels, [sum(b["counts"].values()) for b in by_severity], strict=True))},
        {"id": "changes", "title": f"Changes finished per {interval}",
         "svg": stacked_bar_chart(
             labels, [Series("Changes", "#0d6efd", [r["values"]["changes.count"] for r in series])],
             title="Changes finished"),
         "table": [(r["bucket"], r["values"]["changes.count"]) for r in series]},
        {"id": "change-failure-rate", "title": "Change failure rate (DORA)",
         "svg": line_chart(
             labels, [Series("Change failure rate", "#dc3545", [r["values"]["dora.change_failure_rate"]
                                                                for r in series])],
             title="Change failure rate", y_format=_percent, y_max=1.0),
         "table": [(r["bucket"], "—" if r["values"]["dora.change_failure_rate"] is None
                    else _percent(r["values"]["dora.change_failure_rate"])) for r in series]},
    ]
    context.update(_period_context(start, end))
    context.update({
        "previous_start": previous_start,
        "figures": [
            ("Availability", _fmt_availability(current["availability"]), _fmt_availability(previous["availability"])),
            ("Downtime (major or critical)", format_duration(current["downtime_seconds"]),
             format_duration(previous["downtime_seconds"])),
            ("Incidents", current["incidents"], previous["incidents"]),
            ("Major incidents", current["major_incidents"], previous["major_incidents"]),
            ("Changes finished", current["changes"], previous["changes"]),
            ("Change failure rate", _fmt_rate(current["change_failure_rate"]),
             _fmt_rate(previous["change_failure_rate"])),
        ],
        "interval": interval,
        "charts": charts,
        "incidents": incidents,
        "changes": changes,
        "listed": LISTED,
        "dashboard_url": reverse("metrics:dashboard") + "?" + urlencode(
            {"from": start.isoformat(), "to": end.isoformat(), "service": service.pk}),
    })
    return render(request, "metrics/service_detail.html", context)


def _fmt_rate(value) -> str:
    return "—" if value is None else _percent(value)


def _fmt_availability(value) -> str:
    """Availability with three decimals of a percent (99.861 %): the interesting part is near 100."""
    return "—" if value is None else f"{value * 100:.3f} %"
