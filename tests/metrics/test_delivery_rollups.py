"""The delivery rollups and the per-day sources give the live figures: after a build, after writes, filtered.

Random changes, releases, deployments, caused incidents, action items and surveys over ten weeks; every
figure of ``compute`` and of the series is compared with ``compute_live`` (each source straight from the
rows, span by span: ``metrics.definitions.SOURCES``).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from changes.models import ChangeRequest
from incidents.models import ActionItem, Incident, SatisfactionSurvey, SurveyAnswer
from metrics import rollups
from metrics.definitions import METRIC_KEYS, METRICS, Filters, Window, _figures_many, buckets, timeseries
from metrics.insights import insights
from metrics.models import DeliveryRollup, IncidentRollup, RollupState, StaleDay
from releases.models import Deployment, Release
from tests.factories import ServiceFactory, TeamFactory

from .test_rollups import NOW, _assert_same, _assert_values_same, _random_incidents

FIRST = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 70
PERIODS = [(date(2026, 10, 1), date(2026, 12, 11)), (date(2026, 11, 3), date(2026, 11, 17)),
           (date(2026, 12, 9), date(2026, 12, 11)), (date(2026, 10, 20), date(2026, 10, 21))]


def _moment(rng: random.Random) -> datetime:
    return FIRST + timedelta(minutes=rng.randrange(DAYS * 24 * 60))


def _random_delivery(build, rng: random.Random, *, releases: int = 25, changes: int = 80) -> None:
    services = [build.service, ServiceFactory(owner_team=TeamFactory()), ServiceFactory()]
    made = []
    for _ in range(releases):
        created = _moment(rng)
        completed = created + timedelta(hours=rng.randrange(1, 400)) if rng.random() < 0.7 else None
        if completed is not None and completed >= NOW:
            completed = None
        release = build.release(
            state="completed" if completed else rng.choice(["planning", "implementation", "failed"]),
            services=rng.sample(services, rng.choice([1, 1, 2])), created_at=created, completed_at=completed,
            created_by_rule="rule" if rng.random() < 0.2 else "",
        )
        made.append(release)
        for _ in range(rng.randrange(0, 4)):
            finished = _moment(rng)
            build.deployment(release=release, status=rng.choice(["succeeded", "succeeded", "failed", "running"]),
                             finished_at=finished if finished < NOW else NOW - timedelta(hours=1))
        for _ in range(rng.choice([0, 0, 1, 2])):
            detected = _moment(rng)
            build.incident(detected_at=detected, caused_by_release=release,
                           state=rng.choice(["detected", "detected", "cancelled"]))
    for _ in range(changes):
        created = _moment(rng)
        submitted = created + timedelta(hours=rng.randrange(0, 48)) if rng.random() < 0.8 else None
        approved = submitted + timedelta(hours=rng.randrange(1, 72)) if submitted and rng.random() < 0.7 else None
        start = (approved or created) + timedelta(hours=rng.randrange(1, 48))
        end = start + timedelta(minutes=rng.randrange(5, 600))
        state = rng.choice(["completed", "completed", "failed", "rolled_back", "cancelled", "approved", "draft"])
        finished = state in ("completed", "failed", "rolled_back", "cancelled") and end < NOW
        build.change(
            state=state if finished or state in ("approved", "draft") else "approved",
            services=rng.sample(services, rng.choice([1, 1, 2])), created_at=created,
            submitted_at=submitted, approved_at=approved if approved and approved < NOW else None,
            actual_start=start if finished and rng.random() < 0.9 else None, actual_end=end if finished else None,
            release=rng.choice(made) if rng.random() < 0.6 else None,
            created_by_rule="rule" if rng.random() < 0.25 else "",
        )


def _random_process(build, rng: random.Random) -> None:
    incidents = list(Incident.objects.exclude(state="cancelled").order_by("pk"))
    for incident in rng.sample(incidents, min(30, len(incidents))):
        created = incident.detected_at + timedelta(hours=rng.randrange(0, 48))
        closed = created + timedelta(days=rng.uniform(0, 20)) if rng.random() < 0.5 else None
        ActionItem.objects.create(
            incident=incident, title="Fix", owner=build.user, created_at=created,
            due_date=(created + timedelta(days=rng.randrange(-2, 10))).date(),
            state="done" if closed and closed < NOW else "open",
            closed_at=closed if closed and closed < NOW else None,
        )
    for incident in [i for i in incidents if i.resolved_at][:25]:
        survey = SatisfactionSurvey.objects.create(incident=incident, recipient="caller@example.com")
        if rng.random() < 0.7:
            SurveyAnswer.objects.create(survey=survey, rating=rng.randrange(1, 6))


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def history(build, now):
    rng = random.Random(21)
    _random_incidents(build, rng, 60, first=FIRST, days=DAYS)
    _random_delivery(build, rng)
    _random_process(build, rng)
    rollups.build()
    return build


FILTERS = [None, "service", "team", "severity", "service+severity"]


def _filters(build, name):
    return {None: None, "service": {"service": build.service.pk}, "team": {"team": build.team.pk},
            "severity": {"severity": "high"},
            "service+severity": {"service": build.service.pk, "severity": "medium"}}[name]


@pytest.mark.parametrize("filters", FILTERS)
def test_after_a_build_every_figure_is_the_live_one(history, filters):
    assert DeliveryRollup.objects.filter(service_id__isnull=True).exists()
    assert DeliveryRollup.objects.filter(service_id=history.service.pk).exists()
    for period_from, period_to in PERIODS:
        _assert_same(period_from, period_to, _filters(history, filters))


def _assert_all_periods(build):
    for period_from, period_to in PERIODS[:2]:
        for name in (None, "service"):
            _assert_same(period_from, period_to, _filters(build, name))


def _refreshed_and_same(build):
    """Live before the refresh (the days are marked), rolled up again after it: the live figures both times."""
    assert StaleDay.objects.filter(source=rollups.DELIVERY).exists()
    _assert_all_periods(build)
    rollups.refresh()
    assert not StaleDay.objects.exists()
    _assert_all_periods(build)


def test_writes_to_changes_mark_their_days_and_the_refresh_rolls_them_up(history):
    change = ChangeRequest.objects.filter(actual_end__isnull=False, release__isnull=False).first()
    change.actual_end -= timedelta(days=9)
    change.submitted_at = (change.submitted_at or change.created_at) - timedelta(days=3)  # its lead time too
    change.save()
    _refreshed_and_same(history)
    moved = ChangeRequest.objects.exclude(state="cancelled").filter(services=history.service).first()
    moved.services.set([ServiceFactory()])  # its rows leave the service's rollups
    _refreshed_and_same(history)
    ChangeRequest.objects.filter(approved_at__isnull=False).first().delete()
    _refreshed_and_same(history)


def test_a_new_first_deployment_moves_the_lead_time_of_every_change_of_the_release(history):
    release = Release.objects.filter(changes__submitted_at__isnull=False, deployments__status="succeeded").first()
    earliest = release.deployments.order_by("finished_at").first().finished_at
    history.deployment(release=release, status="succeeded", finished_at=earliest - timedelta(days=4))
    _refreshed_and_same(history)
    release.deployments.order_by("finished_at").first().delete()
    _refreshed_and_same(history)


def test_incidents_caused_by_a_release_and_release_edits_mark_the_release_days(history):
    release = Release.objects.filter(completed_at__isnull=False, deployments__status="succeeded").first()
    incident = Incident.objects.filter(caused_by_release__isnull=True).exclude(state="cancelled").first()
    incident.caused_by_release = release  # a defect of the release, and its deployments caused an incident
    incident.save()
    _refreshed_and_same(history)
    incident.delete()
    _refreshed_and_same(history)
    release.completed_at -= timedelta(days=5)
    release.save()
    _refreshed_and_same(history)
    release.services.add(ServiceFactory())
    _refreshed_and_same(history)
    Deployment.objects.filter(release=release).first().delete()
    _refreshed_and_same(history)


def test_a_service_losing_all_its_changes_and_releases_marks_their_days(history):
    history.service.changes.clear()
    _refreshed_and_same(history)
    history.service.releases.clear()
    _refreshed_and_same(history)


def test_a_refresh_builds_a_source_never_built_and_leaves_the_other_alone(history):
    RollupState.objects.filter(source=rollups.DELIVERY).delete()  # as after an upgrade
    DeliveryRollup.objects.all().delete()
    incident_rows = set(IncidentRollup.objects.values_list("pk", flat=True))
    _assert_all_periods(history)  # every delivery day live meanwhile
    rollups.refresh()
    assert DeliveryRollup.objects.filter(service_id__isnull=True).exists()
    assert set(IncidentRollup.objects.values_list("pk", flat=True)) == incident_rows  # not rebuilt
    _assert_all_periods(history)


def test_with_rollups_disabled_the_per_day_sources_are_the_live_ones(history):
    with override_settings(OPSDESK_METRIC_ROLLUPS=False):
        for name in FILTERS:
            _assert_same(*PERIODS[0], _filters(history, name))


def _series_keys() -> list[str]:
    return [k for k in METRIC_KEYS if not k.startswith("incidents.")]  # incidents: tests/metrics/test_rollups.py


@pytest.mark.parametrize("filters", [None, "service", "team"])
def test_series_per_bucket_equal_the_live_sources(history, filters):
    flt = Filters.of(_filters(history, filters))
    keys = _series_keys() + ["incidents.process_adherence_rate", "incidents.action_items_overdue",
                             "incidents.csat_score", "incidents.csat_response_rate"]
    for interval in ("day", "week", "month"):
        spans = [w for _, w in buckets(date(2026, 10, 1), date(2026, 12, 11), interval)]
        live = _figures_many(spans, flt, keys, live=True)
        rolled = _figures_many(spans, flt, keys)
        assert len(rolled) == len(live) == len(spans)
        for rolled_values, live_values in zip(rolled, live, strict=True):
            _assert_values_same(rolled_values, live_values)


def _lead_times(window) -> list[float]:
    """The lead times of ``window`` in seconds, from the rows (each release's first succeeded deployment)."""
    values = []
    for release in Release.objects.all():
        finished = sorted(d.finished_at for d in release.deployments.filter(status="succeeded"))
        if finished and window.start <= finished[0] < window.end:
            values += [(finished[0] - c.submitted_at).total_seconds() for c in
                       release.changes.exclude(state="cancelled").filter(submitted_at__isnull=False)]
    return sorted(values)


@pytest.mark.parametrize("interval", ["day", "week"])
def test_the_lead_time_median_is_within_the_histogram_bound(history, interval):
    spans = [w for _, w in buckets(date(2026, 10, 1), date(2026, 12, 11), interval)]
    compared = 0
    for window, values in zip(spans, _figures_many(spans, Filters(), ["dora.lead_time_p50_seconds"]), strict=True):
        exact = _lead_times(window)
        estimate = values["dora.lead_time_p50_seconds"]
        if not exact:
            assert estimate is None
            continue
        middle = exact[(len(exact) - 1) // 2: len(exact) // 2 + 1]
        # Each middle value is estimated within MEDIAN_ERROR of itself (or within a second of zero).
        bound = max(rollups.MEDIAN_ERROR * sum(abs(v) for v in middle) / len(middle), 1.0)
        assert estimate == pytest.approx(sum(middle) / len(middle), abs=bound)
        compared += 1
    assert compared >= 3
    assert any(v < 0 for v in _lead_times(Window(date(2026, 10, 1), date(2026, 12, 11))))  # signed ones too


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def _one_per_family() -> list[str]:
    """One metric of every source (family of metrics)."""
    chosen: dict[str, str] = {}
    for key in METRIC_KEYS:
        chosen.setdefault(METRICS[key].source, key)
    return list(chosen.values()) + ["dora.lead_time_p50_seconds", "incidents.mttr_p50_seconds"]


@pytest.mark.parametrize("metric", _one_per_family())
def test_a_series_makes_the_same_queries_for_7_and_365_buckets(history, metric):
    week = _queries(lambda: timeseries(metric, "day", date(2026, 12, 4), date(2026, 12, 11)))
    year = _queries(lambda: timeseries(metric, "day", date(2025, 12, 11), date(2026, 12, 11)))
    assert week == year
    # The incident source's fixed handful (test_rollups.py); the others: the delivery rollups' state, stale
    # days and rows (3), then one grouped query per family (two with the lead time's histogram).
    assert year <= 9


def test_insights_from_the_rollups_are_the_live_ones(history):
    periods = [(date(2026, 11, 1), date(2026, 12, 1)), (date(2026, 11, 26), date(2026, 12, 11))]
    with override_settings(OPSDESK_INSIGHT_MIN_SAMPLE=1, OPSDESK_INSIGHT_MIN_CHANGE=0.0,
                           OPSDESK_INSIGHT_MIN_RATE_POINTS=0.0):
        for period in periods:
            rolled = insights(*period)
            with override_settings(OPSDESK_METRIC_ROLLUPS=False):
                live = insights(*period)
            assert rolled  # the thresholds are off: every difference is an insight
            assert [(i["metric"], i["scope"], i["sample"], i["previous_sample"]) for i in rolled] == [
                (i["metric"], i["scope"], i["sample"], i["previous_sample"]) for i in live
            ]
            for r, v in zip(rolled, live, strict=True):
                assert r["value"] == pytest.approx(v["value"], rel=1e-9, abs=1.01e-6)
                assert r["previous"] == pytest.approx(v["previous"], rel=1e-9, abs=1.01e-6)
