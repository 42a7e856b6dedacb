"""Insights (§5, the handbook's ``generate_insights``): what changed, per service and team, in plain words.

The period is compared with the one before it of equal length. For every service
and every team, and every metric below, the two values are computed with the
definitions of ``metrics.definitions``; a difference is an insight only when

- both periods have at least ``OPSDESK_INSIGHT_MIN_SAMPLE`` items behind the figure
  (default 5: no insight from 1 incident against 2), and
- it is large enough: rates by at least ``OPSDESK_INSIGHT_MIN_RATE_POINTS``
  (default 0.1 = 10 percentage points), every other figure by at least
  ``OPSDESK_INSIGHT_MIN_CHANGE`` of the previous value (default 0.2 = 20 %).

Insights that got worse come first, then improvements; within each, the larger
change first. Every figure comes from grouped aggregates: one query per metric
family and scope (incidents by service, by team; surveys by service, by team;
changes by service; deployments by service), both periods at once, plus one for
the names, whatever the number of services and teams. The incident, change and
deployment families read the rollups per service and team (``metrics.rollups``,
``metrics.daily``) for the days they cover, and the rows for the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db.models import Avg, Count, Exists, OuterRef, Q

from changes.choices import ChangeState
from incidents.choices import IncidentState
from incidents.models import Incident, SatisfactionSurvey
from opsdesk.models import Service, Team
from releases.choices import DeploymentStatus
from releases.models import Deployment

from . import daily, rollups
from .definitions import (
    HIGHER,
    METRICS,
    RATE,
    Filters,
    Window,
    _change_rows,
    _check_period,
    _duration,
    _incident_rows,
    _seconds,
    _share,
    local_today,
)
from .formatting import format_value

SERVICE, TEAM = "service", "team"


@dataclass(frozen=True)
class Figure:
    """How one insight metric is read from its family's grouped row: value and sample size per period."""

    metric: str
    family: str
    noun: str | None  # what the sample counts ("resolved incidents"); None: the value is the count itself

    def read(self, row: dict, period: str) -> tuple[float | None, int]:
        return READERS[self.metric](row, period)


FIGURES = [
    Figure("incidents.count", "incidents", None),
    Figure("incidents.mttr_seconds", "incidents", "resolved incidents"),
    Figure("incidents.mtta_seconds", "incidents", "acknowledged incidents"),
    Figure("incidents.response_sla_met_rate", "incidents", "incidents"),
    Figure("incidents.resolution_sla_met_rate", "incidents", "incidents"),
    Figure("incidents.csat_score", "surveys", "answered surveys"),
    Figure("changes.success_rate", "changes", "changes"),
    Figure("dora.change_failure_rate", "deployments", "deployments"),
]

READERS = {
    "incidents.count": lambda r, p: (r[f"{p}_count"], r[f"{p}_count"]),
    "incidents.mttr_seconds": lambda r, p: (_seconds(r[f"{p}_mttr"]), r[f"{p}_resolved"]),
    "incidents.mtta_seconds": lambda r, p: (_seconds(r[f"{p}_mtta"]), r[f"{p}_acknowledged"]),
    "incidents.response_sla_met_rate": lambda r, p: (_share(r[f"{p}_response_met"], r[f"{p}_count"]), r[f"{p}_count"]),
    "incidents.resolution_sla_met_rate": lambda r, p: (
        _share(r[f"{p}_resolution_met"], r[f"{p}_count"]), r[f"{p}_count"]
    ),
    "incidents.csat_score": lambda r, p: (
        float(r[f"{p}_score"]) if r[f"{p}_score"] is not None else None, r[f"{p}_answered"]
    ),
    "changes.success_rate": lambda r, p: (_share(r[f"{p}_completed"], r[f"{p}_count"]), r[f"{p}_count"]),
    "dora.change_failure_rate": lambda r, p: (
        _share(r[f"{p}_failed"] + r[f"{p}_succeeded_then_incident"], r[f"{p}_finished"]), r[f"{p}_finished"]
    ),
}

# Which families each kind of scope has (changes and deployments have no team).
FAMILIES = {SERVICE: ("incidents", "surveys", "changes", "deployments"), TEAM: ("incidents", "surveys")}


def _incidents_family(group: str, windows: dict[str, Window]) -> list[dict]:
    if rollups.enabled():
        return _incidents_family_rolled(group, windows)
    to_acknowledge = _duration("acknowledged_at", "detected_at")
    to_resolve = _duration("resolved_at", "detected_at")
    aggregates = {}
    either = Q()
    for period, window in windows.items():
        detected, resolved = window.contains("detected_at"), window.contains("resolved_at")
        acknowledged = detected & Q(acknowledged_at__isnull=False)
        either |= detected | resolved
        aggregates.update({
            f"{period}_count": Count("pk", filter=detected),
            f"{period}_acknowledged": Count("pk", filter=acknowledged),
            f"{period}_mtta": Avg(to_acknowledge, filter=acknowledged),
            f"{period}_resolved": Count("pk", filter=resolved),
            f"{period}_mttr": Avg(to_resolve, filter=resolved),
            f"{period}_response_met": Count("pk", filter=detected & Q(response_breached=False)),
            f"{period}_resolution_met": Count("pk", filter=detected & Q(resolution_breached=False)),
        })
    rows = _incident_rows(Filters()).filter(either, **{f"{group}__isnull": False})
    return list(rows.order_by().values(group).annotate(**aggregates))


def _surveys_family(group: str, windows: dict[str, Window]) -> list[dict]:
    aggregates = {}
    either = Q()
    for period, window in windows.items():
        resolved = window.contains("incident__resolved_at") & Q(answer__isnull=False)
        either |= window.contains("incident__resolved_at")
        aggregates.update({
            f"{period}_answered": Count("answer", filter=resolved),
            f"{period}_score": Avg("answer__rating", filter=resolved),
        })
    key = f"incident__{group}"
    rows = SatisfactionSurvey.objects.exclude(incident__state=IncidentState.CANCELLED).filter(
        either, **{f"{key}__isnull": False}
    )
    return [{group: row.pop(key), **row} for row in rows.order_by().values(key).annotate(**aggregates)]


def _mean_us(total_us: int, n: int) -> int | None:
    return round(total_us / n) if n else None  # microseconds, as ``_seconds`` reads a bare number


def _incidents_family_rolled(group: str, windows: dict[str, Window]) -> list[dict]:
    """``_incidents_family`` from the incident rollups per service or team (``rollups.scope_totals``)."""
    rows = []
    for scope_id, per_span in rollups.scope_totals(group, list(windows.values()), local_today()).items():
        row = {group: scope_id}
        for period, t in zip(windows, per_span, strict=True):
            row.update({
                f"{period}_count": t["detected"],
                f"{period}_acknowledged": t["acknowledged"],
                f"{period}_mtta": _mean_us(t["ack_us"], t["acknowledged"]),
                f"{period}_resolved": t["resolved"],
                f"{period}_mttr": _mean_us(t["resolve_us"], t["resolved"]),
                f"{period}_response_met": t["response_met"],
                f"{period}_resolution_met": t["resolution_met"],
            })
        rows.append(row)
    return rows


def _delivery_rolled(family: str, windows: dict[str, Window], columns: dict[str, str]) -> list[dict]:
    """Rows per service from the delivery rollups: ``columns`` maps a row column to the family's sum."""
    rows = []
    per_service = daily.sums_by_service({family: list(columns.values())}, list(windows.values()), local_today())
    for service, per_span in per_service.items():
        row = {SERVICE: service}
        for period, sums in zip(windows, per_span, strict=True):
            row.update({f"{period}_{col}": sums[family].get(name, 0) for col, name in columns.items()})
        rows.append(row)
    return rows


def _changes_family(group: str, windows: dict[str, Window]) -> list[dict]:
    if rollups.enabled():
        return _delivery_rolled("change_finished", windows, {"count": "finished", "completed": "completed"})
    states = Q(state__in=[ChangeState.COMPLETED, ChangeState.FAILED, ChangeState.ROLLED_BACK])
    aggregates = {}
    either = Q()
    for period, window in windows.items():
        finished = window.contains("actual_end") & states
        either |= finished
        aggregates.update({
            f"{period}_count": Count("pk", filter=finished),
            f"{period}_completed": Count("pk", filter=finished & Q(state=ChangeState.COMPLETED)),
        })
    rows = _change_rows(Filters()).filter(either, services__isnull=False)
    return [{SERVICE: row.pop("services"), **row} for row in rows.order_by().values("services").annotate(**aggregates)]


def _deployments_family(group: str, windows: dict[str, Window]) -> list[dict]:
    if rollups.enabled():
        return _delivery_rolled("deployment", windows, {
            "finished": "finished", "failed": "failed", "succeeded_then_incident": "succeeded_then_incident"})
    caused = Exists(
        Incident.objects.exclude(state=IncidentState.CANCELLED).filter(caused_by_release=OuterRef("release"))
    )
    aggregates = {}
    either = Q()
    for period, window in windows.items():
        finished = window.contains("finished_at")
        either |= finished
        aggregates.update({
            f"{period}_finished": Count("pk", filter=finished),
            f"{period}_failed": Count("pk", filter=finished & Q(status=DeploymentStatus.FAILED)),
            f"{period}_succeeded_then_incident": Count(
                "pk", filter=finished & Q(status=DeploymentStatus.SUCCEEDED) & Q(caused)
            ),
        })
    rows = Deployment.objects.filter(
        either, status__in=[DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED], release__services__isnull=False
    )
    return [
        {SERVICE: row.pop("release__services"), **row}
        for row in rows.order_by().values("release__services").annotate(**aggregates)
    ]


FAMILY_QUERIES = {
    "incidents": _incidents_family,
    "surveys": _surveys_family,
    "changes": _changes_family,
    "deployments": _deployments_family,
}


def _percent(change: float) -> str:
    return f"{change * 100:+.0f} %".replace("-", "−")


def _sentence(figure: Figure, scope_name: str, scope_kind: str, value, previous, change, sample: int) -> str:
    metric = METRICS[figure.metric]
    where = f"on {scope_name}" if scope_kind == SERVICE else f"for team {scope_name}"
    verb = "rose" if value > previous else "fell"
    if metric.unit == RATE:
        amount = f"{(value - previous) * 100:+.1f} pp".replace("-", "−")
    else:
        amount = _percent(change)
    over = f" over {sample} {figure.noun}" if figure.noun else ""
    return (
        f"{metric.label} {where} {verb} from {format_value(figure.metric, previous)} "
        f"to {format_value(figure.metric, value)} ({amount}){over}."
    )


def _notable(figure: Figure, value, previous) -> tuple[bool, float]:
    """(is it news, how large): rates by points, everything else relative to the previous value."""
    if METRICS[figure.metric].unit == RATE:
        size = abs(value - previous)
        return size >= settings.OPSDESK_INSIGHT_MIN_RATE_POINTS, size * 2  # 10 pp weigh like 20 %
    if previous == 0:
        return False, 0.0
    size = abs(value - previous) / abs(previous)
    return size >= settings.OPSDESK_INSIGHT_MIN_CHANGE, size


def insights(
    period_from: date, period_to: date, *, service: int | None = None, team: int | None = None,
    limit: int | None = None,
) -> list[dict]:
    """The notable differences between ``[from, to)`` and the period before it, most important first.

    ``[{"metric", "scope": {"service"|"team": id}, "scope_name", "value", "previous", "change",
    "sample", "previous_sample", "direction", "text"}]``; ``change`` is relative,
    ``(value − previous) ÷ previous`` (null when the previous value is 0). With ``service``
    only that service's insights, with ``team`` only that team's.
    """
    _check_period(period_from, period_to)
    previous_from = period_from - (period_to - period_from)
    windows = {"cur": Window(period_from, period_to), "prev": Window(previous_from, period_from)}
    min_sample = settings.OPSDESK_INSIGHT_MIN_SAMPLE
    kinds = [SERVICE, TEAM]
    if service and not team:
        kinds = [SERVICE]
    elif team and not service:
        kinds = [TEAM]
    rows: dict[tuple[str, str], list[dict]] = {
        (kind, family): FAMILY_QUERIES[family](kind, windows) for kind in kinds for family in FAMILIES[kind]
    }
    names = {
        SERVICE: dict(Service.objects.values_list("pk", "name")) if SERVICE in kinds else {},
        TEAM: dict(Team.objects.values_list("pk", "name")) if TEAM in kinds else {},
    }
    wanted = {SERVICE: service, TEAM: team}
    found = []
    for (kind, family), family_rows in rows.items():
        for row in family_rows:
            scope_id = row[kind]
            if wanted[kind] and scope_id != wanted[kind]:
                continue
            for figure in (f for f in FIGURES if f.family == family):
                value, sample = figure.read(row, "cur")
                previous, previous_sample = figure.read(row, "prev")
                if value is None or previous is None or min(sample, previous_sample) < min_sample:
                    continue
                news, size = _notable(figure, value, previous)
                if not news:
                    continue
                change = (value - previous) / previous if previous else None
                better = METRICS[figure.metric].better
                worse = (value < previous) if better == HIGHER else (value > previous)
                name = names[kind].get(scope_id, f"#{scope_id}")
                found.append({
                    "metric": figure.metric,
                    "scope": {kind: scope_id},
                    "scope_name": name,
                    "value": value,
                    "previous": previous,
                    "change": change,
                    "sample": sample,
                    "previous_sample": previous_sample,
                    "direction": "worse" if worse else "better",
                    "text": _sentence(figure, name, kind, value, previous, change, sample),
                    "_rank": (0 if worse else 1, -size, figure.metric, kind, scope_id),
                })
    found.sort(key=lambda item: item["_rank"])
    for item in found:
        del item["_rank"]
    return found[:limit] if limit else found
