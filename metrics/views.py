"""The metrics dashboard (login required; needs metrics.view_metricsnapshot)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from . import dashboard
from .definitions import local_today
from .forms import DEFAULT_DAYS, PRESET_DAYS, DashboardForm
from .insights import insights

TOP_INSIGHTS = 5

VIEW_METRICS = "metrics.view_metricsnapshot"


@login_required
def metrics_dashboard(request):
    """Headline figures vs the previous period and the charts, for a preset or custom period."""
    if not request.user.has_perm(VIEW_METRICS):
        raise PermissionDenied("Your role does not include viewing metrics.")
    today = local_today()
    form = DashboardForm(request.GET or {"days": str(DEFAULT_DAYS)}, today=today)
    context = {"form": form, "presets": [], "today": today}
    filter_query = {k: v for k, v in request.GET.items() if k in ("service", "team", "severity") and v}
    for days in PRESET_DAYS:
        context["presets"].append({"days": days, "url": "?" + urlencode({"days": days, **filter_query})})
    custom = any(request.GET.get(name) for name in ("from", "to", "start", "end"))
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        filters = form.filters()
        figures = dashboard.figures(start, end, filters)
        previous_start, groups = dashboard.headline(figures)
        interval, charts = dashboard.charts(figures)
        context.update({
            "start": start,
            "end": end,
            "last_day": end - timedelta(days=1),
            "days": (end - start).days,
            "time_zone": timezone.get_default_timezone_name(),
            "previous_start": previous_start,
            "previous_last_day": start - timedelta(days=1),
            "groups": groups,
            "insights": insights(start, end, service=filters["service"], team=filters["team"], limit=TOP_INSIGHTS),
            "insight_min_sample": settings.OPSDESK_INSIGHT_MIN_SAMPLE,
            "insights_url": reverse("metrics-insights") + "?" + urlencode(
                {"from": start.isoformat(), "to": end.isoformat(),
                 **{k: v for k, v in filters.items() if v and k != "severity"}}
            ),
            "interval": interval,
            "charts": charts,
            "active_days": None if custom else (form.cleaned_data.get("days") or DEFAULT_DAYS),
            "summary_csv": reverse("metrics-summary") + "?" + urlencode(
                {"from": start.isoformat(), "to": end.isoformat(),
                 **{k: v for k, v in filters.items() if v}, "format": "csv"}
            ),
        })
    return render(request, "metrics/dashboard.html", context)
