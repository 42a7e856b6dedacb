"""The sources other than incidents as partial sums per local day: one ``GROUP BY`` query per family.

A *family* is a set of rows keyed by the local day of one of their moments (a change by its ``actual_end``,
a deployment by its ``finished_at``, …) and a few additive sums over them (counts, sums of microseconds,
histogram counts). Any period's figure is the sum over its days, so the summary (one span) and a series
(one span per bucket) read each family once, whatever the number of buckets.

The *delivery* families (changes, releases, deployments, lead time, changes and releases created) are also
stored per day and per service in ``DeliveryRollup`` (``metrics.rollups`` builds, refreshes and marks them
stale, like the incident rollups); the families of the incidents' own records (process steps, surveys,
automation runs) are small and always read live, filtered like the incidents.

Filters: the delivery families take the service filter only (``metrics.definitions``: changes, releases and
deployments have no team or severity); the incident families take all three.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce

from automation.choices import RunOutcome
from automation.models import AutomationRun
from changes.choices import ChangeState
from changes.models import ChangeRequest
from incidents.choices import IncidentState, StepState
from incidents.models import Incident, IncidentStep, SatisfactionSurvey
from releases.choices import DeploymentStatus
from releases.models import Deployment, Release

HIST = "hist"  # the column of a family's histogram (lead time): {bucket: count}


@dataclass(frozen=True)
class Family:
    """Rows narrowed to the filters, the moment that gives their day, and the sums per day.

    ``service``: for the delivery families (stored in ``DeliveryRollup``), the path to the services a row
    counts under; ``histogram``: the duration (µs) whose histogram is kept, for a median.
    """

    name: str
    day: str
    rows: Callable[[object], object]
    sums: Callable[[], dict]
    service: str | None = None
    histogram: Callable[[], object] | None = None

    @property
    def delivery(self) -> bool:
        return self.service is not None


def _sum(expression, condition=None):
    from .rollups import _sum

    return _sum(expression, condition)


def _micros(later: str, earlier: str):
    from .rollups import _micros

    return _micros(later, earlier)


FINISHED = [ChangeState.COMPLETED, ChangeState.FAILED, ChangeState.ROLLED_BACK]
DONE = [DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED]
NOT_CANCELLED = [state for state in ChangeState.values if state != ChangeState.CANCELLED]

# Each delivery family narrows to the service filter in the same ``filter()`` as its other conditions on
# the same relation, so that a join to many (a release's changes) is one join, not two.


def _changes(filters):
    rows = ChangeRequest.objects.exclude(state=ChangeState.CANCELLED)
    return rows.filter(services=filters.service) if filters.service else rows


def _changes_finished(filters):
    return _changes(filters).filter(state__in=FINISHED)


def _releases(filters):
    return Release.objects.filter(services=filters.service) if filters.service else Release.objects.all()


def _defects(filters):
    """The non-cancelled incidents caused by a completed release, by the release's completion day."""
    service = {"caused_by_release__services": filters.service} if filters.service else {}
    return Incident.objects.exclude(state=IncidentState.CANCELLED).filter(
        caused_by_release__completed_at__isnull=False, **service
    )


def _deployments(filters):
    caused_incident = Exists(
        Incident.objects.exclude(state=IncidentState.CANCELLED).filter(caused_by_release=OuterRef("release"))
    )
    service = {"release__services": filters.service} if filters.service else {}
    return Deployment.objects.filter(status__in=DONE, **service).annotate(caused_incident=caused_incident)


def _first_deployments(filters):
    """Each release's first succeeded deployment joined to the release's changes (non-cancelled, submitted).

    "First": no succeeded deployment of the release finished earlier (or at the same instant with a smaller
    id), so a release counts on one day only; one row per change of the release.
    """
    earlier = Deployment.objects.filter(release=OuterRef("release"), status=DeploymentStatus.SUCCEEDED).filter(
        Q(finished_at__lt=OuterRef("finished_at")) | Q(finished_at=OuterRef("finished_at"), pk__lt=OuterRef("pk"))
    )
    service = {"release__changes__services": filters.service} if filters.service else {}
    return (
        Deployment.objects.filter(status=DeploymentStatus.SUCCEEDED, finished_at__isnull=False)
        .filter(~Exists(earlier))
        .filter(release__changes__submitted_at__isnull=False, release__changes__state__in=NOT_CANCELLED, **service)
    )


def _lead_micros():
    return _micros("finished_at", "release__changes__submitted_at")


def _steps(filters):
    closed = filters.narrow(Incident.objects.filter(state=IncidentState.CLOSED)).values("pk")
    return IncidentStep.objects.filter(incident__in=closed, state__in=[StepState.DONE, StepState.SKIPPED])


def _surveys(filters):
    resolved = filters.narrow(Incident.objects.exclude(state=IncidentState.CANCELLED)).values("pk")
    return SatisfactionSurvey.objects.filter(incident__in=resolved)


def _runs(filters):
    return AutomationRun.objects.filter(outcome=RunOutcome.ACTED)  # not filtered (metrics.outcomes)


FAMILIES: dict[str, Family] = {f.name: f for f in [
    Family("change_finished", "actual_end", _changes_finished, lambda: {
        "finished": Count("pk"),
        "completed": Count("pk", filter=Q(state=ChangeState.COMPLETED)),
        "rolled_back": Count("pk", filter=Q(state=ChangeState.ROLLED_BACK)),
        "implemented": Count("pk", filter=Q(actual_start__isnull=False)),
        "implementation_us": _sum(_micros("actual_end", "actual_start"), Q(actual_start__isnull=False)),
    }, service="services"),
    Family("change_approved", "approved_at", _changes, lambda: {
        "approved": Count("pk", filter=Q(submitted_at__isnull=False)),
        "approval_us": _sum(_micros("approved_at", "submitted_at"), Q(submitted_at__isnull=False)),
    }, service="services"),
    Family("change_created", "created_at", _changes, lambda: {
        "created": Count("pk"),
        "automated": Count("pk", filter=Q(created_by_rule__gt="")),
    }, service="services"),
    Family("release_completed", "completed_at", _releases, lambda: {
        "completed": Count("pk"),
        "cycle_us": _sum(_micros("completed_at", "created_at")),
    }, service="services"),
    Family("release_defects", "caused_by_release__completed_at", _defects, lambda: {"defects": Count("pk")},
           service="caused_by_release__services"),
    Family("release_created", "created_at", _releases, lambda: {
        "created": Count("pk"),
        "automated": Count("pk", filter=Q(created_by_rule__gt="")),
    }, service="services"),
    Family("deployment", "finished_at", _deployments, lambda: {
        "finished": Count("pk"),
        "succeeded": Count("pk", filter=Q(status=DeploymentStatus.SUCCEEDED)),
        "failed": Count("pk", filter=Q(status=DeploymentStatus.FAILED)),
        "succeeded_then_incident": Count("pk", filter=Q(status=DeploymentStatus.SUCCEEDED, caused_incident=True)),
    }, service="release__services"),
    Family("lead_time", "finished_at", _first_deployments, lambda: {
        "changes": Count("pk"),
        "lead_us": _sum(_lead_micros()),
    }, service="release__changes__services", histogram=_lead_micros),
    Family("process_steps", "incident__closed_at", _steps, lambda: {
        "done": Count("pk", filter=Q(state=StepState.DONE)),
        "skipped": Count("pk", filter=Q(state=StepState.SKIPPED)),
    }),
    Family("surveys", "incident__resolved_at", _surveys, lambda: {
        "sent": Count("pk"),
        "answered": Count("answer"),
        "rated": Count("answer__rating"),
        "rating": Coalesce(_sum(F("answer__rating")), 0),
    }),
    Family("automation_runs", "created_at", _runs, lambda: {"runs": Count("pk")}),
]}

DELIVERY = [name for name, family in FAMILIES.items() if family.delivery]


def _day_filter(family: Family, days: Iterable[tuple[date, date]]) -> Q:
    from .definitions import local_midnight

    condition = Q(pk__in=[])
    for first, end in days:
        condition |= Q(**{f"{family.day}__gte": local_midnight(first), f"{family.day}__lt": local_midnight(end)})
    return condition


def query(family: Family, ranges: list[tuple[date, date]], filters, *, by_service: bool = False):
    """The family's sums per local day (and service, for the build) over the day ``ranges``: one query each.

    Yields ``(day, service_id or None, {column: value})``; the histogram column comes from a second query.
    """
    from .rollups import _as_date, _bucket, _local_day

    rows = family.rows(filters).filter(_day_filter(family, ranges)).order_by()
    keys = {"day": _local_day(family.day)}
    if by_service:
        keys["svc"] = F(family.service)
    grouped = rows.annotate(**keys)
    if by_service:
        grouped = grouped.filter(svc__isnull=False)
    for row in grouped.values(*keys).annotate(**family.sums()):
        day, service = _as_date(row.pop("day")), row.pop("svc", None)
        yield day, service, {column: int(value or 0) for column, value in row.items()}
    if family.histogram is not None:
        counted = grouped.annotate(_bucket_micros=family.histogram())
        for row in counted.annotate(b=_bucket(F("_bucket_micros"))).values(*keys, "b").annotate(n=Count("pk")):
            yield _as_date(row["day"]), row.get("svc"), {HIST: {str(row["b"]): row["n"]}}  # keys as in JSON


def add(into: dict, part: dict) -> None:
    """Add the sums ``part`` (``column → int`` or, for ``hist``, ``bucket → count``, buckets as strings)."""
    for column, value in part.items():
        if column == HIST:
            merged = into.setdefault(HIST, defaultdict(int))
            for bucket, n in value.items():
                merged[bucket] += n
        else:
            into[column] = into.get(column, 0) + value


def sums_per_day(names: Iterable[str], first: date, end: date, filters, today: date) -> dict[str, dict[date, dict]]:
    """Per family and day of ``[first, end)``, the sums: rolled up days from ``DeliveryRollup``, others live.

    Queries: the coverage (2) and the rollup rows (1) when a delivery family is asked for, then one per
    family (two with a histogram) for the live days, whatever the length of the period.
    """
    from . import rollups
    from .models import DeliveryRollup

    names = list(names)
    result: dict[str, dict[date, dict]] = {name: defaultdict(dict) for name in names}
    delivery = [name for name in names if FAMILIES[name].delivery]
    all_days = {first + timedelta(days=i) for i in range((end - first).days)}
    live = all_days
    if delivery and rollups.enabled():
        coverage = rollups.Coverage.load(first, end, source=rollups.DELIVERY)
        live = coverage.live_days(first, end, today)
        if len(live) < len(all_days):
            rows = DeliveryRollup.objects.filter(day__gte=first, day__lt=end, service_id=filters.service)
            if live:
                rows = rows.exclude(day__in=sorted(live))
            for day, sums in rows.values_list("day", "sums"):
                day = rollups._as_date(day)
                for name in delivery:
                    if name in sums:
                        add(result[name][day], sums[name])
    live_ranges = rollups._ranges(live)
    for name in names:
        family = FAMILIES[name]
        ranges = live_ranges if family.delivery else [(first, end)]
        if not ranges:
            continue
        for day, _service, part in query(family, ranges, filters):
            add(result[name][day], part)
    return result


def build_rows(ranges: list[tuple[date, date]]) -> list:
    """The ``DeliveryRollup`` rows of the day ``ranges``: per day for all services and per day and service."""
    from .definitions import Filters
    from .models import DeliveryRollup

    table: dict[tuple[date, int | None], dict] = defaultdict(dict)
    for name in DELIVERY:
        family = FAMILIES[name]
        for by_service in (False, True):
            for day, service, part in query(family, ranges, Filters(), by_service=by_service):
                add(table[day, service].setdefault(name, {}), part)
    return [DeliveryRollup(day=day, service_id=service, sums=sums) for (day, service), sums in table.items()]


def sums_by_service(columns: dict[str, list[str]], spans: list, today: date) -> dict[int, list[dict]]:
    """Per service id, the sums ``columns`` (family → its columns) over each span (a row listing two services
    counts for both): the rolled-up days summed in the database (one query, one sum per span and column),
    the live days from the rows (one query per family).
    """
    from django.db.models import BigIntegerField, Sum
    from django.db.models.fields.json import KeyTextTransform, KeyTransform
    from django.db.models.functions import Cast

    from . import rollups
    from .definitions import Filters
    from .models import DeliveryRollup

    first, end = min(s.start_date for s in spans), max(s.end_date for s in spans)
    live = {first + timedelta(days=i) for i in range((end - first).days)}
    if rollups.enabled():
        live = rollups.Coverage.load(first, end, source=rollups.DELIVERY).live_days(first, end, today)
    result: dict[int, list[dict]] = defaultdict(lambda: [{name: {} for name in columns} for _ in spans])
    if len(live) < (end - first).days:
        rows = DeliveryRollup.objects.filter(day__gte=first, day__lt=end, service_id__isnull=False)
        if live:
            rows = rows.exclude(day__in=sorted(live))
        sums = {
            f"s{i}__{name}__{column}": Sum(
                Cast(KeyTextTransform(column, KeyTransform(name, "sums")), BigIntegerField()),
                filter=Q(day__gte=span.start_date, day__lt=span.end_date),
            )
            for i, span in enumerate(spans) for name, names in columns.items() for column in names
        }
        for row in rows.order_by().values("service_id").annotate(**sums):
            service = row.pop("service_id")
            for key, value in row.items():
                i, name, column = key.split("__")
                add(result[service][int(i[1:])][name], {column: int(value or 0)})
    ranges = rollups._ranges(live)
    for name in columns if ranges else ():
        for day, service, part in query(FAMILIES[name], ranges, Filters(), by_service=True):
            for i, span in enumerate(spans):
                if span.start_date <= day < span.end_date:
                    add(result[service][i][name], {c: v for c, v in part.items() if c != HIST})
    return result
