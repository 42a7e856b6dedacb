"""Service availability (§5): the union of impact windows in SQL, against a hand-computed case with
overlaps, containment, adjacent windows, the period's edges and open incidents; the other figures per
service recomputed in plain Python from the rows; the API (JSON, CSV, errors) and its query count."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changes.models import ChangeRequest
from incidents.models import Incident
from metrics.availability import service_report
from releases.models import Deployment
from tests.factories import ServiceFactory

from .conftest import DEC_1, NOV_1, at

pytestmark = pytest.mark.django_db

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)
PERIOD_SECONDS = 30 * 86400
URL = "/api/v1/metrics/services/"
H = 3600


def impact(build, start, end=None, *, severity="critical", major=False, state=None, service=None):
    return build.incident(
        started_at=start, detected_at=start + timedelta(minutes=5), resolved_at=end, severity=severity, major=major,
        state=state or ("resolved" if end else "responding"), service=service or build.service,
    )


def union_in_python(service, start: datetime, end: datetime, now: datetime) -> float:
    """The same figure from the rows, by sorting and merging intervals in Python."""
    spans = []
    for row in Incident.objects.filter(service=service).exclude(state="cancelled"):
        if not (row.major or row.severity == "critical"):
            continue
        s, e = max(row.started_at, start), min(row.resolved_at or now, end)
        if e > s:
            spans.append((s, e))
    total, current = 0.0, None
    for s, e in sorted(spans):
        if current and s <= current[1]:
            current = (current[0], max(current[1], e))
        else:
            if current:
                total += (current[1] - current[0]).total_seconds()
            current = (s, e)
    if current:
        total += (current[1] - current[0]).total_seconds()
    return total


@pytest.fixture
def history(build, other_service):
    a = build.service
    impact(build, NOV_1 - timedelta(hours=2), at(1, 2))  # over the start edge: 2 h inside
    impact(build, at(5, 10), at(5, 14), severity="medium", major=True)  # major, any severity
    impact(build, at(5, 12), at(5, 16))  # partial overlap: the union is 10–16, 6 h
    impact(build, at(5, 11), at(5, 11, 30))  # contained: adds nothing
    impact(build, at(5, 20), at(5, 22), severity="high")  # neither major nor critical: not counted
    impact(build, at(10), at(10, 5), state="cancelled")  # cancelled: not counted
    impact(build, at(20, 0), at(20, 1))  # adjacent windows: 2 h
    impact(build, at(20, 1), at(20, 2))
    impact(build, at(30, 20))  # still open at "now" (3 December): clipped at the end edge, 4 h
    impact(build, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))  # before the period
    impact(build, at(7, 0), at(7, 3), service=other_service)  # the other service: 3 h
    return a, other_service


def test_availability_is_one_minus_the_union_of_impact_windows(history):
    a, b = history
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        rows = {r["service"]: r for r in service_report(NOV, DEC)}
    hand = (2 + 6 + 2 + 4) * H
    assert union_in_python(a, NOV_1, DEC_1, now) == hand
    assert rows[a.pk]["downtime_seconds"] == pytest.approx(hand, abs=0.01)
    assert rows[a.pk]["availability"] == pytest.approx(1 - hand / PERIOD_SECONDS)
    assert rows[b.pk]["availability"] == pytest.approx(1 - 3 * H / PERIOD_SECONDS)


def test_an_open_incident_counts_until_now_and_a_future_period_is_null(history, build):
    a, _ = history
    now = at(28, 12)
    impact(build, at(28, 10))  # open since 10:00: 2 h so far
    with time_machine.travel(now, tick=False):
        row = service_report(NOV, DEC, service=a.pk)[0]
        future = service_report(date(2026, 12, 5), date(2026, 12, 6), service=a.pk)[0]
    # the 30 November incident has not begun yet at 28 November
    expected = union_in_python(a, NOV_1, DEC_1, now)
    assert expected == (2 + 6 + 2 + 2) * H
    assert row["downtime_seconds"] == pytest.approx(expected, abs=0.01)
    assert future["availability"] is None


def test_a_service_without_impact_is_fully_available(build, other_service):
    with time_machine.travel(datetime(2026, 12, 3, tzinfo=UTC), tick=False):
        row = service_report(NOV, DEC, service=other_service.pk)[0]
    assert row == {
        "service": other_service.pk, "name": other_service.name, "slug": other_service.slug,
        "availability": 1.0, "downtime_seconds": 0.0, "incidents": 0, "major_incidents": 0, "changes": 0,
        "change_failure_rate": None,
    }


def _other_figures_in_python(service, start, end) -> dict:
    incidents = [i for i in Incident.objects.filter(service=service).exclude(state="cancelled")
                 if start <= i.detected_at < end]
    changes = [c for c in ChangeRequest.objects.filter(services=service).exclude(state="cancelled")
               if c.state in ("completed", "failed", "rolled_back") and c.actual_end and start <= c.actual_end < end]
    deployments = [d for d in Deployment.objects.filter(release__services=service)
                   if d.status in ("succeeded", "failed") and d.finished_at and start <= d.finished_at < end]
    caused = set(Incident.objects.exclude(state="cancelled").values_list("caused_by_release", flat=True))
    failures = [d for d in deployments if d.status == "failed" or d.release_id in caused]
    return {
        "incidents": len(incidents),
        "major_incidents": sum(1 for i in incidents if i.major),
        "changes": len(changes),
        "change_failure_rate": len(failures) / len(deployments) if deployments else None,
    }


def test_incidents_changes_and_change_failure_rate_per_service(history, build):
    a, b = history
    release = build.release(services=[a, b])
    build.deployment(release=release, status="succeeded", finished_at=at(3))
    build.deployment(release=release, status="failed", finished_at=at(4))
    build.deployment(release=release, status="succeeded", finished_at=DEC_1)  # after the period
    lone = build.release(services=[b])
    build.deployment(release=lone, status="succeeded", finished_at=at(6))
    build.incident(detected_at=at(9), caused_by_release=lone)
    build.finished_change(state="completed", actual_start=at(2), actual_end=at(2, 1), services=[a, b])
    build.finished_change(state="failed", actual_start=at(3), actual_end=at(3, 1), services=[a])
    build.finished_change(state="cancelled", actual_start=at(3), actual_end=at(3, 1), services=[a])
    with time_machine.travel(datetime(2026, 12, 3, tzinfo=UTC), tick=False):
        rows = {r["service"]: r for r in service_report(NOV, DEC)}
    for service in (a, b):
        expected = _other_figures_in_python(service, NOV_1, DEC_1)
        assert {k: rows[service.pk][k] for k in expected} == expected, service
    assert rows[a.pk]["change_failure_rate"] == 0.5 and rows[b.pk]["change_failure_rate"] == pytest.approx(2 / 3)


def test_the_api_answers_json_and_csv_and_refuses_bad_input(history, reader):
    a, b = history
    with time_machine.travel(datetime(2026, 12, 3, tzinfo=UTC), tick=False):
        body = reader.get(URL, {"from": "2026-11-01", "to": "2026-12-01"}).json()
        assert [r["service"] for r in body] == sorted([a.pk, b.pk], key=lambda pk: next(
            r["name"] for r in body if r["service"] == pk))
        one = reader.get(URL, {"from": "2026-11-01", "to": "2026-12-01", "service": a.pk}).json()
        assert [r["service"] for r in one] == [a.pk]
        response = reader.get(URL, {"from": "2026-11-01", "to": "2026-12-01", "format": "csv"})
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0][:4] == ["service", "name", "slug", "availability"] and len(rows) == 3
        assert reader.get(URL, {"from": "2026-12-01", "to": "2026-11-01"}).status_code == 400
        assert reader.get(URL, {"from": "2026-11-01", "to": "2026-12-01", "service": 999999}).status_code == 400
        assert reader.get(URL, {"from": "nope", "to": "2026-12-01", "format": "csv"}).status_code == 400


def test_anonymous_is_401(client):
    assert client.get(URL, {"from": "2026-11-01", "to": "2026-12-01"}).status_code == 401


def test_the_query_count_does_not_grow_with_the_services(build, reader):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert reader.get(URL, {"from": "2026-11-01", "to": "2026-12-01"}).status_code == 200
        return len(ctx.captured_queries)

    impact(build, at(3), at(3, 1))
    queries()  # the user's permissions are cached from here on
    few = queries()
    for _ in range(5):
        service = ServiceFactory()
        impact(build, at(4), at(4, 2), service=service)
        build.finished_change(state="completed", actual_start=at(2), actual_end=at(2, 1), services=[service])
        build.deployment(release=build.release(services=[service]), status="failed", finished_at=at(3))
    assert queries() == few == 1 + 4  # the services, then four grouped queries


def test_the_availability_series_per_bucket_matches_the_union_per_bucket(history, reader):
    a, _ = history
    series_url = "/api/v1/metrics/services/timeseries/"
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        body = reader.get(series_url, {"service": a.pk, "interval": "week", "from": "2026-11-01",
                                       "to": "2026-12-01"}).json()
        csv_body = reader.get(series_url, {"service": a.pk, "interval": "week", "from": "2026-11-01",
                                           "to": "2026-12-01", "format": "csv"}).content.decode()
        assert reader.get(series_url, {"interval": "week", "from": "2026-11-01", "to": "2026-12-01"}).json() == {
            "service": ["This parameter is required (a service id)."]}
        assert reader.get(series_url, {"service": a.pk, "interval": "hour", "from": "2026-11-01",
                                       "to": "2026-12-01"}).status_code == 400
    assert [row["bucket"] for row in body] == ["2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23",
                                               "2026-11-30"]
    edges = [NOV_1, at(2), at(9), at(16), at(23), at(30), DEC_1]
    for row, start, end in zip(body, edges[:-1], edges[1:], strict=True):
        expected = 1 - union_in_python(a, start, end, now) / (end - start).total_seconds()
        assert row["value"] == pytest.approx(expected), row["bucket"]
    assert body[0]["value"] == pytest.approx(1 - 2 / 24) and body[-1]["value"] == pytest.approx(1 - 4 / 24)
    assert csv_body.splitlines()[0] == "bucket,value" and len(csv_body.splitlines()) == 7
