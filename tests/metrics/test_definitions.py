"""Every metric of §5 against a small hand-built data set with hand-computed values."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from metrics.definitions import (
    METRIC_KEYS,
    bucket_start,
    buckets,
    compute,
    flatten,
    incident_counts_by_severity,
    timeseries,
)
from metrics.rollups import MEDIAN_ERROR
from tests.factories import ServiceFactory, TeamFactory

from .conftest import DEC_1, NOV_1, at

pytestmark = pytest.mark.django_db

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)
HOUR = 3600.0
DAY = 86400.0


def november(**filters):
    return flatten(compute(NOV, DEC, filters))


# --- shape and "no data" ------------------------------------------------------------


def test_compute_has_the_spec_shape_and_every_key():
    data = compute(NOV, DEC)
    assert list(data) == ["period", "incidents", "changes", "releases", "dora", "automation"]
    assert data["period"] == {"from": "2026-11-01", "to": "2026-12-01"}
    assert set(flatten(data)) == set(METRIC_KEYS)
    assert len(METRIC_KEYS) == 33
    assert data["incidents"]["mttr_seconds"] is None


def test_no_data_is_null_and_counts_are_zero():
    values = november()
    zero = {"incidents.count", "incidents.customer_impact", "incidents.frequency_per_week",
            "changes.count", "dora.deployment_frequency_per_day", "incidents.action_items_overdue",
            "automation.runs"}
    for key, value in values.items():
        if key in zero:
            assert value == 0, key
        else:
            assert value is None, key


def test_from_not_before_to_is_refused():
    with pytest.raises(ValueError, match="from < to"):
        compute(DEC, NOV)


# --- incidents ----------------------------------------------------------------------------


def test_count_period_is_half_open_cancelled_excluded_confidential_counted(build):
    build.incident(detected_at=NOV_1)  # exactly at `from`: in
    build.incident(detected_at=at(15), confidential=True)  # counted, never named
    build.incident(detected_at=DEC_1)  # exactly at `to`: out
    build.incident(detected_at=NOV_1 - timedelta(seconds=1))  # before: out
    build.incident(detected_at=at(20), state="cancelled", cancel_reason="duplicate")
    assert november()["incidents.count"] == 2


def test_mttd_is_mean_detected_minus_started(build):
    for minutes in (10, 20, 60):
        build.incident(detected_at=at(3, 12), started_at=at(3, 12) - timedelta(minutes=minutes))
    build.incident(detected_at=at(4), started_at=at(4) - timedelta(hours=9), state="cancelled")
    assert november()["incidents.mttd_seconds"] == 1800.0


def test_mtta_over_acknowledged_only_and_its_median_odd_and_even(build):
    build.incident(detected_at=at(2), acknowledged_at=at(2, 0, 5), state="responding")
    build.incident(detected_at=at(3), acknowledged_at=at(3, 0, 15), state="responding")
    build.incident(detected_at=at(4))  # not acknowledged: not in the set
    values = november()
    assert values["incidents.mtta_seconds"] == 600.0
    # Medians come from log-spaced histograms (metrics.rollups): within one bucket's width of the exact one.
    assert values["incidents.mtta_p50_seconds"] == pytest.approx(600.0, rel=MEDIAN_ERROR)  # even: 300, 900
    build.incident(detected_at=at(5), acknowledged_at=at(5, 0, 40), state="responding")
    values = november()
    assert values["incidents.mtta_seconds"] == pytest.approx((300 + 900 + 2400) / 3)
    assert values["incidents.mtta_p50_seconds"] == pytest.approx(900.0, rel=MEDIAN_ERROR)  # odd: the middle one


def test_mttr_over_incidents_resolved_in_the_period_and_median(build):
    build.resolved(detected_at=at(31, 22, month=10), resolved_at=at(1, 0))  # detected before, resolved in: 2 h
    build.resolved(detected_at=at(10), resolved_at=at(10, 1), state="closed", closed_at=at(11))  # 1 h
    build.resolved(detected_at=at(30, 20), resolved_at=DEC_1)  # resolved at `to`: out
    build.incident(detected_at=at(12))  # open
    values = november()
    assert values["incidents.mttr_seconds"] == 1.5 * HOUR
    assert values["incidents.mttr_p50_seconds"] == pytest.approx(1.5 * HOUR, rel=MEDIAN_ERROR)
    build.resolved(detected_at=at(12), resolved_at=at(12, 8))  # 8 h
    values = november()
    assert values["incidents.mttr_seconds"] == pytest.approx((2 + 1 + 8) / 3 * HOUR)
    assert values["incidents.mttr_p50_seconds"] == pytest.approx(2 * HOUR, rel=MEDIAN_ERROR)


def test_resolution_rate_is_share_resolved_or_closed_now(build):
    build.resolved(detected_at=at(2), resolved_at=at(2, 1))
    build.resolved(detected_at=at(3), resolved_at=at(3, 1), state="closed", closed_at=at(4))
    build.incident(detected_at=at(4), state="responding", acknowledged_at=at(4, 1))
    build.incident(detected_at=at(5))
    build.incident(detected_at=at(6), state="cancelled", cancel_reason="false_alarm")
    # detected in the period, resolved after it: still counts as resolved now
    build.resolved(detected_at=at(30, 23), resolved_at=at(2, month=12))
    assert november()["incidents.resolution_rate"] == 3 / 5


def test_sla_met_rates(build):
    build.incident(detected_at=at(2))  # open, within its window: met
    build.incident(detected_at=at(3), response_breached=True, resolution_breached=True)
    build.incident(detected_at=at(4), resolution_breached=True)
    build.resolved(detected_at=at(5), resolved_at=at(5, 1))
    build.incident(detected_at=at(6), response_breached=True, state="cancelled", cancel_reason="other")
    values = november()
    assert values["incidents.response_sla_met_rate"] == 0.75
    assert values["incidents.resolution_sla_met_rate"] == 0.5


def test_customer_impact_and_frequency_per_week(build):
    build.incident(detected_at=at(2), customers_affected=10)
    build.incident(detected_at=at(9), customers_affected=5, confidential=True)
    build.incident(detected_at=at(10), customers_affected=0)
    build.incident(detected_at=at(11), customers_affected=100, state="cancelled", cancel_reason="duplicate")
    values = november()
    assert values["incidents.customer_impact"] == 15
    assert values["incidents.frequency_per_week"] == 3 / (30 / 7)


def test_time_to_restore_only_incidents_caused_by_a_release_or_change(build):
    release = build.release()
    change = build.change()
    build.resolved(detected_at=at(2), resolved_at=at(2, 2), caused_by_release=release)
    build.resolved(detected_at=at(3), resolved_at=at(3, 4), caused_by_change=change)
    build.resolved(detected_at=at(4), resolved_at=at(4, 10))  # not caused by a release or change
    build.resolved(detected_at=at(30), resolved_at=at(1, 5, month=12), caused_by_change=change)  # resolved later
    assert november()["dora.time_to_restore_seconds"] == 3 * HOUR


# --- changes -----------------------------------------------------------------------------------


def test_change_outcomes_and_implementation_time(build):
    build.finished_change(state="completed", actual_start=at(2), actual_end=at(2, 2))
    build.finished_change(state="failed", actual_start=at(3), actual_end=at(3, 1))
    build.finished_change(state="rolled_back", actual_start=at(4), actual_end=at(4, 3))
    build.finished_change(state="completed", actual_start=at(30, 23), actual_end=DEC_1)  # at `to`: out
    build.change(state="in_progress", actual_start=at(5))  # no outcome
    build.change(state="cancelled")
    values = november()
    assert values["changes.count"] == 3
    assert values["changes.success_rate"] == 1 / 3
    assert values["changes.rollback_rate"] == 1 / 3
    assert values["changes.implementation_time_seconds"] == 2 * HOUR


def test_approval_time_over_changes_approved_in_the_period(build):
    build.change(state="approved", submitted_at=at(2), approved_at=at(2, 1))
    build.change(state="in_progress", submitted_at=at(3), approved_at=at(3, 3), actual_start=at(4))
    build.change(state="approved", submitted_at=at(30, month=10), approved_at=at(31, month=10))  # before
    build.change(state="cancelled", submitted_at=at(5), approved_at=at(5, 9))  # cancelled after approval
    assert november()["changes.approval_time_seconds"] == 2 * HOUR


# --- releases and DORA ------------------------------------------------------------------------------


def test_deployment_success_rate_and_frequency(build):
    release = build.release(state="implementation")
    for day in (2, 3, 4):
        build.deployment(release=release, status="succeeded", finished_at=at(day))
    build.deployment(release=release, status="failed", finished_at=at(5))
    Deployment = type(build.deployment(release=release, status="succeeded", finished_at=DEC_1))  # out
    Deployment.objects.create(release=release, environment="staging", status="running", started_at=at(6))
    values = november()
    assert values["releases.deployment_success_rate"] == 0.75
    assert values["dora.deployment_frequency_per_day"] == 3 / 30


def test_cycle_time_over_releases_completed_in_the_period(build):
    build.release(state="completed", created_at=at(1) - timedelta(days=10), completed_at=at(1))
    build.release(state="completed", created_at=at(5), completed_at=at(25))
    build.release(state="completed", created_at=at(1, month=10), completed_at=DEC_1)  # at `to`: out
    assert november()["releases.cycle_time_seconds"] == 15 * DAY


def test_defect_rate_is_incidents_caused_per_completed_release(build):
    first = build.release(state="completed", completed_at=at(10))
    second = build.release(state="completed", completed_at=at(20))
    earlier = build.release(state="completed", completed_at=at(20, month=10))
    build.incident(detected_at=at(11), caused_by_release=first)
    build.incident(detected_at=at(12), caused_by_release=first)
    build.incident(detected_at=at(13), caused_by_release=first, state="cancelled", cancel_reason="duplicate")
    build.incident(detected_at=at(2, month=12), caused_by_release=second)  # caused later: still counts
    build.incident(detected_at=at(14), caused_by_release=earlier)
    assert november()["releases.defect_rate"] == 3 / 2


def test_change_failure_rate(build):
    caused = build.release(state="verification")
    clean = build.release(state="verification")
    build.incident(detected_at=at(20), caused_by_release=caused)
    build.deployment(release=caused, status="succeeded", finished_at=at(3))
    build.deployment(release=clean, status="succeeded", finished_at=at(4))
    build.deployment(release=clean, status="succeeded", finished_at=at(5))
    build.deployment(release=clean, status="failed", finished_at=at(6))
    assert november()["dora.change_failure_rate"] == 2 / 4


def test_change_failure_rate_ignores_cancelled_incidents(build):
    release = build.release(state="verification")
    build.incident(detected_at=at(20), caused_by_release=release, state="cancelled", cancel_reason="false_alarm")
    build.deployment(release=release, status="succeeded", finished_at=at(3))
    assert november()["dora.change_failure_rate"] == 0.0


def test_lead_time_from_submission_to_first_succeeded_deployment(build):
    release = build.release(state="verification")
    build.deployment(release=release, status="failed", finished_at=at(8))
    build.deployment(release=release, status="succeeded", finished_at=at(10))  # first succeeded
    build.deployment(release=release, status="succeeded", finished_at=at(12))
    build.change(state="completed", release=release, submitted_at=at(1))  # 9 days
    build.change(state="completed", release=release, submitted_at=at(5))  # 5 days
    build.change(state="cancelled", release=release, submitted_at=at(2))
    build.change(state="draft", release=release)  # never submitted
    early = build.release(state="completed")
    build.deployment(release=early, status="succeeded", finished_at=at(25, month=10))  # first deployed before
    build.deployment(release=early, status="succeeded", finished_at=at(3))
    build.change(state="completed", release=early, submitted_at=at(20, month=10))
    failed_only = build.release(state="failed")
    build.deployment(release=failed_only, status="failed", finished_at=at(4))
    build.change(state="approved", release=failed_only, submitted_at=at(1))
    values = november()
    assert values["dora.lead_time_seconds"] == 7 * DAY
    # The median comes from the lead-time histogram (metrics/daily.py), within one bucket of the exact one.
    assert values["dora.lead_time_p50_seconds"] == pytest.approx(7 * DAY, rel=MEDIAN_ERROR)
    build.change(state="completed", release=release, submitted_at=at(9))  # 1 day
    values = november()
    assert values["dora.lead_time_seconds"] == pytest.approx(15 / 3 * DAY)
    assert values["dora.lead_time_p50_seconds"] == pytest.approx(5 * DAY, rel=MEDIAN_ERROR)


# --- filters ---------------------------------------------------------------------------------------


def test_service_filter_applies_to_incidents_changes_releases_and_deployments(build, other_service):
    mine = build.service
    build.incident(detected_at=at(2))
    build.incident(detected_at=at(3), service=other_service)
    build.finished_change(state="completed", actual_start=at(2), actual_end=at(2, 1), services=[mine, other_service])
    build.finished_change(state="failed", actual_start=at(3), actual_end=at(3, 1), services=[other_service])
    release = build.release(state="completed", services=[mine], created_at=at(1), completed_at=at(11))
    other_release = build.release(state="completed", services=[other_service], created_at=at(1), completed_at=at(4))
    build.deployment(release=release, status="succeeded", finished_at=at(10))
    build.deployment(release=other_release, status="failed", finished_at=at(3))
    values = november(service=mine.pk)
    assert values["incidents.count"] == 1
    assert values["changes.count"] == 1  # listed with two services, counted once
    assert values["changes.success_rate"] == 1.0
    assert values["releases.cycle_time_seconds"] == 10 * DAY
    assert values["releases.deployment_success_rate"] == 1.0
    other = november(service=other_service.pk)
    assert other["incidents.count"] == 1
    assert other["changes.count"] == 2
    assert other["releases.deployment_success_rate"] == 0.0
    unfiltered = november()
    assert unfiltered["incidents.count"] == 2
    assert unfiltered["releases.deployment_success_rate"] == 0.5


def test_team_and_severity_filter_incidents_only(build):
    team = TeamFactory()
    build.incident(detected_at=at(2), severity="critical", team=team)
    build.incident(detected_at=at(3), severity="low")
    build.incident(detected_at=at(4), severity="critical")
    build.finished_change(state="completed", actual_start=at(2), actual_end=at(2, 1))
    assert november(team=team.pk)["incidents.count"] == 1
    assert november(severity="critical")["incidents.count"] == 2
    assert november(severity="critical", team=team.pk)["incidents.count"] == 1
    assert november(severity="high")["incidents.count"] == 0
    assert november(team=team.pk)["changes.count"] == 1  # changes are not filtered by team


def test_filters_accept_model_instances(build):
    build.incident(detected_at=at(2))
    assert flatten(compute(NOV, DEC, {"service": build.service}))["incidents.count"] == 1
    assert flatten(compute(NOV, DEC, {"service": ServiceFactory()}))["incidents.count"] == 0


# --- time zone ---------------------------------------------------------------------------------------


@override_settings(TIME_ZONE="Europe/Berlin")
def test_days_start_at_midnight_in_the_site_time_zone(build):
    berlin = ZoneInfo("Europe/Berlin")
    build.incident(detected_at=datetime(2026, 11, 1, 0, 0, tzinfo=berlin))  # = 31 Oct 23:00 UTC: in
    build.incident(detected_at=datetime(2026, 10, 31, 23, 59, tzinfo=berlin))  # out
    build.incident(detected_at=at(30, 23, 30))  # = 1 Dec 00:30 Berlin: out
    build.incident(detected_at=datetime(2026, 12, 1, 0, 0, tzinfo=berlin))  # at `to`: out
    assert november()["incidents.count"] == 1


def test_the_same_incidents_in_utc(build):
    build.incident(detected_at=at(31, 23, 30, month=10))  # before 1 Nov UTC: out
    build.incident(detected_at=at(30, 23, 30))  # in
    assert november()["incidents.count"] == 1


# --- time series -----------------------------------------------------------------------------------------


def test_bucket_starts():
    assert bucket_start(date(2026, 11, 18), "week") == date(2026, 11, 16)  # Monday
    assert bucket_start(date(2026, 11, 16), "week") == date(2026, 11, 16)
    assert bucket_start(date(2026, 11, 18), "month") == date(2026, 11, 1)
    assert bucket_start(date(2026, 11, 18), "day") == date(2026, 11, 18)
    with pytest.raises(ValueError, match="Unknown interval"):
        bucket_start(date(2026, 11, 18), "year")


def test_week_buckets_are_clipped_to_the_period():
    spans = buckets(date(2026, 11, 4), date(2026, 11, 20), "week")
    assert [(label.isoformat(), w.start_date.isoformat(), w.end_date.isoformat()) for label, w in spans] == [
        ("2026-11-02", "2026-11-04", "2026-11-09"),
        ("2026-11-09", "2026-11-09", "2026-11-16"),
        ("2026-11-16", "2026-11-16", "2026-11-20"),
    ]


def test_daily_series_counts_each_day(build):
    build.incident(detected_at=at(1))
    build.incident(detected_at=at(2, 23, 59, 59))
    build.incident(detected_at=at(2, 12))
    build.incident(detected_at=at(4))  # outside [1, 4)
    assert timeseries("incidents.count", "day", NOV, date(2026, 11, 4)) == [
        {"bucket": "2026-11-01", "value": 1},
        {"bucket": "2026-11-02", "value": 2},
        {"bucket": "2026-11-03", "value": 0},
    ]


def test_weekly_series_uses_the_clipped_window(build):
    build.incident(detected_at=at(2))  # Monday 2 Nov: before the period start (4 Nov)
    build.resolved(detected_at=at(4), resolved_at=at(4, 2))
    build.resolved(detected_at=at(8, 23), resolved_at=at(9, 1))  # resolved Monday 9 Nov
    build.resolved(detected_at=at(19), resolved_at=at(20, 1))  # resolved on the excluded `to` day
    assert timeseries("incidents.mttr_seconds", "week", date(2026, 11, 4), date(2026, 11, 20)) == [
        {"bucket": "2026-11-02", "value": 2 * HOUR},
        {"bucket": "2026-11-09", "value": 2 * HOUR},
        {"bucket": "2026-11-16", "value": None},
    ]
    assert timeseries("incidents.count", "week", date(2026, 11, 4), date(2026, 11, 20)) == [
        {"bucket": "2026-11-02", "value": 2},
        {"bucket": "2026-11-09", "value": 0},
        {"bucket": "2026-11-16", "value": 1},
    ]


def test_monthly_series_and_frequency_per_bucket(build):
    build.incident(detected_at=at(31, 23, month=10))
    build.incident(detected_at=NOV_1)
    build.incident(detected_at=at(30, 23, 59))
    build.incident(detected_at=DEC_1)
    series = timeseries("incidents.frequency_per_week", "month", date(2026, 10, 15), date(2026, 12, 2))
    assert series == [
        {"bucket": "2026-10-01", "value": 1 / (17 / 7)},
        {"bucket": "2026-11-01", "value": 2 / (30 / 7)},
        {"bucket": "2026-12-01", "value": 1 / (1 / 7)},
    ]


def test_incident_counts_by_severity(build):
    build.incident(detected_at=at(2), severity="critical")
    build.incident(detected_at=at(3), severity="critical")
    build.incident(detected_at=at(10), severity="low")
    build.incident(detected_at=at(11), severity="low", state="cancelled", cancel_reason="duplicate")
    table = incident_counts_by_severity("week", date(2026, 11, 2), date(2026, 11, 16))
    assert table == [
        {"bucket": "2026-11-02", "counts": {"critical": 2, "high": 0, "medium": 0, "low": 0}},
        {"bucket": "2026-11-09", "counts": {"critical": 0, "high": 0, "medium": 0, "low": 1}},
    ]


# --- queries ----------------------------------------------------------------------------------------------


def _populate(build, n):
    release = build.release(state="completed", created_at=at(1), completed_at=at(20))
    for i in range(n):
        build.resolved(detected_at=at(1 + i % 28, 1), resolved_at=at(1 + i % 28, 3), caused_by_release=release)
        build.change(state="completed", release=release, submitted_at=at(1), actual_start=at(2),
                     actual_end=at(2, 1), approved_at=at(1, 5))
        build.deployment(release=release, status="succeeded" if i % 3 else "failed", finished_at=at(1 + i % 28, 5))


def _queries_of_compute():
    with CaptureQueriesContext(connection) as ctx:
        compute(NOV, DEC)
    return len(ctx.captured_queries)


# Without rollups built: the incident source's rollup state, live partial sums, follow-up window and one
# histogram per median (5, automation's incident count comes with them); the delivery rollup state (1); one
# grouped query per family of metrics/daily.py (12: the lead time's histogram is one more; changes and
# releases created by rule, runs); the overdue action items (1). With rollups built: tests/metrics/test_rollups.py.
EXPECTED_QUERIES = {"postgresql": 19, "sqlite": 19}


def test_compute_runs_a_constant_number_of_queries(build):
    _populate(build, 3)
    small = _queries_of_compute()
    _populate(build, 30)
    assert _queries_of_compute() == small == EXPECTED_QUERIES[connection.vendor]
