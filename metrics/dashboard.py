"""What the dashboard shows: headline figures against the previous period, and the charts.

Every figure is computed with the definitions of ``metrics.definitions`` (past days from the rollups,
today and the stale days from the rows: exact, including "now"-dependent metrics such as the resolution
rate, which a nightly snapshot would freeze). The two periods and every chart bucket are spans of one
``_figures_many`` call, so each source is read once for the whole page (``figures``); the incidents by
severity are one grouped query. The number of queries does not depend on the period or the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from django.urls import reverse

from incidents.choices import Severity

from .charts import Series, line_chart, stacked_bar_chart
from .definitions import (
    GROUPS,
    METRIC_KEYS,
    METRICS,
    Filters,
    Window,
    _figures_many,
    buckets,
    incident_counts_by_severity,
)
from .formatting import compare, format_duration, format_value
from .report import GROUP_TITLES

SEVERITY_COLORS = {"critical": "#b02a37", "high": "#fd7e14", "medium": "#ffc107", "low": "#6c757d"}


def chart_interval(start: date, end: date) -> str:
    days = (end - start).days
    if days <= 14:
        return "day"
    if days <= 200:
        return "week"
    return "month"


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def _csv_url(metric: str, interval: str, start: date, end: date, filters: dict, **extra) -> str:
    query = {"metric": metric, "interval": interval, "from": start.isoformat(), "to": end.isoformat()}
    query.update({k: v for k, v in {**filters, **extra}.items() if v})
    query["format"] = "csv"
    return f"{reverse('metrics-timeseries')}?{urlencode(query)}"


@dataclass(frozen=True)
class Figures:
    """Everything the page shows of ``[start, end)``: both periods' figures and the chart buckets'."""

    start: date
    end: date
    filters: dict
    previous_start: date
    current: dict
    previous: dict
    interval: str
    rows: list[dict]


def figures(start: date, end: date, filters: dict) -> Figures:
    """The previous period, this one and the chart buckets as spans of one ``_figures_many`` call."""
    previous_start = start - (end - start)
    interval = chart_interval(start, end)
    spans = buckets(start, end, interval)
    # The earliest span first and the latest last: the sources read the days between once.
    windows = [Window(previous_start, start), Window(start, end), *(w for _, w in spans)]
    keys = set(METRIC_KEYS)
    previous, current, *per_bucket = _figures_many(windows, Filters.of(filters), keys)
    rows = [
        {"bucket": label.isoformat(), "values": values}
        for (label, _), values in zip(spans, per_bucket, strict=True)
    ]
    return Figures(start, end, filters, previous_start, current, previous, interval, rows)


def headline(data: Figures) -> tuple[date, list[dict]]:
    """Every metric of the period with the previous period of equal length; (previous start, groups)."""
    current, previous = data.current, data.previous
    groups = []
    for group in GROUPS:
        items = []
        for key in METRIC_KEYS:
            metric = METRICS[key]
            if metric.group != group:
                continue
            items.append({
                "key": key,
                "label": metric.label,
                "definition": metric.definition,
                "value": format_value(key, current[key]),
                "previous": format_value(key, previous[key]),
                "change": compare(key, current[key], previous[key]),
            })
        groups.append({"name": group, "title": GROUP_TITLES[group], "metrics": items})
    return data.previous_start, groups


def _table(labels, columns: list[tuple[str, list, callable]]) -> dict:
    return {
        "headers": ["Bucket", *(name for name, _, _ in columns)],
        "rows": [
            [label, *(("—" if values[i] is None else fmt(values[i])) for _, values, fmt in columns)]
            for i, label in enumerate(labels)
        ],
    }


def charts(data: Figures) -> tuple[str, list[dict]]:
    """(interval, charts): each chart has a title, its SVG, a plain table and CSV links."""
    start, end, filters, interval, rows = data.start, data.end, data.filters, data.interval, data.rows
    labels = [row["bucket"] for row in rows]

    def values(key):
        return [row["values"][key] for row in rows]

    def link(key, **extra):
        return _csv_url(key, interval, start, end, filters, **extra)

    result = []

    by_severity = incident_counts_by_severity(interval, start, end, filters)
    severities = [s for s in Severity.values if not filters.get("severity") or s == filters["severity"]]
    sev_series = [
        Series(Severity(s).label, SEVERITY_COLORS[s], [b["counts"][s] for b in by_severity])
        for s in reversed(severities)
    ]
    title = f"Incidents per {interval} by severity"
    result.append({
        "id": "incidents-by-severity",
        "title": title,
        "svg": stacked_bar_chart(labels, sev_series, title=title, counts=True),
        "table": _table(labels, [(s.name, list(s.values), str) for s in reversed(sev_series)]),
        "csv": [("all", link("incidents.count"))]
        + [(Severity(s).label, link("incidents.count", severity=s)) for s in severities],
    })

    mttr = values("incidents.mttr_seconds")
    title = "Mean time to resolve"
    result.append({
        "id": "mttr",
        "title": title,
        # Plotted in hours, so the axis gets round ticks; the table keeps exact durations.
        "svg": line_chart(
            labels, [Series("MTTR (hours)", "#0d6efd", [None if v is None else v / 3600 for v in mttr])],
            title=title, y_format=lambda v: f"{v:g} h",
        ),
        "table": _table(labels, [("MTTR", mttr, format_duration)]),
        "csv": [("MTTR", link("incidents.mttr_seconds"))],
    })

    pairs = [
        ("sla", "SLA compliance", [
            ("Response SLA met", "#198754", "incidents.response_sla_met_rate"),
            ("Resolution SLA met", "#0d6efd", "incidents.resolution_sla_met_rate"),
        ]),
        ("process", "Incident process", [
            ("Detection target met", "#6f42c1", "incidents.detection_sla_met_rate"),
            ("Follow-up target met", "#fd7e14", "incidents.follow_up_met_rate"),
            ("Process adherence", "#20c997", "incidents.process_adherence_rate"),
        ]),
        ("changes", "Change outcomes", [
            ("Success rate", "#198754", "changes.success_rate"),
            ("Rollback rate", "#dc3545", "changes.rollback_rate"),
        ]),
    ]
    for chart_id, title, lines in pairs:
        series = [Series(name, color, values(key)) for name, color, key in lines]
        result.append({
            "id": chart_id,
            "title": title,
            "svg": line_chart(labels, series, title=title, y_format=_percent, y_max=1.0),
            "table": _table(labels, [(s.name, list(s.values), _percent) for s in series]),
            "csv": [(name, link(key)) for name, _, key in lines],
        })

    frequency = values("dora.deployment_frequency_per_day")
    failure = values("dora.change_failure_rate")
    result.append({
        "id": "dora-frequency",
        "title": "Deployment frequency (DORA)",
        "svg": line_chart(labels, [Series("Deployments per day", "#6f42c1", frequency)],
                          title="Deployment frequency", y_format=lambda v: f"{v:.2g}"),
        "table": _table(labels, [("Deployments per day", frequency, lambda v: f"{v:.2f}")]),
        "csv": [("Deployment frequency", link("dora.deployment_frequency_per_day"))],
    })
    result.append({
        "id": "dora-failure",
        "title": "Change failure rate (DORA)",
        "svg": line_chart(labels, [Series("Change failure rate", "#dc3545", failure)],
                          title="Change failure rate", y_format=_percent, y_max=1.0),
        "table": _table(labels, [("Change failure rate", failure, _percent)]),
        "csv": [("Change failure rate", link("dora.change_failure_rate"))],
    })
    csat = values("incidents.csat_score")
    result.append({
        "id": "csat",
        "title": "Satisfaction (CSAT)",
        "svg": line_chart(labels, [Series("Mean rating (1–5)", "#0dcaf0", csat)],
                          title="Satisfaction", y_format=lambda v: f"{v:g}", y_max=5.0),
        "table": _table(labels, [("Mean rating", csat, lambda v: f"{v:.2f}")]),
        "csv": [("CSAT", link("incidents.csat_score")), ("Response rate", link("incidents.csat_response_rate"))],
    })
    return interval, result

