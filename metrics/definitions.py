"""Every process metric of SPEC §5, defined once and computed in the database.

A metric is computed for a period ``[from, to)`` of dates, taken at midnight in
the site's time zone (``settings.TIME_ZONE``), and optional filters:

- ``service``: incidents whose ``service`` is it; changes that list it in
  ``services``; releases that list it in ``services``, and deployments of
  those releases; lead time: changes that list it in ``services``.
- ``team`` and ``severity``: incident rows only (the ``incidents`` group and
  ``dora.time_to_restore_seconds``). Changes, releases and deployments have no
  severity, and the "caused an incident" tests of ``releases.defect_rate`` and
  ``dora.change_failure_rate`` count every non-cancelled incident.

Durations are float seconds, rates floats in 0..1 (``releases.defect_rate`` is
incidents per release and may exceed 1). A mean, median or rate with nothing
to average is ``None`` (null). Counts, sums and frequencies of things that can
simply not happen (``incidents.count``, ``incidents.customer_impact``,
``incidents.frequency_per_week``, ``changes.count``,
``dora.deployment_frequency_per_day``) are 0 when nothing happened: zero is
then the measured value, not missing data.

Cancelled incidents and cancelled changes count nowhere.

The rows are grouped into a few *sources*. ``SOURCES`` computes each over one
window straight from the rows, one aggregate query each (plus, on databases
without ``percentile_cont``, one small ``ORDER BY … LIMIT 2 OFFSET n`` query per
median): ``compute_live``, the reference. ``compute``, the series and the
dashboard read the same figures as partial sums per local day — the rollups of
``metrics.rollups`` for past days, the rows for today and the stale days, the
other families of ``metrics.daily`` — so each source is read once for any
number of spans (buckets), and the number of queries never depends on the
amount of data or of buckets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from changes.choices import ChangeState
from changes.models import ChangeRequest
from incidents.choices import IncidentState, StepState
from incidents.models import ActionItem, Incident, IncidentStep
from releases.choices import DeploymentStatus
from releases.models import Deployment, Release

from . import outcomes

GROUPS = ("incidents", "changes", "releases", "dora", "automation")

COUNT = "count"
SECONDS = "seconds"
RATE = "rate"
RATIO = "ratio"
PER_WEEK = "per_week"
PER_DAY = "per_day"
SCORE = "score"

HIGHER = "higher"
LOWER = "lower"


@dataclass(frozen=True)
class Metric:
    """One metric of §5: its key, how to read it, and whether up is good."""

    key: str
    label: str
    unit: str
    better: str | None
    source: str
    definition: str

    @property
    def group(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


_METRICS = [
    Metric("incidents.count", "Incidents", COUNT, LOWER, "incidents",
           "incidents with detected_at in the period"),
    Metric("incidents.mttd_seconds", "Mean time to detect", SECONDS, LOWER, "incidents",
           "mean(detected_at − started_at) over the incidents detected in the period"),
    Metric("incidents.mtta_seconds", "Mean time to acknowledge", SECONDS, LOWER, "incidents",
           "mean(acknowledged_at − detected_at) over those detected in the period and acknowledged"),
    Metric("incidents.mttr_seconds", "Mean time to resolve", SECONDS, LOWER, "incidents",
           "mean(resolved_at − detected_at) over incidents with resolved_at in the period"),
    Metric("incidents.mttr_business_seconds", "Mean time to resolve (business hours)", SECONDS, LOWER,
           "incidents",
           "like mttr_seconds, in working time of each incident's SLA calendar (24×7 where none): "
           "mean(working_time_to_resolve), stored at resolution"),
    Metric("incidents.mtta_p50_seconds", "Median time to acknowledge", SECONDS, LOWER, "incidents",
           "median of the mtta set"),
    Metric("incidents.mttr_p50_seconds", "Median time to resolve", SECONDS, LOWER, "incidents",
           "median of the mttr set"),
    Metric("incidents.resolution_rate", "Resolution rate", RATE, HIGHER, "incidents",
           "of the incidents detected in the period, the share resolved or closed now"),
    Metric("incidents.response_sla_met_rate", "Response SLA met", RATE, HIGHER, "incidents",
           "of the incidents detected in the period, the share with response_breached false"),
    Metric("incidents.resolution_sla_met_rate", "Resolution SLA met", RATE, HIGHER, "incidents",
           "of the incidents detected in the period, the share with resolution_breached false"),
    Metric("incidents.customer_impact", "Customers affected", COUNT, LOWER, "incidents",
           "sum of customers_affected of the incidents detected in the period"),
    Metric("incidents.frequency_per_week", "Incidents per week", PER_WEEK, LOWER, "incidents",
           "incidents.count ÷ (days in the period ÷ 7)"),
    Metric("changes.count", "Changes finished", COUNT, None, "changes",
           "changes with actual_end in the period that are completed, failed or rolled_back"),
    Metric("changes.success_rate", "Change success rate", RATE, HIGHER, "changes",
           "completed ÷ changes.count"),
    Metric("changes.rollback_rate", "Change rollback rate", RATE, LOWER, "changes",
           "rolled_back ÷ changes.count"),
    Metric("changes.implementation_time_seconds", "Implementation time", SECONDS, LOWER, "changes",
           "mean(actual_end − actual_start) over the changes of changes.count"),
    Metric("changes.approval_time_seconds", "Approval time", SECONDS, LOWER, "changes",
           "mean(approved_at − submitted_at) over changes with approved_at in the period"),
    Metric("releases.deployment_success_rate", "Deployment success rate", RATE, HIGHER, "deployments",
           "succeeded ÷ deployments (succeeded or failed) with finished_at in the period"),
    Metric("releases.cycle_time_seconds", "Release cycle time", SECONDS, LOWER, "releases",
           "mean(completed_at − created_at) over releases with completed_at in the period"),
    Metric("releases.defect_rate", "Release defect rate", RATIO, LOWER, "releases",
           "incidents caused by the releases completed in the period ÷ those releases"),
    Metric("dora.deployment_frequency_per_day", "Deployment frequency", PER_DAY, HIGHER, "deployments",
           "succeeded deployments finished in the period ÷ days in the period"),
    Metric("dora.lead_time_seconds", "Lead time for changes", SECONDS, LOWER, "lead_time",
           "mean(first succeeded deployment finished_at of the change's release − change submitted_at) "
           "over changes whose release was first deployed in the period"),
    Metric("dora.lead_time_p50_seconds", "Median lead time", SECONDS, LOWER, "lead_time",
           "median of the lead time set"),
    Metric("dora.change_failure_rate", "Change failure rate", RATE, LOWER, "deployments",
           "(failed deployments + succeeded deployments whose release caused an incident) "
           "÷ deployments finished in the period"),
    Metric("dora.time_to_restore_seconds", "Time to restore", SECONDS, LOWER, "incidents",
           "mean(resolved_at − detected_at) over incidents with caused_by_release or caused_by_change, "
           "resolved in the period"),
    # The incident process (§2.1).
    Metric("incidents.detection_sla_met_rate", "Detection target met", RATE, HIGHER, "incidents",
           "of the incidents detected in the period, the share with detection_breached false"),
    Metric("incidents.follow_up_met_rate", "Follow-up target met", RATE, HIGHER, "incidents",
           "of the incidents resolved in the period, the share closed by follow_up_due (still resolved and "
           "within the window counts as met)"),
    Metric("incidents.process_adherence_rate", "Process adherence", RATE, HIGHER, "process_steps",
           "over the steps of the incidents closed in the period: done ÷ (done + skipped)"),
    Metric("incidents.action_items_overdue", "Overdue action items", COUNT, LOWER, "action_items",
           "open action items past their due date at the end of the period"),
    # Satisfaction and automation (metrics/outcomes.py).
    Metric("incidents.csat_score", "Satisfaction (CSAT)", SCORE, HIGHER, "surveys",
           "mean rating (1–5) of the surveys answered for incidents resolved in the period"),
    Metric("incidents.csat_response_rate", "Survey response rate", RATE, HIGHER, "surveys",
           "surveys answered ÷ surveys sent, for the incidents resolved in the period"),
    Metric("automation.level", "Automation level", RATE, HIGHER, "automation",
           "share of the incidents, changes and releases created in the period by an automation rule"),
    Metric("automation.runs", "Automation runs that acted", COUNT, None, "automation",
           "automation runs in the period that acted"),
]

METRICS: dict[str, Metric] = {m.key: m for m in _METRICS}
METRIC_KEYS: tuple[str, ...] = tuple(METRICS)


# --- period and filters -----------------------------------------------------


def local_midnight(day: date) -> datetime:
    """Midnight at the start of ``day`` in the site's time zone, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def local_today(now: datetime | None = None) -> date:
    """Today's date in the site's time zone."""
    return timezone.localdate(now or timezone.now())


@dataclass(frozen=True)
class Window:
    """The period ``[start, end)``: dates, their local midnights and the length in days."""

    start_date: date
    end_date: date

    @property
    def start(self) -> datetime:
        return local_midnight(self.start_date)

    @property
    def end(self) -> datetime:
        return local_midnight(self.end_date)

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days

    def contains(self, field: str) -> Q:
        """``field`` in ``[start, end)``."""
        return Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})


@dataclass(frozen=True)
class Filters:
    """Optional filters: a service id, a team id, a severity (see the module docstring)."""

    service: int | None = None
    team: int | None = None
    severity: str | None = None

    @classmethod
    def of(cls, filters: Filters | dict | None) -> Filters:
        if filters is None:
            return cls()
        if isinstance(filters, Filters):
            return filters
        values = {}
        for name in ("service", "team", "severity"):
            value = filters.get(name)
            if value is not None and hasattr(value, "pk"):
                value = value.pk
            values[name] = value or None
        return cls(**values)

    def as_dict(self) -> dict:
        return {"service": self.service, "team": self.team, "severity": self.severity}

    def narrow(self, rows):
        """``rows`` (incidents or their rollups: both have service, team and severity) narrowed to these filters."""
        if self.service:
            rows = rows.filter(service_id=self.service)
        if self.team:
            rows = rows.filter(team_id=self.team)
        if self.severity:
            rows = rows.filter(severity=self.severity)
        return rows


# --- database helpers ---------------------------------------------------------


def _duration(later: str | object, earlier: str) -> ExpressionWrapper:
    later_expr = F(later) if isinstance(later, str) else later
    return ExpressionWrapper(later_expr - F(earlier), output_field=DurationField())


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5) WITHIN GROUP (ORDER BY …)`` (the interpolated median)."""

    function = "percentile_cont"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def _has_percentile() -> bool:
    return connection.vendor == "postgresql"


def _median_by_offset(queryset, expression, count: int) -> timedelta | None:
    """The median of ``expression`` over ``queryset`` of ``count`` rows, without percentile_cont.

    One query: ``ORDER BY expression LIMIT 1|2 OFFSET (count − 1) // 2``; the
    middle one or two values are averaged (the same interpolation as percentile_cont).
    """
    if count == 0:
        return None
    offset = (count - 1) // 2
    take = 1 if count % 2 else 2
    values = list(
        queryset.annotate(_median_value=expression)
        .order_by("_median_value")
        .values_list("_median_value", flat=True)[offset : offset + take]
    )
    seconds = [_seconds(v) for v in values if v is not None]
    if not seconds:
        return None
    return timedelta(seconds=sum(seconds) / len(seconds))


def _seconds(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    # SQLite hands a bare number of microseconds to some expressions.
    return float(value) / 1_000_000


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- sources: one aggregate query each -----------------------------------------


def _incident_rows(filters: Filters):
    return filters.narrow(Incident.objects.exclude(state=IncidentState.CANCELLED))


def _incidents(window: Window, filters: Filters, keys: set[str]) -> dict:
    """The incidents group and dora.time_to_restore_seconds: one aggregate query."""
    detected = window.contains("detected_at")
    resolved = window.contains("resolved_at")
    acknowledged = detected & Q(acknowledged_at__isnull=False)
    caused = Q(caused_by_release__isnull=False) | Q(caused_by_change__isnull=False)
    rows = _incident_rows(filters).filter(detected | resolved)
    to_detect = _duration("detected_at", "started_at")
    to_acknowledge = _duration("acknowledged_at", "detected_at")
    to_resolve = _duration("resolved_at", "detected_at")
    aggregates = {
        "count": Count("pk", filter=detected),
        "mttd": Avg(to_detect, filter=detected),
        "acknowledged": Count("pk", filter=acknowledged),
        "mtta": Avg(to_acknowledge, filter=acknowledged),
        "resolved": Count("pk", filter=resolved),
        "mttr": Avg(to_resolve, filter=resolved),
        # Working time per incident is measured once, when it is resolved (incidents/sla.py,
        # in its policy's calendar) and stored; rows resolved outside the services have no
        # stored figure and count around the clock.
        "mttr_business": Avg(
            Coalesce(F("working_time_to_resolve"), to_resolve, output_field=DurationField()), filter=resolved
        ),
        "resolved_now": Count(
            "pk", filter=detected & Q(state__in=[IncidentState.RESOLVED, IncidentState.CLOSED])
        ),
        "response_met": Count("pk", filter=detected & Q(response_breached=False)),
        "resolution_met": Count("pk", filter=detected & Q(resolution_breached=False)),
        "customers": Sum("customers_affected", filter=detected),
        "restore": Avg(to_resolve, filter=resolved & caused),
        "detection_met": Count("pk", filter=detected & Q(detection_breached=False)),
        "follow_up_met": Count("pk", filter=resolved & _follow_up_met(timezone.now())),
    }
    want_mtta_p50 = "incidents.mtta_p50_seconds" in keys
    want_mttr_p50 = "incidents.mttr_p50_seconds" in keys
    if _has_percentile():
        if want_mtta_p50:
            aggregates["mtta_p50"] = Median(to_acknowledge, filter=acknowledged)
        if want_mttr_p50:
            aggregates["mttr_p50"] = Median(to_resolve, filter=resolved)
    figures = rows.aggregate(**aggregates)
    if not _has_percentile():
        base = _incident_rows(filters)
        if want_mtta_p50:
            figures["mtta_p50"] = _median_by_offset(base.filter(acknowledged), to_acknowledge, figures["acknowledged"])
        if want_mttr_p50:
            figures["mttr_p50"] = _median_by_offset(base.filter(resolved), to_resolve, figures["resolved"])
    count = figures["count"]
    return {
        "incidents.count": count,
        "incidents.mttd_seconds": _seconds(figures["mttd"]),
        "incidents.mtta_seconds": _seconds(figures["mtta"]),
        "incidents.mttr_seconds": _seconds(figures["mttr"]),
        "incidents.mttr_business_seconds": _seconds(figures["mttr_business"]),
        "incidents.mtta_p50_seconds": _seconds(figures.get("mtta_p50")),
        "incidents.mttr_p50_seconds": _seconds(figures.get("mttr_p50")),
        "incidents.resolution_rate": _share(figures["resolved_now"], count),
        "incidents.response_sla_met_rate": _share(figures["response_met"], count),
        "incidents.resolution_sla_met_rate": _share(figures["resolution_met"], count),
        "incidents.customer_impact": figures["customers"] or 0,
        "incidents.frequency_per_week": count / (window.days / 7),
        "dora.time_to_restore_seconds": _seconds(figures["restore"]),
        "incidents.detection_sla_met_rate": _share(figures["detection_met"], count),
        "incidents.follow_up_met_rate": _share(figures["follow_up_met"], figures["resolved"]),
    }


def _follow_up_met(now: datetime) -> Q:
    """Closed by ``follow_up_due``, or not closed and the window still open at ``now``."""
    return Q(closed_at__isnull=False, closed_at__lte=F("follow_up_due")) | Q(
        closed_at__isnull=True, follow_up_due__gt=now
    )


def _process_steps(window: Window, filters: Filters, keys: set[str]) -> dict:
    """Process adherence: one aggregate query over the steps of the incidents closed in the period."""
    closed = _incident_rows(filters).filter(window.contains("closed_at"), state=IncidentState.CLOSED)
    figures = IncidentStep.objects.filter(incident__in=Subquery(closed.values("pk"))).aggregate(
        done=Count("pk", filter=Q(state=StepState.DONE)),
        skipped=Count("pk", filter=Q(state=StepState.SKIPPED)),
    )
    return {"incidents.process_adherence_rate": _share(figures["done"], figures["done"] + figures["skipped"])}


def _action_items(window: Window, filters: Filters, keys: set[str]) -> dict:
    """Action items open at the end of the period and due before it: one count.

    Open then means created before the end and not done or cancelled before it; "past
    the due date" means the due date (a day) ended before the period did.
    """
    end = window.end
    rows = ActionItem.objects.filter(
        Q(closed_at__isnull=True) | Q(closed_at__gte=end),
        created_at__lt=end,
        due_date__lt=window.end_date,
        incident__in=Subquery(_incident_rows(filters).values("pk")),
    )
    return {"incidents.action_items_overdue": rows.count()}


def _change_rows(filters: Filters):
    rows = ChangeRequest.objects.exclude(state=ChangeState.CANCELLED)
    if filters.service:
        rows = rows.filter(services=filters.service)
    return rows


def _changes(window: Window, filters: Filters, keys: set[str]) -> dict:
    """The changes group: one aggregate query."""
    finished = window.contains("actual_end") & Q(
        state__in=[ChangeState.COMPLETED, ChangeState.FAILED, ChangeState.ROLLED_BACK]
    )
    approved = window.contains("approved_at")
    figures = (
        _change_rows(filters)
        .filter(finished | approved)
        .aggregate(
            count=Count("pk", filter=finished),
            completed=Count("pk", filter=finished & Q(state=ChangeState.COMPLETED)),
            rolled_back=Count("pk", filter=finished & Q(state=ChangeState.ROLLED_BACK)),
            implementation=Avg(_duration("actual_end", "actual_start"), filter=finished),
            approval=Avg(_duration("approved_at", "submitted_at"), filter=approved),
        )
    )
    count = figures["count"]
    return {
        "changes.count": count,
        "changes.success_rate": _share(figures["completed"], count),
        "changes.rollback_rate": _share(figures["rolled_back"], count),
        "changes.implementation_time_seconds": _seconds(figures["implementation"]),
        "changes.approval_time_seconds": _seconds(figures["approval"]),
    }


def _release_rows(filters: Filters):
    rows = Release.objects.all()
    if filters.service:
        rows = rows.filter(services=filters.service)
    return rows


def _releases(window: Window, filters: Filters, keys: set[str]) -> dict:
    """Release cycle time and defect rate: two aggregate queries."""
    completed = _release_rows(filters).filter(window.contains("completed_at"))
    figures = completed.aggregate(
        releases=Count("pk"), cycle=Avg(_duration("completed_at", "created_at"))
    )
    defect_rate = None
    if "releases.defect_rate" in keys and figures["releases"]:
        defects = (
            Incident.objects.exclude(state=IncidentState.CANCELLED)
            .filter(caused_by_release__in=Subquery(completed.values("pk")))
            .count()
        )
        defect_rate = defects / figures["releases"]
    return {
        "releases.cycle_time_seconds": _seconds(figures["cycle"]),
        "releases.defect_rate": defect_rate,
    }


def _deployments(window: Window, filters: Filters, keys: set[str]) -> dict:
    """Deployment success, frequency and change failure rate: one aggregate query."""
    rows = Deployment.objects.filter(
        window.contains("finished_at"),
        status__in=[DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED],
    )
    if filters.service:
        rows = rows.filter(release__in=Subquery(_release_rows(filters).values("pk")))
    release_caused_incident = Exists(
        Incident.objects.exclude(state=IncidentState.CANCELLED).filter(caused_by_release=OuterRef("release"))
    )
    figures = rows.aggregate(
        finished=Count("pk"),
        succeeded=Count("pk", filter=Q(status=DeploymentStatus.SUCCEEDED)),
        failed=Count("pk", filter=Q(status=DeploymentStatus.FAILED)),
        succeeded_then_incident=Count(
            "pk", filter=Q(status=DeploymentStatus.SUCCEEDED) & Q(release_caused_incident)
        ),
    )
    finished = figures["finished"]
    return {
        "releases.deployment_success_rate": _share(figures["succeeded"], finished),
        "dora.deployment_frequency_per_day": figures["succeeded"] / window.days,
        "dora.change_failure_rate": _share(figures["failed"] + figures["succeeded_then_incident"], finished),
    }


def _lead_time(window: Window, filters: Filters, keys: set[str]) -> dict:
    """DORA lead time (mean and median): one aggregate query (+ one for the median without percentile_cont)."""
    # Each release's first successful deployment, once per release (a GROUP BY over the
    # deployments), and only the releases first deployed in the window: the changes are then
    # looked up through their release rather than the subquery running once per change.
    first = Min("deployments__finished_at", filter=Q(deployments__status=DeploymentStatus.SUCCEEDED))
    first_deployed = (
        Release.objects.annotate(first_deployed_at=first).filter(window.contains("first_deployed_at"))
    )
    first_of_release = Subquery(first_deployed.filter(pk=OuterRef("release")).values("first_deployed_at")[:1])
    rows = (
        _change_rows(filters)
        .filter(release__in=Subquery(first_deployed.values("pk")), submitted_at__isnull=False)
        .annotate(first_deployed_at=first_of_release)
    )
    lead = _duration("first_deployed_at", "submitted_at")
    aggregates = {"changes": Count("pk"), "lead": Avg(lead)}
    want_p50 = "dora.lead_time_p50_seconds" in keys
    if want_p50 and _has_percentile():
        aggregates["p50"] = Median(lead)
    figures = rows.aggregate(**aggregates)
    if want_p50 and not _has_percentile():
        figures["p50"] = _median_by_offset(rows, lead, figures["changes"])
    return {
        "dora.lead_time_seconds": _seconds(figures["lead"]),
        "dora.lead_time_p50_seconds": _seconds(figures.get("p50")),
    }


def mean(total_us: int, n: int) -> float | None:
    """A mean duration in seconds from a sum of microseconds and a count (``None`` without rows)."""
    # The live Avg of a duration is a whole number of microseconds (an interval, a timedelta).
    return round(total_us / n) / 1_000_000 if n else None


def _incident_figures(totals: dict, follow_up_open: int, days: int, p50: dict) -> dict:
    """The incident source's figures from its partial sums (``metrics.rollups``: counts, µs sums)."""
    count = totals["detected"]
    return {
        "incidents.count": count,
        "incidents.mttd_seconds": mean(totals["detect_us"], count),
        "incidents.mtta_seconds": mean(totals["ack_us"], totals["acknowledged"]),
        "incidents.mttr_seconds": mean(totals["resolve_us"], totals["resolved"]),
        "incidents.mttr_business_seconds": mean(totals["business_us"], totals["resolved"]),
        "incidents.mtta_p50_seconds": p50.get("ack"),
        "incidents.mttr_p50_seconds": p50.get("resolve"),
        "incidents.resolution_rate": _share(totals["resolved_now"], count),
        "incidents.response_sla_met_rate": _share(totals["response_met"], count),
        "incidents.resolution_sla_met_rate": _share(totals["resolution_met"], count),
        "incidents.customer_impact": totals["customers"],
        "incidents.frequency_per_week": count / (days / 7),
        "dora.time_to_restore_seconds": mean(totals["restore_us"], totals["restored"]),
        "incidents.detection_sla_met_rate": _share(totals["detection_met"], count),
        "incidents.follow_up_met_rate": _share(totals["follow_up_closed"] + follow_up_open, totals["resolved"]),
    }


def _incidents_rolled_up(spans: list[Window], filters: Filters, keys: set[str]) -> list[dict]:
    """The incident source over each of ``spans`` from the rollups (``metrics.rollups``) and live days.

    A fixed number of queries whatever the number of days or spans: the coverage (2), the daily sums (the
    rollup rows grouped by day, plus one for the live days), the incidents still in their follow-up window
    (1) and, for the medians, the histograms (1, plus one per kind for the live days).
    """
    from . import rollups

    first, end = min(s.start_date for s in spans), max(s.end_date for s in spans)
    now = timezone.now()
    today = local_today(now)
    coverage = rollups.Coverage.load(first, end)
    days = rollups.day_totals(first, end, filters, coverage, today)
    follow_up = rollups.follow_up_open(first, end, filters, now) if "incidents.follow_up_met_rate" in keys else {}
    kinds = [kind for kind, key in (("ack", "incidents.mtta_p50_seconds"), ("resolve", "incidents.mttr_p50_seconds"))
             if key in keys]
    histograms = rollups.day_histograms(first, end, filters, coverage, today, kinds)
    result = []
    for span in spans:
        totals = dict.fromkeys(rollups.COLUMNS, 0)
        open_now = 0
        merged: dict[str, dict[int, int]] = {kind: defaultdict(int) for kind in kinds}
        for offset in range(span.days):
            day = span.start_date + timedelta(days=offset)
            row = days.get(day)
            if row is not None:
                for column in rollups.COLUMNS:
                    totals[column] += row[column] or 0
            open_now += follow_up.get(day, 0)
            for kind in kinds:
                for bucket, n in histograms[kind].get(day, {}).items():
                    merged[kind][bucket] += n
        p50 = {kind: rollups.median_of(merged[kind]) for kind in kinds}
        values = _incident_figures(totals, open_now, span.days, p50)
        values["_automation_incidents"] = (totals["detected"], totals["automated"])
        result.append(values)
    return result


SOURCES: dict[str, Callable[[Window, Filters, set[str]], dict]] = {
    "incidents": _incidents,
    "process_steps": _process_steps,
    "action_items": _action_items,
    "changes": _changes,
    "releases": _releases,
    "deployments": _deployments,
    "lead_time": _lead_time,
    "surveys": outcomes.surveys,
    "automation": outcomes.automation,
}
"""Each source over one window straight from the rows: the reference of ``compute_live`` and the tests."""


# --- sources from partial sums per day (metrics/daily.py) ------------------------------


def _changes_from(sums: dict, window: Window, keys: set[str]) -> dict:
    finished, approved = sums["change_finished"], sums["change_approved"]
    count = finished.get("finished", 0)
    return {
        "changes.count": count,
        "changes.success_rate": _share(finished.get("completed", 0), count),
        "changes.rollback_rate": _share(finished.get("rolled_back", 0), count),
        "changes.implementation_time_seconds": mean(finished.get("implementation_us", 0),
                                                    finished.get("implemented", 0)),
        "changes.approval_time_seconds": mean(approved.get("approval_us", 0), approved.get("approved", 0)),
    }


def _releases_from(sums: dict, window: Window, keys: set[str]) -> dict:
    completed = sums["release_completed"]
    releases = completed.get("completed", 0)
    defects = sums.get("release_defects", {}).get("defects", 0)
    return {
        "releases.cycle_time_seconds": mean(completed.get("cycle_us", 0), releases),
        "releases.defect_rate": defects / releases if "releases.defect_rate" in keys and releases else None,
    }


def _deployments_from(sums: dict, window: Window, keys: set[str]) -> dict:
    figures = sums["deployment"]
    finished, succeeded = figures.get("finished", 0), figures.get("succeeded", 0)
    return {
        "releases.deployment_success_rate": _share(succeeded, finished),
        "dora.deployment_frequency_per_day": succeeded / window.days,
        "dora.change_failure_rate": _share(figures.get("failed", 0) + figures.get("succeeded_then_incident", 0),
                                           finished),
    }


def _lead_time_from(sums: dict, window: Window, keys: set[str]) -> dict:
    from . import rollups

    figures = sums["lead_time"]
    p50 = rollups.median_of(figures.get("hist", {})) if "dora.lead_time_p50_seconds" in keys else None
    return {
        "dora.lead_time_seconds": mean(figures.get("lead_us", 0), figures.get("changes", 0)),
        "dora.lead_time_p50_seconds": p50,
    }


def _process_steps_from(sums: dict, window: Window, keys: set[str]) -> dict:
    done, skipped = sums["process_steps"].get("done", 0), sums["process_steps"].get("skipped", 0)
    return {"incidents.process_adherence_rate": _share(done, done + skipped)}


def _surveys_from(sums: dict, window: Window, keys: set[str]) -> dict:
    figures = sums["surveys"]
    rated = figures.get("rated", 0)
    return {
        "incidents.csat_score": figures.get("rating", 0) / rated if rated else None,
        "incidents.csat_response_rate": _share(figures.get("answered", 0), figures.get("sent", 0)),
    }


def _automation_families(filters: Filters, keys: set[str]) -> tuple[str, ...]:
    names = ("automation_runs",) if "automation.runs" in keys else ()
    if "automation.level" in keys and not filters.team and not filters.severity:
        names += ("change_created", "release_created")  # changes and releases have no team or severity
    return names


def _automation_from(sums: dict, window: Window, keys: set[str], incidents: tuple[int, int]) -> dict:
    total, automated = incidents
    for name in ("change_created", "release_created"):
        if name in sums:
            total += sums[name].get("created", 0)
            automated += sums[name].get("automated", 0)
    return {
        "automation.level": _share(automated, total) if "automation.level" in keys else None,
        "automation.runs": sums.get("automation_runs", {}).get("runs", 0),
    }


# source → (its families, given the filters and keys; its figures from their sums over a window)
DAILY_SOURCES: dict[str, tuple[Callable[[Filters, set[str]], tuple[str, ...]], Callable]] = {
    "changes": (lambda f, k: ("change_finished", "change_approved"), _changes_from),
    "releases": (lambda f, k: ("release_completed",) + (("release_defects",) if "releases.defect_rate" in k else ()),
                 _releases_from),
    "deployments": (lambda f, k: ("deployment",), _deployments_from),
    "lead_time": (lambda f, k: ("lead_time",), _lead_time_from),
    "process_steps": (lambda f, k: ("process_steps",), _process_steps_from),
    "surveys": (lambda f, k: ("surveys",), _surveys_from),
}


def _daily_sums(spans: list[Window], filters: Filters, names: set[str]) -> list[dict[str, dict]]:
    """Per span, the sums of each family in ``names`` (``metrics.daily``: one query per family in all)."""
    from . import daily

    first, end = min(s.start_date for s in spans), max(s.end_date for s in spans)
    per_day = daily.sums_per_day(sorted(names), first, end, filters, local_today())
    result = []
    for span in spans:
        totals: dict[str, dict] = {name: {} for name in names}
        for offset in range(span.days):
            day = span.start_date + timedelta(days=offset)
            for name in names:
                part = per_day[name].get(day)
                if part:
                    daily.add(totals[name], part)
        result.append(totals)
    return result


def _action_items_many(spans: list[Window], filters: Filters) -> list[dict]:
    """``incidents.action_items_overdue`` at the end of each span, from one grouped query.

    An item is overdue at the end ``E`` of a span when it was created before ``E``, its due date ended
    before ``E`` and it was not closed before ``E``: with ``s`` = max(local day of ``created_at``,
    ``due_date``) and ``c`` the local day of ``closed_at``, when ``s < E ≤ c`` (or ``s < E`` while open).
    The items are grouped by (``s``, ``c``); each group adds its count from the day after ``s`` on and takes
    it back from the day after ``c`` on.
    """
    from django.db.models.functions import Greatest

    from .rollups import _as_date, _local_day

    rows = (
        ActionItem.objects.filter(incident__in=Subquery(_incident_rows(filters).values("pk")))
        .annotate(s=Greatest(_local_day("created_at"), F("due_date")), c=_local_day("closed_at"))
        .filter(Q(closed_at__isnull=True) | Q(c__gt=F("s")))
        .order_by().values("s", "c").annotate(n=Count("pk"))
    )
    changes: dict[date, int] = defaultdict(int)  # from the day after the key on
    for row in rows:
        changes[_as_date(row["s"])] += row["n"]
        if row["c"] is not None:
            changes[_as_date(row["c"])] -= row["n"]
    days = sorted(changes)
    result, running, position = {}, 0, 0
    for end in sorted({span.end_date for span in spans}):
        while position < len(days) and days[position] < end:
            running += changes[days[position]]
            position += 1
        result[end] = running
    return [{"incidents.action_items_overdue": result[span.end_date]} for span in spans]


def _figures(window: Window, filters: Filters, keys: Iterable[str]) -> dict[str, object]:
    """The values of ``keys`` over ``window``: each needed source runs once."""
    return _figures_many([window], filters, keys)[0]


def _figures_many(spans: list[Window], filters: Filters, keys: Iterable[str], *, live: bool = False) -> list[dict]:
    """The values of ``keys`` over each of ``spans`` (windows, possibly overlapping), each source read once.

    The incident source (and the incident part of ``automation.level``) reads its rollups
    (``_incidents_rolled_up``); the others read partial sums per day (``_daily_sums``: the delivery rollups
    and live days), the overdue action items one count per span. The number of queries does not depend on
    the number of spans. ``live``: every source from the rows, span by span (``SOURCES``, the reference the
    rollups are tested against).
    """
    from . import rollups

    keys = set(keys)
    sources = list(dict.fromkeys(METRICS[k].source for k in METRIC_KEYS if k in keys))
    per_span: list[dict[str, object]] = [{} for _ in spans]
    if live:
        for source in sources:
            for window, values in zip(spans, per_span, strict=True):
                values.update(SOURCES[source](window, filters, keys))
        return [{k: values[k] for k in METRIC_KEYS if k in keys} for values in per_span]
    if "incidents" in sources or "automation.level" in keys:
        if rollups.enabled():
            incident_values = _incidents_rolled_up(spans, filters, keys)
        else:
            incident_values = [_incidents(window, filters, keys | {"incidents.count"}) for window in spans]
            for values, window in zip(incident_values, spans, strict=True):
                values["_automation_incidents"] = _by_rule_counts(window, filters)
        for values, rolled_values in zip(per_span, incident_values, strict=True):
            values.update(rolled_values)
    wanted = {source: DAILY_SOURCES[source][0](filters, keys) for source in sources if source in DAILY_SOURCES}
    if "automation" in sources:
        wanted["automation"] = _automation_families(filters, keys)
    names = {name for names in wanted.values() for name in names}
    sums = _daily_sums(spans, filters, names) if names else [{} for _ in spans]
    for window, values, span_sums in zip(spans, per_span, sums, strict=True):
        for source in wanted:
            if source == "automation":
                values.update(_automation_from(span_sums, window, keys, values.get("_automation_incidents", (0, 0))))
            else:
                values.update(DAILY_SOURCES[source][1](span_sums, window, keys))
    if "action_items" in sources:
        for values, part in zip(per_span, _action_items_many(spans, filters), strict=True):
            values.update(part)
    return [{k: values[k] for k in METRIC_KEYS if k in keys} for values in per_span]


def _by_rule_counts(window: Window, filters: Filters) -> tuple[int, int]:
    figures = _incident_rows(filters).filter(window.contains("detected_at")).aggregate(
        total=Count("pk"), automated=Count("pk", filter=Q(created_by_rule__gt=""))
    )
    return figures["total"], figures["automated"]


def compute_live(period_from: date, period_to: date, filters: Filters | dict | None = None) -> dict:
    """``compute`` from the rows only, without the rollups (the reference for tests, a fallback)."""
    return _shape(period_from, period_to, _figures_many(
        [Window(period_from, period_to)], Filters.of(filters), METRIC_KEYS, live=True)[0])


# --- public API ----------------------------------------------------------------


def _check_period(period_from: date, period_to: date) -> None:
    if period_from >= period_to:
        raise ValueError("The period must end after it starts (from < to).")


def compute(period_from: date, period_to: date, filters: Filters | dict | None = None) -> dict:
    """Every metric over ``[period_from, period_to)`` in the §7 JSON shape.

    ``{"period": {"from", "to"}, "incidents": {...}, "changes": {...},
    "releases": {...}, "dora": {...}}``; keys within a group drop the group prefix.
    """
    _check_period(period_from, period_to)
    return _shape(period_from, period_to, _figures(Window(period_from, period_to), Filters.of(filters), METRIC_KEYS))


def _shape(period_from: date, period_to: date, values: dict) -> dict:
    data: dict = {"period": {"from": period_from.isoformat(), "to": period_to.isoformat()}}
    for group in GROUPS:
        data[group] = {}
    for key, value in values.items():
        metric = METRICS[key]
        data[metric.group][metric.name] = value
    return data


def flatten(data: dict) -> dict[str, object]:
    """``compute()``'s nested groups back to ``{"incidents.count": …}`` in the §5 order."""
    return {key: data[METRICS[key].group][METRICS[key].name] for key in METRIC_KEYS}


INTERVALS = ("day", "week", "month")


def bucket_start(day: date, interval: str) -> date:
    """The first day of the bucket that holds ``day`` (ISO weeks start on Monday)."""
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    raise ValueError(f"Unknown interval {interval!r}: choose one of {', '.join(INTERVALS)}.")


def _next_bucket(start: date, interval: str) -> date:
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def buckets(period_from: date, period_to: date, interval: str) -> list[tuple[date, Window]]:
    """The buckets over ``[period_from, period_to)``: (label, window clipped to the period).

    The label is the bucket's own first day (a Monday, the 1st of a month), even
    when the period starts inside the bucket.
    """
    _check_period(period_from, period_to)
    result = []
    label = bucket_start(period_from, interval)
    while label < period_to:
        following = _next_bucket(label, interval)
        result.append((label, Window(max(label, period_from), min(following, period_to))))
        label = following
    return result


def bucket_count(period_from: date, period_to: date, interval: str) -> int:
    """How many buckets ``timeseries`` would return (no queries)."""
    return len(buckets(period_from, period_to, interval))


def timeseries_many(
    metrics: Iterable[str], interval: str, period_from: date, period_to: date,
    filters: Filters | dict | None = None,
) -> list[dict]:
    """Several metrics per bucket: ``[{"bucket": "YYYY-MM-DD", "values": {key: value}}]``.

    Each bucket is computed with the same definitions as ``compute`` over the
    bucket clipped to the period; each source the metrics need is read once for all buckets.
    """
    keys = list(metrics)
    for key in keys:
        if key not in METRICS:
            raise ValueError(f"Unknown metric {key!r}.")
    spans = buckets(period_from, period_to, interval)
    rows = _figures_many([window for _, window in spans], Filters.of(filters), keys)
    return [{"bucket": label.isoformat(), "values": values} for (label, _), values in zip(spans, rows, strict=True)]


def timeseries(
    metric: str, interval: str, period_from: date, period_to: date, filters: Filters | dict | None = None
) -> list[dict]:
    """One metric per bucket: ``[{"bucket": "YYYY-MM-DD", "value": ...}]`` (see ``timeseries_many``)."""
    return [
        {"bucket": row["bucket"], "value": row["values"][metric]}
        for row in timeseries_many([metric], interval, period_from, period_to, filters)
    ]


def incident_counts_by_severity(
    interval: str, period_from: date, period_to: date, filters: Filters | dict | None = None
) -> list[dict]:
    """incidents.count per bucket and severity (the dashboard's stacked bars), from counts per day.

    ``[{"bucket": "YYYY-MM-DD", "counts": {"critical": n, ...}}]``; the severity
    filter, if any, still applies. The counts per day come from the rollups (``rollups.severity_counts``)
    or, with the rollups off, from one grouped query over the incidents.
    """
    from incidents.choices import Severity

    from . import rollups

    flt = Filters.of(filters)
    spans = buckets(period_from, period_to, interval)
    if rollups.enabled():
        per_day = rollups.severity_counts(period_from, period_to, flt, local_today())
    else:
        rows = (
            _incident_rows(flt).filter(Window(period_from, period_to).contains("detected_at"))
            .annotate(day=rollups._local_day("detected_at")).order_by().values("day", "severity")
            .annotate(n=Count("pk"))
        )
        per_day = defaultdict(dict)
        for row in rows:
            per_day[rollups._as_date(row["day"])][row["severity"]] = row["n"]
    table = []
    for label, window in spans:
        counts = dict.fromkeys(Severity.values, 0)
        for offset in range(window.days):
            for severity, n in per_day.get(window.start_date + timedelta(days=offset), {}).items():
                counts[severity] += n
        table.append({"bucket": label.isoformat(), "counts": counts})
    return table
