"""The weekly report: the last 7 days' metrics against the 7 days before, as plain text."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.urls import reverse

from .definitions import GROUPS, METRIC_KEYS, METRICS, compute, flatten
from .formatting import compare, format_value
from .insights import insights

REPORT_INSIGHTS = 10

GROUP_TITLES = {"incidents": "Incidents", "changes": "Changes", "releases": "Releases", "dora": "DORA",
                "automation": "Automation"}


def weekly_report_text(*, today: date) -> tuple[str, str]:
    """(subject, body) for the week ``[today − 7, today)`` vs ``[today − 14, today − 7)``.

    Only figures appear, never an incident's number or title (confidential
    incidents are counted, not named).
    """
    start = today - timedelta(days=7)
    previous_start = start - timedelta(days=7)
    current = flatten(compute(start, today))
    previous = flatten(compute(previous_start, start))
    last_day = today - timedelta(days=1)
    iso_year, iso_week, _ = today.isocalendar()
    subject = f"OpsDesk weekly metrics {iso_year}-W{iso_week:02d}: {start:%d %b} – {last_day:%d %b %Y}"
    label_width = max(len(m.label) for m in METRICS.values())
    lines = [
        f"OpsDesk process metrics for {start.isoformat()} – {last_day.isoformat()}",
        f"compared with {previous_start.isoformat()} – {(start - timedelta(days=1)).isoformat()}.",
        "",
        "What changed",
        "------------",
    ]
    found = insights(start, today, limit=REPORT_INSIGHTS)
    lines += [f"  {'▲' if i['direction'] == 'worse' else '▼'} {i['text']}" for i in found] or [
        "  No notable change (a change counts with at least "
        f"{settings.OPSDESK_INSIGHT_MIN_SAMPLE} items in each week)."
    ]
    lines.append("")
    for group in GROUPS:
        lines.append(GROUP_TITLES[group])
        lines.append("-" * len(GROUP_TITLES[group]))
        for key in METRIC_KEYS:
            metric = METRICS[key]
            if metric.group != group:
                continue
            change = compare(key, current[key], previous[key])
            before = format_value(key, previous[key])
            lines.append(
                f"  {metric.label:<{label_width}}  {format_value(key, current[key]):>16}"
                f"   (before: {before}{', ' + str(change) if str(change) else ''})"
            )
        lines.append("")
    dashboard = settings.OPSDESK_BASE_URL.rstrip("/") + reverse("metrics:dashboard")
    lines += [
        "— means no data in the period. Definitions: docs/metrics.md.",
        f"Dashboard: {dashboard}?from={start.isoformat()}&to={today.isoformat()}",
    ]
    return subject, "\n".join(lines) + "\n"
