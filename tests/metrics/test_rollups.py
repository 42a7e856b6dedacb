"""The incident rollups give the live figures: after a build, after writes to past days, across DST, filtered."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from incidents.models import Incident
from metrics import rollups
from metrics.definitions import (
    METRIC_KEYS,
    Filters,
    Window,
    _figures_many,
    buckets,
    compute,
    compute_live,
    flatten,
    timeseries,
    timeseries_many,
)
from metrics.models import IncidentRollup, RollupState, StaleDay
from opsdesk.rollups import announce_bulk_update
from tests.factories import ServiceFactory, TeamFactory

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
MEDIANS = {"incidents.mtta_p50_seconds", "incidents.mttr_p50_seconds"}
# A lead time may be negative (a change submitted after its release's first deployment), and the median of
# an even count averages two estimates: its bound is absolute (tests/metrics/test_delivery_rollups.py).
SIGNED_MEDIANS = {"dora.lead_time_p50_seconds"}
SCORES = {"incidents.csat_score"}  # a mean rating: the database's numeric average against sum ÷ count


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _random_incidents(build, rng: random.Random, n: int, *, first: datetime, days: int) -> list[Incident]:
    services = [build.service, ServiceFactory(), ServiceFactory()]
    teams = [build.team, TeamFactory(), None]
    made = []
    for _ in range(n):
        detected = first + timedelta(minutes=rng.randrange(days * 24 * 60))
        fields = {
            "service": rng.choice(services), "team": rng.choice(teams),
            "severity": rng.choice(["critical", "high", "medium", "low"]),
            "started_at": detected - timedelta(seconds=rng.randrange(0, 4000)),
            "response_breached": rng.random() < 0.3, "resolution_breached": rng.random() < 0.3,
            "detection_breached": rng.random() < 0.2, "customers_affected": rng.randrange(0, 50),
            "created_by_rule": "rule" if rng.random() < 0.2 else "",
        }
        roll = rng.random()
        if roll < 0.1:
            made.append(build.incident(detected_at=detected, state="cancelled", **fields))
            continue
        if roll < 0.3:
            made.append(build.incident(detected_at=detected, **fields))
            continue
        acknowledged = detected + timedelta(seconds=rng.randrange(1, 7200))
        resolved = acknowledged + timedelta(seconds=rng.randrange(60, 3 * 86400))
        if resolved >= NOW:
            made.append(build.incident(detected_at=detected, acknowledged_at=acknowledged, state="responding",
                                       **fields))
            continue
        follow_up_due = resolved + timedelta(days=rng.choice([1, 5, 30]))
        closed = rng.random() < 0.5
        closed_at = resolved + timedelta(days=rng.uniform(0, 10)) if closed else None
        if closed_at is not None and closed_at >= NOW:
            closed_at, closed = None, False
        made.append(build.resolved(
            detected_at=detected, resolved_at=resolved, acknowledged_at=acknowledged,
            state="closed" if closed else "resolved", closed_at=closed_at, follow_up_due=follow_up_due,
            working_time_to_resolve=(resolved - detected) / rng.choice([1, 2, 3]) if rng.random() < 0.7 else None,
            caused_by_release=build.release(state="completed") if rng.random() < 0.1 else None,
            **fields,
        ))
    return made


def _assert_same(period_from: date, period_to: date, filters=None) -> None:
    _assert_values_same(flatten(compute(period_from, period_to, filters)),
                        flatten(compute_live(period_from, period_to, filters)))


def _assert_values_same(rolled: dict, live: dict) -> None:
    assert rolled.keys() == live.keys()
    for key in live:
        if key in SIGNED_MEDIANS:
            assert (rolled[key] is None) == (live[key] is None), key
        elif key in MEDIANS and live[key] is not None:
            assert rolled[key] == pytest.approx(live[key], rel=rollups.MEDIAN_ERROR), key
        elif key in SCORES and live[key] is not None:
            assert rolled[key] == pytest.approx(live[key], rel=1e-12), key
        elif key.endswith("_seconds") and live[key] is not None:
            # The exact mean rounded to the microsecond; PostgreSQL's avg(interval) rounds its day and time
            # parts apart and may be one microsecond off it (SQLite's is the same to the bit).
            assert rolled[key] == pytest.approx(live[key], rel=0, abs=1.01e-6), key
        else:
            assert rolled[key] == live[key], key


PERIODS = [(date(2026, 10, 1), date(2026, 12, 11)), (date(2026, 11, 3), date(2026, 11, 17)),
           (date(2026, 12, 9), date(2026, 12, 11)), (date(2026, 10, 20), date(2026, 10, 21))]


@pytest.fixture
def history(build, now):
    incidents = _random_incidents(build, random.Random(7), 150, first=datetime(2026, 10, 1, tzinfo=UTC), days=70)
    rollups.build()
    return incidents


def test_after_a_build_the_figures_are_the_live_ones(build, history):
    assert IncidentRollup.objects.exists()
    assert RollupState.objects.get(source=rollups.INCIDENTS).built_until == date(2026, 12, 10)
    for period_from, period_to in PERIODS:
        _assert_same(period_from, period_to)
    for filters in ({"service": build.service.pk}, {"team": build.team.pk}, {"severity": "high"},
                    {"service": build.service.pk, "severity": "medium"}):
        _assert_same(date(2026, 10, 1), date(2026, 12, 11), filters)


def test_a_write_to_a_past_day_is_live_until_refreshed_then_rolled_up_again(build, history):
    old = Incident.objects.filter(state="resolved", detected_at__lt=datetime(2026, 11, 20, tzinfo=UTC)).first()
    before = {old.detected_at.date(), old.resolved_at.date()}
    old.resolved_at = NOW - timedelta(days=3)  # now resolved last week: its old and new days change
    old.closed_at, old.customers_affected, old.response_breached = None, old.customers_affected + 7, True
    old.follow_up_due = NOW + timedelta(days=2)
    old.save()
    assert before | {old.resolved_at.date()} <= set(StaleDay.objects.values_list("day", flat=True))
    _assert_same(*PERIODS[0])
    rebuilt = rollups.refresh()
    assert old.detected_at.date() in rebuilt
    assert not StaleDay.objects.exists()
    _assert_same(*PERIODS[0])
    deleted = Incident.objects.filter(state="closed").first()
    deleted.delete()
    assert StaleDay.objects.exists()
    _assert_same(*PERIODS[0])


def test_a_bulk_update_announced_by_ids_makes_the_days_stale(build, history):
    target = Incident.objects.filter(response_breached=False).exclude(state="cancelled").order_by("detected_at")
    ids = list(target.values_list("pk", flat=True)[:5])
    Incident.objects.filter(pk__in=ids).update(response_breached=True)  # like the SLA sweep's claim
    announce_bulk_update(Incident, ids)
    _assert_same(*PERIODS[0])
    rollups.refresh()
    _assert_same(*PERIODS[0])


def test_days_since_the_last_build_are_live_and_the_refresh_catches_up(build, history):
    RollupState.objects.update(built_until=date(2026, 11, 25))
    IncidentRollup.objects.filter(day__gte=date(2026, 11, 25)).delete()
    _assert_same(*PERIODS[0])
    rollups.refresh()
    assert RollupState.objects.get(source=rollups.INCIDENTS).built_until == date(2026, 12, 10)
    assert IncidentRollup.objects.filter(day__gte=date(2026, 11, 25)).exists()
    _assert_same(*PERIODS[0])


@override_settings(TIME_ZONE="Europe/Berlin")
def test_across_the_end_of_summer_time(build, now):
    # 25 October 2026: Berlin goes from UTC+2 to UTC+1, the day has 25 hours.
    _random_incidents(build, random.Random(11), 80, first=datetime(2026, 10, 23, 20, tzinfo=UTC), days=4)
    rollups.build()
    for period_from, period_to in [(date(2026, 10, 25), date(2026, 10, 26)), (date(2026, 10, 24), date(2026, 10, 27)),
                                   (date(2026, 10, 1), date(2026, 12, 11))]:
        _assert_same(period_from, period_to)
    series = timeseries("incidents.count", "day", date(2026, 10, 23), date(2026, 10, 28))
    assert [row["value"] for row in series] == [
        compute_live(date.fromisoformat(row["bucket"]), date.fromisoformat(row["bucket"]) + timedelta(days=1))
        ["incidents"]["count"] for row in series
    ]


def test_rollups_built_in_another_time_zone_are_not_used(build, history):
    with override_settings(TIME_ZONE="Europe/Berlin"):
        _assert_same(*PERIODS[0])
        assert rollups.Coverage.load(date(2026, 10, 1), date(2026, 12, 11)).built_until is None


def test_series_per_bucket_equal_the_live_sources(build, history):
    keys = [k for k in METRIC_KEYS if k.startswith("incidents.") and k not in MEDIANS] + ["automation.level"]
    for interval in ("day", "week", "month"):
        spans = [w for _, w in buckets(date(2026, 10, 1), date(2026, 12, 11), interval)]
        live = _figures_many(spans, Filters(), keys, live=True)
        rolled = [row["values"] for row in timeseries_many(keys, interval, date(2026, 10, 1), date(2026, 12, 11))]
        assert len(rolled) == len(live) == len(spans)
        for rolled_values, live_values in zip(rolled, live, strict=True):
            _assert_values_same(rolled_values, live_values)


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


# The incident source with rollups: state and stale days (2), rollup rows by day (1), live days (1),
# follow-up window (1), stored histograms (1) and the live days' histograms (2).
INCIDENT_QUERIES = 8


def test_queries_do_not_grow_with_days_or_buckets(build, history):
    incident_keys = [k for k in METRIC_KEYS if k.startswith("incidents.") and k not in (
        "incidents.process_adherence_rate", "incidents.action_items_overdue",
        "incidents.csat_score", "incidents.csat_response_rate")]
    short = _queries(lambda: _figures_many([Window(date(2026, 12, 3), date(2026, 12, 11))], Filters(), incident_keys))
    long = _queries(lambda: _figures_many([Window(date(2025, 12, 11), date(2026, 12, 11))], Filters(), incident_keys))
    assert short == long == INCIDENT_QUERIES
    week = _queries(lambda: timeseries("incidents.mttr_seconds", "day", date(2026, 12, 4), date(2026, 12, 11)))
    year = _queries(lambda: timeseries("incidents.mttr_seconds", "day", date(2025, 12, 11), date(2026, 12, 11)))
    assert week == year == INCIDENT_QUERIES - 4  # no medians (3 histogram queries), no follow-up window
    summary = _queries(lambda: compute(date(2025, 12, 11), date(2026, 12, 11)))
    assert summary == _queries(lambda: compute(date(2026, 12, 3), date(2026, 12, 11)))


def test_the_median_estimate_is_within_one_bucket_of_percentile_cont():
    rng = random.Random(3)
    for n in (1, 2, 3, 10, 101, 1000):
        values = [rng.lognormvariate(8, 2) for _ in range(n)]
        counts: dict[int, int] = {}
        for value in values:
            counts[rollups.bucket_of(value)] = counts.get(rollups.bucket_of(value), 0) + 1
        assert rollups.median_of(counts) == pytest.approx(statistics.median(values), rel=rollups.MEDIAN_ERROR)
    assert rollups.median_of({}) is None


@pytest.mark.parametrize("filters", [None, {"severity": "high"}, {"team": 0}])
def test_incidents_by_severity_from_the_rollups_equal_the_live_counts(build, history, filters):
    from metrics.definitions import incident_counts_by_severity

    filters = {"team": build.team.pk} if filters == {"team": 0} else filters
    old = Incident.objects.exclude(state="cancelled").filter(detected_at__lt=datetime(2026, 11, 1, tzinfo=UTC)).first()
    old.severity = "critical" if old.severity != "critical" else "low"
    old.save()  # a stale day, read live
    for interval in ("day", "week"):
        rolled = incident_counts_by_severity(interval, date(2026, 10, 1), date(2026, 12, 11), filters)
        with override_settings(OPSDESK_METRIC_ROLLUPS=False):
            live = incident_counts_by_severity(interval, date(2026, 10, 1), date(2026, 12, 11), filters)
        assert rolled == live
        assert sum(sum(row["counts"].values()) for row in rolled) > 0
