"""Rollups of the metrics: additive partial aggregates per local day, read instead of the rows.

Two sources, each with its ``RollupState`` and ``StaleDay`` marks: ``incidents`` (this module) and
``delivery`` (changes, releases, deployments, lead time: the families of ``metrics/daily.py``, stored in
``DeliveryRollup`` per day for all services and per service; built, refreshed and marked here).

``IncidentRollup`` holds, per local day (``definitions.local_midnight``) × service × team × severity, the
counts and sums of the incidents detected that day and of those resolved that day; ``IncidentScopeRollup``
the same sums per day and scope (all, one service, one team, one severity), read when at most one filter
is given; ``IncidentHistogram`` holds per day and scope the durations' counts in log-spaced buckets, for
the medians. A figure over a period is then a ``SUM`` over at most (days × groups) rows:

- days before ``RollupState.built_until`` and not marked in ``StaleDay`` come from the rollups;
- today, every day from ``built_until`` on and every stale day are computed live, with the same partial
  aggregates (``_partials_sql``), and added in: the sum is the same as a live aggregate over the period;
- ``incidents.follow_up_met_rate`` depends on *now* ("not closed and the window still open"): the rollup
  keeps the part that does not (closed by ``follow_up_due``); the rows still in their window are counted
  live (one query, the partial index ``incident_follow_up_open``: bench/NOTES.md).

Every write of an incident marks the local days of its ``detected_at`` and ``resolved_at``, before and after
the write, stale (``post_save``/``post_delete``; bulk updates announce their ids through
``opsdesk.rollups``); writes of changes, releases and deployments (and of an incident's
``caused_by_release``) mark the delivery days they touch (``_delivery_days``). ``refresh`` (the nightly
task, and every few minutes) rebuilds the stale days and the days since ``built_until`` of each source, and
deletes the marks it saw. ``build`` rebuilds everything (set-based ``INSERT … SELECT … GROUP BY``; the
delivery families one grouped query each; ``manage.py build_metric_rollups``).

Means are ``sum ÷ count`` of integer microseconds: the live figure to the microsecond. Medians come from
the histograms (8 buckets per doubling, interpolated geometrically within the bucket; a lead time may be
negative, and negative values have mirrored buckets): see docs/metrics.md
for the measured error. With two or more of the filters the medians' histograms are built live (grouped
per day, one query per kind), since the stored ones are per single filter.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Floor, Ln, TruncDate
from django.db.models.signals import post_delete, post_init, post_save
from django.utils import timezone

from incidents.choices import IncidentState
from incidents.models import Incident
from opsdesk.rollups import rows_updated
from opsdesk.selectors import many_ids

from .models import DeliveryRollup, IncidentHistogram, IncidentRollup, IncidentScopeRollup, RollupState, StaleDay

INCIDENTS = "incidents"
DELIVERY = "delivery"  # changes, releases and deployments (metrics/daily.py)
SOURCES = (INCIDENTS, DELIVERY)
BUCKETS_PER_DOUBLING = 8
# The largest relative error of a median from the histograms: the estimate and the exact value lie in the
# same bucket (or, for an even count, each middle value does), whose bounds differ by this ratio.
MEDIAN_ERROR = 2 ** (1 / BUCKETS_PER_DOUBLING) - 1

DETECTED_COLUMNS = (
    "detected", "detect_us", "acknowledged", "ack_us", "resolved_now", "response_met", "resolution_met",
    "detection_met", "customers", "automated",
)
RESOLVED_COLUMNS = ("resolved", "resolve_us", "business_us", "restored", "restore_us", "follow_up_closed")
COLUMNS = DETECTED_COLUMNS + RESOLVED_COLUMNS
GROUP = ("svc", "tm", "sev")
KINDS = ("ack", "resolve")
SCOPES = {"all": None, "service": "service_id", "team": "team_id", "severity": "severity"}


# --- expressions ------------------------------------------------------------------


class Microseconds(Func):
    """A duration expression as a whole number of microseconds (PostgreSQL interval; SQLite already is)."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"ROUND(EXTRACT(EPOCH FROM ({sql})) * 1000000)::bigint", params

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST({sql} AS INTEGER)", params


def _micros(later: str, earlier: str) -> Microseconds:
    return Microseconds(ExpressionWrapper(F(later) - F(earlier), output_field=DurationField()))


def _local_day(field_name: str) -> TruncDate:
    return TruncDate(field_name, tzinfo=timezone.get_default_timezone())


def _bucket(micros) -> object:
    """The histogram bucket of a duration (SQL): ``bucket_of`` (incident durations are never negative; a
    lead time may be, for a change submitted after its release was first deployed)."""
    from django.db.models import Case, When

    seconds = ExpressionWrapper(micros / Value(1_000_000.0), output_field=FloatField())
    log = Value(BUCKETS_PER_DOUBLING / math.log(2))
    return Case(
        When(Q(_bucket_micros__gte=0, _bucket_micros__lt=1_000_000), then=Value(0)),
        When(Q(_bucket_micros__lt=0, _bucket_micros__gt=-1_000_000), then=Value(-1)),
        When(Q(_bucket_micros__lt=0), then=Value(-2) - Cast(Floor(Ln(-seconds) * log), IntegerField())),
        default=Cast(Floor(Ln(seconds) * log), IntegerField()) + 1,
        output_field=IntegerField(),
    )


def bucket_of(seconds: float) -> int:
    """The histogram bucket of ``seconds``: 0 for [0, 1) s, 1 + ⌊8 · log2(seconds)⌋ above; a negative value
    mirrors its magnitude's bucket ``b`` as ``−1 − b`` (the SQL of ``_bucket`` in Python)."""
    if seconds < 0:
        return -1 - bucket_of(-seconds)
    if seconds < 1:
        return 0
    return 1 + math.floor(math.log(seconds) * BUCKETS_PER_DOUBLING / math.log(2))


def _bucket_bounds(bucket: int) -> tuple[float, float]:
    if bucket < 0:
        low, high = _bucket_bounds(-1 - bucket)
        return -high, -low
    if bucket == 0:
        return 0.0, 1.0
    return 2 ** ((bucket - 1) / BUCKETS_PER_DOUBLING), 2 ** (bucket / BUCKETS_PER_DOUBLING)


def median_of(counts: dict) -> float | None:
    """The interpolated median (percentile_cont(0.5)) estimated from ``{bucket: count}``.

    The i-th smallest value (0-based) of a bucket holding ranks ``c … c + k − 1`` is placed at fraction
    ``(i − c + ½) ÷ k`` of the bucket, geometrically (linearly within a second of zero).
    """
    merged: dict[int, int] = defaultdict(int)  # bucket keys may be strings (from JSON) or numbers
    for bucket, n in counts.items():
        merged[int(bucket)] += n
    items = sorted((b, n) for b, n in merged.items() if n)
    total = sum(n for _, n in items)
    if not total:
        return None

    def value(rank: int) -> float:
        seen = 0
        for bucket, n in items:
            if rank < seen + n:
                low, high = _bucket_bounds(bucket)
                fraction = (rank - seen + 0.5) / n
                if bucket in (0, -1):  # within a second of zero: linearly
                    return low + (high - low) * fraction
                return low * (high / low) ** fraction
            seen += n
        raise AssertionError("rank beyond the histogram")

    middle = (total - 1) / 2
    lower, upper = math.floor(middle), math.ceil(middle)
    if lower == upper:
        return value(lower)
    return (value(lower) + value(upper)) / 2


# --- the partial aggregates (build and live) -------------------------------------


def _rows():
    return Incident.objects.exclude(state=IncidentState.CANCELLED).order_by()


def _sum(expression, condition: Q | None = None):
    return Coalesce(Sum(expression, filter=condition), Value(0), output_field=BigIntegerField())


def _detected_query(rows, with_groups: bool):
    acknowledged = Q(acknowledged_at__isnull=False)
    keys = {"day": _local_day("detected_at")}
    if with_groups:
        keys.update(svc=F("service_id"), tm=F("team_id"), sev=F("severity"))
    aggregates = {
        "detected": Count("pk"),
        "detect_us": _sum(_micros("detected_at", "started_at")),
        "acknowledged": Count("pk", filter=acknowledged),
        "ack_us": _sum(_micros("acknowledged_at", "detected_at"), acknowledged),
        "resolved_now": Count("pk", filter=Q(state__in=[IncidentState.RESOLVED, IncidentState.CLOSED])),
        "response_met": Count("pk", filter=Q(response_breached=False)),
        "resolution_met": Count("pk", filter=Q(resolution_breached=False)),
        "detection_met": Count("pk", filter=Q(detection_breached=False)),
        "customers": _sum(F("customers_affected")),
        "automated": Count("pk", filter=Q(created_by_rule__gt="")),
    }
    return rows.annotate(**keys).values(*keys).annotate(**aggregates)


def _resolved_query(rows, with_groups: bool):
    caused = Q(caused_by_release__isnull=False) | Q(caused_by_change__isnull=False)
    to_resolve = ExpressionWrapper(F("resolved_at") - F("detected_at"), output_field=DurationField())
    keys = {"day": _local_day("resolved_at")}
    if with_groups:
        keys.update(svc=F("service_id"), tm=F("team_id"), sev=F("severity"))
    aggregates = {
        "resolved": Count("pk"),
        "resolve_us": _sum(Microseconds(to_resolve)),
        "business_us": _sum(Microseconds(Coalesce(F("working_time_to_resolve"), to_resolve,
                                                  output_field=DurationField()))),
        "restored": Count("pk", filter=caused),
        "restore_us": _sum(Microseconds(to_resolve), caused),
        "follow_up_closed": Count("pk", filter=Q(closed_at__isnull=False, closed_at__lte=F("follow_up_due"))),
    }
    return rows.annotate(**keys).values(*keys).annotate(**aggregates)


def _partials_sql(detected_rows, resolved_rows, with_groups: bool) -> tuple[str, list]:
    """One statement: the partial aggregates of both kinds, summed per day (and group)."""
    keys = ["day", *GROUP] if with_groups else ["day"]
    det_sql, det_params = _detected_query(detected_rows, with_groups).query.sql_with_params()
    res_sql, res_params = _resolved_query(resolved_rows, with_groups).query.sql_with_params()
    det_cols = [*keys, *DETECTED_COLUMNS, *(f"0 AS {c}" for c in RESOLVED_COLUMNS)]
    res_cols = [*keys, *(f"0 AS {c}" for c in DETECTED_COLUMNS), *RESOLVED_COLUMNS]
    sums = ", ".join(f"SUM({c})" for c in COLUMNS)
    key_list = ", ".join(keys)
    sql = (
        f"SELECT {key_list}, {sums} FROM ("  # noqa: S608 - column names only
        f"SELECT {', '.join(det_cols)} FROM ({det_sql}) d UNION ALL "
        f"SELECT {', '.join(res_cols)} FROM ({res_sql}) r"
        f") u GROUP BY {key_list}"
    )
    return sql, [*det_params, *res_params]


def _days_q(field_name: str, days: Iterable[date]) -> Q:
    """``field`` on one of ``days`` (consecutive days are one range)."""
    from .definitions import local_midnight

    condition = Q(pk__in=[])
    for first, end in _ranges(days):
        condition |= Q(**{f"{field_name}__gte": local_midnight(first), f"{field_name}__lt": local_midnight(end)})
    return condition


def _ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    ranges: list[list[date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] == day:
            ranges[-1][1] = day + timedelta(days=1)
        else:
            ranges.append([day, day + timedelta(days=1)])
    return [(a, b) for a, b in ranges]


def _histogram_query(rows, kind: str, scope: str, with_scope_key: bool):
    """Counts per (day[, scope key], bucket) of one kind's durations."""
    if kind == "ack":
        rows = rows.filter(acknowledged_at__isnull=False)
        micros, day = _micros("acknowledged_at", "detected_at"), _local_day("detected_at")
    else:
        micros, day = _micros("resolved_at", "detected_at"), _local_day("resolved_at")
    keys = {"day": day}
    column = SCOPES[scope]
    if with_scope_key:
        if column is None:
            keys["k"] = Value("", output_field=CharField())
        else:
            keys["k"] = Cast(column, CharField())
            rows = rows.filter(**{f"{column}__isnull": False})
    rows = rows.annotate(_bucket_micros=micros)
    keys["b"] = _bucket(F("_bucket_micros"))
    return rows.annotate(**keys).values(*keys).annotate(n=Count("pk"))


# --- building -----------------------------------------------------------------------


def _json_object_agg() -> str:
    return "jsonb_object_agg(b, n)" if connection.vendor == "postgresql" else "json_group_object(b, n)"


def _insert(days: list[tuple[date, date]] | None, end: date) -> None:
    """Insert the rollup and histogram rows of ``days`` (ranges; None: every day before ``end``)."""
    from .definitions import local_midnight

    if days is None:
        detected = _rows().filter(detected_at__lt=local_midnight(end))
        resolved = _rows().filter(resolved_at__lt=local_midnight(end))
    else:
        detected = _rows().filter(_days_q("detected_at", _expand(days)))
        resolved = _rows().filter(_days_q("resolved_at", _expand(days)))
    select_sql, params = _partials_sql(detected, resolved, with_groups=True)
    table = IncidentRollup._meta.db_table
    columns = ", ".join(["day", "service_id", "team_id", "severity", *COLUMNS])
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {select_sql}", params)  # noqa: S608
        histogram = IncidentHistogram._meta.db_table
        for kind in KINDS:
            rows = detected if kind == "ack" else resolved
            for scope in SCOPES:
                inner, inner_params = _histogram_query(rows, kind, scope, True).query.sql_with_params()
                cursor.execute(
                    f"INSERT INTO {histogram} (day, kind, scope, {connection.ops.quote_name('key')}, counts) "  # noqa: S608
                    f"SELECT day, %s, %s, k, {_json_object_agg()} FROM ({inner}) h GROUP BY day, k",
                    [kind, scope, *inner_params],
                )
        _insert_scopes(cursor, days)


def _insert_scopes(cursor, days: list[tuple[date, date]] | None) -> None:
    """``IncidentScopeRollup``: the ``IncidentRollup`` rows of ``days`` (None: all) summed per day and scope."""
    rows = IncidentRollup.objects.order_by()
    if days is not None:
        rows = rows.filter(_in_ranges(days))
    table = IncidentScopeRollup._meta.db_table
    columns = ", ".join(["day", "scope", connection.ops.quote_name("key"), *COLUMNS])
    for scope, column in SCOPES.items():
        scoped = rows if column is None else rows.filter(**{f"{column}__isnull": False})
        key = Value("", output_field=CharField()) if column is None else Cast(column, CharField())
        grouped = scoped.annotate(k=key).values("day", "k").annotate(**{f"s_{c}": Sum(c) for c in COLUMNS})
        inner, params = grouped.query.sql_with_params()
        sums = ", ".join(f"s_{c}" for c in COLUMNS)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT day, %s, k, {sums} FROM ({inner}) g",  # noqa: S608
            [scope, *params],
        )


def _expand(ranges: list[tuple[date, date]]) -> list[date]:
    return [first + timedelta(days=i) for first, end in ranges for i in range((end - first).days)]


# The first day a delivery build reads (the delivery families have no cheap "earliest row" of their own).
EPOCH = date(1970, 1, 1)


def _rebuild(source: str, ranges: list[tuple[date, date]] | None, today: date) -> None:
    """Delete and insert the rollup rows of ``source`` on the day ``ranges`` (None: every day before today)."""
    from . import daily

    if source == INCIDENTS:
        tables = [IncidentRollup, IncidentHistogram, IncidentScopeRollup]
        for model in tables:
            (model.objects.all() if ranges is None else model.objects.filter(_in_ranges(ranges))).delete()
        _insert(ranges, today)
        return
    rows = DeliveryRollup.objects.all() if ranges is None else DeliveryRollup.objects.filter(_in_ranges(ranges))
    rows.delete()
    DeliveryRollup.objects.bulk_create(daily.build_rows(ranges or [(EPOCH, today)]), batch_size=2000)


def _build(source: str, today: date) -> None:
    StaleDay.objects.filter(source=source).delete()
    _rebuild(source, None, today)
    RollupState.objects.update_or_create(
        source=source, defaults={"time_zone": settings.TIME_ZONE, "built_until": today, "updated_at": timezone.now()}
    )


@transaction.atomic
def build(*, today: date | None = None) -> int:
    """Rebuild every rollup row of every source for the days before ``today``; returns the rollup rows written."""
    from .definitions import local_today

    today = today or local_today()
    for source in SOURCES:
        _build(source, today)
    return IncidentRollup.objects.count() + DeliveryRollup.objects.count()


@transaction.atomic
def refresh(*, today: date | None = None) -> list[date]:
    """Rebuild, per source, the stale days and those from ``built_until`` to yesterday; the days rebuilt.

    Builds a source entirely when it has no rollups yet or the time zone changed (those days are not
    listed). The marks read are deleted by id, so one written while this runs (by a write this rebuild may
    not have seen) stays.
    """
    from .definitions import local_today

    today = today or local_today()
    states = {s.source: s for s in RollupState.objects.select_for_update().filter(source__in=SOURCES)}
    rebuilt: set[date] = set()
    for source in SOURCES:
        state = states.get(source)
        if state is None or state.time_zone != settings.TIME_ZONE:
            _build(source, today)
            continue
        marks = list(StaleDay.objects.filter(source=source).values_list("pk", "day"))
        days = {day for _, day in marks if day < today}
        days.update(state.built_until + timedelta(days=i) for i in range(max((today - state.built_until).days, 0)))
        if days:
            _rebuild(source, _ranges(days), today)
        StaleDay.objects.filter(pk__in=[pk for pk, _ in marks]).delete()
        if state.built_until < today:
            state.built_until = today
            state.updated_at = timezone.now()
            state.save(update_fields=["built_until", "updated_at"])
        rebuilt |= days
    return sorted(rebuilt)


def _in_ranges(ranges: list[tuple[date, date]]) -> Q:
    condition = Q(pk__in=[])
    for first, end in ranges:
        condition |= Q(day__gte=first, day__lt=end)
    return condition


# --- staleness ---------------------------------------------------------------------


def _days_of(*moments: datetime | None) -> set[date]:
    return {timezone.localdate(m) for m in moments if m is not None}


def mark_stale(days: Iterable[date], *, today: date | None = None, source: str = INCIDENTS) -> None:
    """Mark past ``days`` stale for the rollups of ``source`` (today is always live)."""
    from .definitions import local_today

    today = today or local_today()
    past = sorted({d for d in days if d < today})
    if past:
        StaleDay.objects.bulk_create([StaleDay(source=source, day=d) for d in past])


# What a write of an incident can change in the rollups: its own days, and, through ``caused_by_release``, the
# defects and "succeeded then an incident" of the release (delivery).
INCIDENT_TRACKED = ("detected_at", "resolved_at", "caused_by_release_id", "state")


def _remember(sender, instance, **kwargs):
    instance._rollup_before = {name: instance.__dict__.get(name) for name in _tracked(sender)}


def _before(instance) -> dict:
    """The tracked fields as the rollups last saw them: as this instance last saved them, else as it
    was read (``WorkflowModel.loaded_values``: incidents, changes and releases are read by the
    thousand and saved one at a time, so nothing is copied when one is read), else as it was made
    (``_remember`` on ``post_init``, for the other models)."""
    before = instance.__dict__.get("_rollup_before")
    if before is None:
        loaded = getattr(instance, "loaded_values", None)
        before = loaded() if loaded is not None else {}
    return before


def _tracked(model) -> tuple[str, ...]:
    return INCIDENT_TRACKED if model is Incident else DELIVERY_TRACKED[model]


def _saved(sender, instance, created=False, **kwargs):
    before = _before(instance)
    mark_stale(_days_of(before.get("detected_at"), before.get("resolved_at"), instance.detected_at,
                        instance.resolved_at))
    releases = {before.get("caused_by_release_id"), instance.caused_by_release_id} - {None}
    if releases and (created or any(before.get(n) != getattr(instance, n) for n in ("caused_by_release_id", "state"))):
        mark_stale(_release_days(releases), source=DELIVERY)
    _remember(sender, instance)


def _deleted(sender, instance, **kwargs):
    mark_stale(_days_of(instance.detected_at, instance.resolved_at))
    if instance.caused_by_release_id is not None:
        mark_stale(_release_days({instance.caused_by_release_id}), source=DELIVERY)


# The delivery models: the moments whose local days key their rows in ``metrics/daily.py``, and the fields
# that decide their lead-time rows (keyed by the first deployment of their release).
DELIVERY_MOMENTS = {
    "changes.ChangeRequest": ("actual_end", "approved_at", "created_at"),
    "releases.Release": ("created_at", "completed_at"),
    "releases.Deployment": ("finished_at",),
}
LEAD_TIME_FIELDS = ("release_id", "submitted_at", "state", "status")
DELIVERY_TRACKED: dict = {}


def _release_days(release_ids: Iterable[int]) -> set[date]:
    """The local days of the releases' completion and of all their deployments (a superset of what they key)."""
    from releases.models import Deployment, Release

    ids = list(release_ids)
    moments = list(Release.objects.filter(pk__in=ids).values_list("completed_at", flat=True))
    moments += list(Deployment.objects.filter(release_id__in=ids).values_list("finished_at", flat=True))
    return _days_of(*moments)


def _delivery_days(model, instance, before: dict, *, changed_links: bool) -> set[date]:
    """The days a write of a change, release or deployment touches (before and after the write)."""
    moments = DELIVERY_MOMENTS[model._meta.label]
    days = _days_of(*(before.get(name) for name in moments), *(getattr(instance, name) for name in moments))
    if model._meta.label == "releases.Release":
        releases = {instance.pk} if changed_links else set()
    else:
        releases = {before.get("release_id"), instance.release_id} - {None} if changed_links else set()
    return days | (_release_days(releases) if releases else set())


def _delivery_saved(sender, instance, created=False, **kwargs):
    before = _before(instance)
    fields = [n for n in LEAD_TIME_FIELDS if n in before]
    changed = created or any(before.get(n) != getattr(instance, n) for n in fields)
    mark_stale(_delivery_days(sender, instance, before, changed_links=changed), source=DELIVERY)
    _remember(sender, instance)


def _delivery_deleted(sender, instance, **kwargs):
    mark_stale(_delivery_days(sender, instance, {}, changed_links=sender._meta.label != "releases.Release"),
               source=DELIVERY)


def _services_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """A change's or release's services were edited: its rows of every family move between services."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    owner = model if reverse else type(instance)
    if not reverse:
        objects = [instance]
    elif action == "pre_clear":  # a service's changes or releases all leave it
        objects = owner.objects.filter(services=instance)
    else:
        objects = owner.objects.filter(pk__in=pk_set)
    days: set[date] = set()
    for obj in objects:
        days |= _delivery_days(owner, obj, {}, changed_links=True)
    mark_stale(days, source=DELIVERY)


def _bulk_updated(sender, ids, **kwargs):
    """One ``INSERT … SELECT`` of the past local days (detected, resolved) of the incidents ``ids``."""
    from .definitions import local_midnight, local_today

    midnight = local_midnight(local_today())
    rows = Incident.objects.filter(many_ids("pk", ids)).order_by()  # a sweep announces thousands
    detected = rows.filter(detected_at__lt=midnight).annotate(day=_local_day("detected_at")).values("day")
    resolved = rows.filter(resolved_at__lt=midnight).annotate(day=_local_day("resolved_at")).values("day")
    days_sql, params = detected.union(resolved).query.sql_with_params()
    table = StaleDay._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (source, day, marked_at) SELECT %s, day, %s FROM ({days_sql}) s",  # noqa: S608
            [INCIDENTS, timezone.now(), *params],
        )


def connect() -> None:
    from django.apps import apps
    from django.db.models.signals import m2m_changed

    post_save.connect(_saved, sender=Incident, dispatch_uid="metrics-rollup-saved")
    post_delete.connect(_deleted, sender=Incident, dispatch_uid="metrics-rollup-deleted")
    rows_updated.connect(_bulk_updated, sender=Incident, dispatch_uid="metrics-rollup-bulk")
    for label, moments in DELIVERY_MOMENTS.items():
        model = apps.get_model(label)
        DELIVERY_TRACKED[model] = tuple(dict.fromkeys(
            (*moments, *(n for n in LEAD_TIME_FIELDS if n in {f.attname for f in model._meta.concrete_fields}))
        ))
        if not hasattr(model, "loaded_values"):
            post_init.connect(_remember, sender=model, dispatch_uid=f"metrics-rollup-remember-{label}")
        post_save.connect(_delivery_saved, sender=model, dispatch_uid=f"metrics-rollup-saved-{label}")
        post_delete.connect(_delivery_deleted, sender=model, dispatch_uid=f"metrics-rollup-deleted-{label}")
        if hasattr(model, "services"):
            m2m_changed.connect(_services_changed, sender=model.services.through,
                                dispatch_uid=f"metrics-rollup-services-{label}")


# --- reading ----------------------------------------------------------------------


@dataclass
class Coverage:
    """Which days of a period the rollups may answer: none when not built or built in another time zone."""

    built_until: date | None
    stale: set[date] = field(default_factory=set)

    @classmethod
    def load(cls, first: date, end: date, source: str = INCIDENTS) -> Coverage:
        state = RollupState.objects.filter(source=source, time_zone=settings.TIME_ZONE).first()
        if state is None:
            return cls(None)
        stale = set(
            StaleDay.objects.filter(source=source, day__gte=first, day__lt=end).values_list("day", flat=True)
        )
        return cls(state.built_until, stale)

    def live_days(self, first: date, end: date, today: date) -> set[date]:
        """The days of ``[first, end)`` computed from the incidents."""
        days = {first + timedelta(days=i) for i in range((end - first).days)}
        if self.built_until is None:
            return days
        limit = min(self.built_until, today)
        return {d for d in days if d >= limit or d in self.stale}


def _as_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _scoped_rows(filters, first: date, end: date):
    """The rollup rows of ``[first, end)`` for ``filters``: one a day per scope with at most one filter."""
    given = [(name, value) for name, value in filters.as_dict().items() if value]
    if len(given) > 1:
        return filters.narrow(IncidentRollup.objects.filter(day__gte=first, day__lt=end))
    scope, key = ("all", "") if not given else (given[0][0], str(given[0][1]))
    return IncidentScopeRollup.objects.filter(scope=scope, key=key, day__gte=first, day__lt=end)


def day_totals(first: date, end: date, filters, coverage: Coverage, today: date) -> dict[date, dict]:
    """The partial sums of every day of ``[first, end)`` that has any: rollups plus the live days."""
    live = coverage.live_days(first, end, today)
    totals: dict[date, dict] = {}
    if len(live) < (end - first).days:
        rows = _scoped_rows(filters, first, end)
        if live:
            rows = rows.exclude(day__in=sorted(live))
        for row in rows.order_by().values("day").annotate(**{c: Sum(c) for c in COLUMNS}):
            day = _as_date(row.pop("day"))
            totals[day] = {column: int(value or 0) for column, value in row.items()}
    if live:
        base = filters.narrow(_rows())
        sql, params = _partials_sql(
            base.filter(_days_q("detected_at", live)), base.filter(_days_q("resolved_at", live)), with_groups=False
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for day, *values in cursor.fetchall():
                row = totals.setdefault(_as_date(day), dict.fromkeys(COLUMNS, 0))
                for column, value in zip(COLUMNS, values, strict=True):
                    row[column] += int(value or 0)
    return totals


def follow_up_open(first: date, end: date, filters, now: datetime) -> dict[date, int]:
    """Incidents resolved on each day of ``[first, end)``, not closed and still in their follow-up window."""
    from .definitions import local_midnight

    rows = (
        filters.narrow(_rows())
        .filter(closed_at__isnull=True, follow_up_due__gt=now,
                resolved_at__gte=local_midnight(first), resolved_at__lt=local_midnight(end))
        .annotate(day=_local_day("resolved_at")).values("day").annotate(n=Count("pk"))
    )
    return {_as_date(row["day"]): row["n"] for row in rows}


def day_histograms(
    first: date, end: date, filters, coverage: Coverage, today: date, kinds: Iterable[str]
) -> dict[str, dict[date, dict[int, int]]]:
    """Per kind and day, the duration histogram: stored for the rollup days, live for the others."""
    kinds = list(kinds)
    result: dict[str, dict[date, dict[int, int]]] = {kind: defaultdict(dict) for kind in kinds}
    if not kinds:
        return result
    given = [(name, value) for name, value in filters.as_dict().items() if value]
    live = coverage.live_days(first, end, today)
    if len(given) > 1:
        live = {first + timedelta(days=i) for i in range((end - first).days)}
    if len(live) < (end - first).days:
        scope, key = ("all", "") if not given else (given[0][0], str(given[0][1]))
        rows = IncidentHistogram.objects.filter(kind__in=kinds, scope=scope, key=key, day__gte=first, day__lt=end)
        if live:
            rows = rows.exclude(day__in=sorted(live))
        for kind, day, counts in rows.values_list("kind", "day", "counts"):
            result[kind][_as_date(day)] = counts  # bucket keys as JSON strings, as the live ones below
    if live:
        base = filters.narrow(_rows())
        for kind in kinds:
            moment = "detected_at" if kind == "ack" else "resolved_at"
            for row in _histogram_query(base.filter(_days_q(moment, live)), kind, "all", False):
                counts = result[kind][_as_date(row["day"])]
                bucket = str(row["b"])
                counts[bucket] = counts.get(bucket, 0) + row["n"]
    return result


def enabled() -> bool:
    """Whether the rollup path is used (``OPSDESK_METRIC_ROLLUPS``, default on)."""
    return getattr(settings, "OPSDESK_METRIC_ROLLUPS", True)


def scope_totals(kind: str, spans: list, today: date) -> dict[int, list[dict]]:
    """Per service or team id (``kind``: ``service`` or ``team``), the incident partial sums of each span.

    Two queries whatever the number of scopes: the rolled-up days from ``IncidentScopeRollup`` (one grouped
    query with one sum per span and column) and the live days from the incidents (one).
    """
    first, end = min(s.start_date for s in spans), max(s.end_date for s in spans)
    live = Coverage.load(first, end).live_days(first, end, today)
    result: dict[int, list[dict]] = defaultdict(lambda: [dict.fromkeys(COLUMNS, 0) for _ in spans])
    if len(live) < (end - first).days:
        rows = IncidentScopeRollup.objects.filter(scope=kind, day__gte=first, day__lt=end)
        if live:
            rows = rows.exclude(day__in=sorted(live))
        sums = {f"s{i}_{c}": Sum(c, filter=Q(day__gte=s.start_date, day__lt=s.end_date))
                for i, s in enumerate(spans) for c in COLUMNS}
        for row in rows.order_by().values("key").annotate(**sums):
            for i, totals in enumerate(result[int(row["key"])]):
                for column in COLUMNS:
                    totals[column] += int(row[f"s{i}_{column}"] or 0)
    if live:
        sql, params = _partials_sql(_rows().filter(_days_q("detected_at", live)),
                                    _rows().filter(_days_q("resolved_at", live)), with_groups=True)
        position = 1 + GROUP.index("svc" if kind == "service" else "tm")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for row in cursor.fetchall():
                day, key, values = _as_date(row[0]), row[position], row[4:]
                if key is None:
                    continue
                for i, span in enumerate(spans):
                    if span.start_date <= day < span.end_date:
                        totals = result[key][i]
                        for column, value in zip(COLUMNS, values, strict=True):
                            totals[column] += int(value or 0)
    return result


def severity_counts(first: date, end: date, filters, today: date) -> dict[date, dict[str, int]]:
    """Incidents detected per local day and severity over ``[first, end)`` (the dashboard's stacked bars).

    Past days from ``IncidentScopeRollup`` (severity scope, without a service or team filter) or the fine
    rollups, the live days from the incidents: two queries besides the coverage.
    """
    live = Coverage.load(first, end).live_days(first, end, today)
    result: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if len(live) < (end - first).days:
        if filters.service or filters.team:
            rows = filters.narrow(IncidentRollup.objects.filter(day__gte=first, day__lt=end)).values("day", "severity")
        else:
            rows = IncidentScopeRollup.objects.filter(scope="severity", day__gte=first, day__lt=end)
            if filters.severity:
                rows = rows.filter(key=filters.severity)
            rows = rows.annotate(severity=F("key")).values("day", "severity")
        if live:
            rows = rows.exclude(day__in=sorted(live))
        for row in rows.order_by().annotate(n=Sum("detected")):
            result[_as_date(row["day"])][row["severity"]] += int(row["n"] or 0)
    if live:
        detected = filters.narrow(_rows()).filter(_days_q("detected_at", live))
        grouped = detected.annotate(day=_local_day("detected_at")).values("day", "severity").annotate(n=Count("pk"))
        for row in grouped:
            result[_as_date(row["day"])][row["severity"]] += row["n"]
    return result
