"""Service availability (§5, the handbook's ``service_quality``): per service, in a few grouped queries.

``availability`` = 1 − (length of the union of the impact windows
``[started_at, resolved_at or now)`` of the service's ``major`` or ``critical``
incidents, clipped to the period) ÷ period length. The union is computed in SQL,
"gaps and islands": the windows of a service sorted by start; a window starts a
new island when it starts after every earlier window has ended (the running
``MAX(end)`` of the rows before it, a window function); the islands' lengths are
summed per service. Overlapping incidents therefore never count twice. The same
statement runs on SQLite (≥ 3.25) and PostgreSQL; only the names of
``greatest``/``least`` and of "seconds between" differ.

Next to it, per service and with the definitions of ``metrics.definitions``:
``incidents`` (``incidents.count``), ``major_incidents`` (those with ``major``),
``changes`` (``changes.count``) and ``change_failure_rate`` (``dora.change_failure_rate``),
each one grouped query for all services at once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from changes.choices import ChangeState
from incidents.choices import IncidentState, Severity
from incidents.models import Incident
from opsdesk.models import Service
from releases.choices import DeploymentStatus
from releases.models import Deployment

from .definitions import Filters, Window, _change_rows, _check_period, _incident_rows, _share

_VENDOR_SQL = {
    "postgresql": ("GREATEST", "LEAST", "EXTRACT(EPOCH FROM ({end} - {start}))"),
    "sqlite": ("MAX", "MIN", "((julianday({end}) - julianday({start})) * 86400.0)"),
}


def _union_sql(service_filter: str, *, islands: bool = False) -> str:
    greatest, least, seconds = _VENDOR_SQL[connection.vendor]
    qn = connection.ops.quote_name
    opts = Incident._meta
    table = qn(opts.db_table)

    def column(name: str) -> str:
        return qn(opts.get_field(name).column)

    service, started, resolved = column("service"), column("started_at"), column("resolved_at")
    length = seconds.format(start="island_start", end="island_end")
    final = (
        "SELECT service_id, island_start, island_end FROM islands ORDER BY service_id, island_start"
        if islands else f"SELECT service_id, SUM({length}) FROM islands GROUP BY service_id"  # noqa: S608
    )
    # Only quoted column names and fixed fragments are interpolated; every value is a parameter.
    return f"""
        WITH impact AS (
            SELECT {service} AS service_id,
                   {greatest}({started}, %(start)s) AS window_start,
                   {least}(COALESCE({resolved}, %(now)s), %(end)s) AS window_end
            FROM {table}
            WHERE {column("state")} <> %(cancelled)s
              AND ({column("major")} = %(true)s OR {column("severity")} = %(critical)s)
              AND {started} < %(end)s AND COALESCE({resolved}, %(now)s) > %(start)s
              {service_filter}
        ),
        marked AS (
            SELECT service_id, window_start, window_end,
                   CASE WHEN window_start <= MAX(window_end) OVER (
                            PARTITION BY service_id ORDER BY window_start, window_end
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                        THEN 0 ELSE 1 END AS starts_island
            FROM impact
            WHERE window_end > window_start
        ),
        numbered AS (
            SELECT service_id, window_start, window_end,
                   SUM(starts_island) OVER (
                       PARTITION BY service_id ORDER BY window_start, window_end
                       ROWS UNBOUNDED PRECEDING) AS island
            FROM marked
        ),
        islands AS (
            SELECT service_id, MIN(window_start) AS island_start, MAX(window_end) AS island_end
            FROM numbered
            GROUP BY service_id, island
        )
        {final}
    """  # noqa: S608


def _union_query(window: Window, now: datetime, service_ids: list[int] | None, *, islands: bool):
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "start": adapt(window.start),
        "end": adapt(window.end),
        "now": adapt(now),
        "cancelled": IncidentState.CANCELLED.value,
        "true": True,
        "critical": Severity.CRITICAL.value,
    }
    service_filter = ""
    if service_ids is not None:
        names = []
        for index, pk in enumerate(service_ids):
            params[f"service_{index}"] = int(pk)
            names.append(f"%(service_{index})s")
        column = connection.ops.quote_name(Incident._meta.get_field("service").column)
        service_filter = f"AND {column} IN ({', '.join(names)})"
    with connection.cursor() as cursor:
        cursor.execute(_union_sql(service_filter, islands=islands), params)
        return cursor.fetchall()


def downtime_seconds(window: Window, *, now: datetime, service_ids: list[int] | None = None) -> dict[int, float]:
    """Seconds of the union of impact windows within ``window``, per service id (one query).

    Services without any impact are absent from the answer.
    """
    if service_ids is not None and not service_ids:
        return {}
    rows = _union_query(window, now, service_ids, islands=False)
    return {service_id: float(seconds) for service_id, seconds in rows if seconds is not None}


def availability(window: Window, downtime: float, now: datetime) -> float | None:
    """1 − downtime ÷ period length; null for a period that has not begun (nothing measured)."""
    if window.start >= now:
        return None
    period = (window.end - window.start).total_seconds()
    return max(0.0, 1 - downtime / period)


def _grouped(rows, key: str, **aggregates) -> dict[int, dict]:
    return {row.pop(key): row for row in rows.order_by().values(key).annotate(**aggregates)}


def service_figures(
    period_from: date, period_to: date, *, services: list[int] | None = None, now: datetime | None = None
) -> dict[int, dict]:
    """The figures of ``GET /api/v1/metrics/services/`` per service id, for the given ids (all when None).

    Four grouped queries, whatever the number of services: downtime, incidents, changes, deployments.
    """
    _check_period(period_from, period_to)
    now = now or timezone.now()
    window = Window(period_from, period_to)
    downtime = downtime_seconds(window, now=now, service_ids=services)
    none = Filters()

    def only(rows, field):
        return rows if services is None else rows.filter(**{f"{field}__in": services})

    incidents = _grouped(
        only(_incident_rows(none).filter(window.contains("detected_at")), "service"),
        "service", count=Count("pk"), major=Count("pk", filter=Q(major=True)),
    )
    finished = window.contains("actual_end") & Q(
        state__in=[ChangeState.COMPLETED, ChangeState.FAILED, ChangeState.ROLLED_BACK]
    )
    changes = _grouped(only(_change_rows(none).filter(finished), "services"), "services", count=Count("pk"))
    caused = Exists(
        Incident.objects.exclude(state=IncidentState.CANCELLED).filter(caused_by_release=OuterRef("release"))
    )
    succeeded = Q(status=DeploymentStatus.SUCCEEDED)
    deployments = _grouped(
        only(
            Deployment.objects.filter(
                window.contains("finished_at"), status__in=[DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED]
            ),
            "release__services",
        ),
        "release__services",
        finished=Count("pk"),
        failed=Count("pk", filter=Q(status=DeploymentStatus.FAILED)),
        succeeded_then_incident=Count("pk", filter=succeeded & Q(caused)),
    )
    ids = services if services is not None else list(Service.objects.order_by("name").values_list("pk", flat=True))
    result = {}
    for pk in ids:
        seconds = downtime.get(pk, 0.0)
        incident_row = incidents.get(pk, {"count": 0, "major": 0})
        deployment_row = deployments.get(pk, {"finished": 0, "failed": 0, "succeeded_then_incident": 0})
        result[pk] = {
            "availability": availability(window, seconds, now),
            "downtime_seconds": seconds,
            "incidents": incident_row["count"],
            "major_incidents": incident_row["major"],
            "changes": changes.get(pk, {"count": 0})["count"],
            "change_failure_rate": _share(
                deployment_row["failed"] + deployment_row["succeeded_then_incident"], deployment_row["finished"]
            ),
        }
    return result


def service_report(
    period_from: date, period_to: date, *, service: int | None = None, team: int | None = None,
    now: datetime | None = None,
) -> list[dict]:
    """``[{"service", "name", "slug", "availability", "downtime_seconds", "incidents", "major_incidents",
    "changes", "change_failure_rate"}]`` per service (by name), optionally one service or a team's services."""
    rows = Service.objects.order_by("name")
    if service:
        rows = rows.filter(pk=service)
    if team:
        rows = rows.filter(owner_team=team)
    listed = list(rows.values("pk", "name", "slug"))
    figures = service_figures(period_from, period_to, services=[s["pk"] for s in listed], now=now)
    return [{"service": s["pk"], "name": s["name"], "slug": s["slug"], **figures[s["pk"]]} for s in listed]


def _instant(value) -> datetime:
    """A datetime from the raw cursor: aware on PostgreSQL, ``YYYY-MM-DD HH:MM:SS[.ffffff]`` text (UTC) on SQLite."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def availability_series(
    service: int, spans: list[tuple[date, Window]], *, now: datetime | None = None
) -> list[float | None]:
    """The availability of one service per bucket: the union's islands over the whole period in one
    query (SQL, as above), each island's overlap with each bucket added up here."""
    now = now or timezone.now()
    if not spans:
        return []
    whole = Window(spans[0][1].start_date, spans[-1][1].end_date)
    islands = [(_instant(s), _instant(e)) for _, s, e in _union_query(whole, now, [service], islands=True)]
    values = []
    for _, window in spans:
        start, end = window.start, window.end
        down = sum(max(0.0, (min(e, end) - max(s, start)).total_seconds()) for s, e in islands)
        values.append(availability(window, down, now))
    return values
