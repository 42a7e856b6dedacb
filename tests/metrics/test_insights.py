"""Insights (§5): period over period per service and team, only with enough data behind them, ranked,
each in one sentence; the figures recomputed from the rows in plain Python; the query count does not
grow with the number of services and teams; the API (JSON, CSV, errors)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from statistics import mean

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident, SatisfactionSurvey, SurveyAnswer
from metrics.insights import insights
from tests.factories import ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)
OCT_2 = datetime(2026, 10, 2, tzinfo=UTC)  # the previous period: 2 October – 31 October (30 days)
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
URL = "/api/v1/metrics/insights/"


def incidents(build, service, *, start, n, hours, breached=0, rating=None):
    made = []
    for i in range(n):
        detected = start + timedelta(days=i, hours=1)
        incident = build.resolved(
            detected_at=detected, resolved_at=detected + timedelta(hours=hours), service=service,
            response_breached=i < breached,
        )
        if rating is not None:
            survey = SatisfactionSurvey.objects.create(incident=incident, recipient="c@example.test")
            SurveyAnswer.objects.create(survey=survey, rating=rating)
        made.append(incident)
    return made


@pytest.fixture
def story(build):
    a = build.service
    b = ServiceFactory(owner_team=TeamFactory(name="Storage"), name="Storage API")
    incidents(build, a, start=OCT_2, n=5, hours=1, rating=5)
    incidents(build, a, start=NOV_1, n=6, hours=3, breached=3, rating=3)
    incidents(build, b, start=OCT_2, n=2, hours=1)  # too few before
    incidents(build, b, start=NOV_1, n=6, hours=3)
    for i in range(5):
        build.finished_change(state="completed", actual_start=OCT_2 + timedelta(days=i),
                              actual_end=OCT_2 + timedelta(days=i, hours=1), services=[a])
        build.finished_change(state="failed" if i < 2 else "completed", actual_start=NOV_1 + timedelta(days=i),
                              actual_end=NOV_1 + timedelta(days=i, hours=1), services=[a])
    return a, b


def mean_hours_to_resolve(service, start, end):
    rows = [i for i in Incident.objects.filter(service=service) if i.resolved_at and start <= i.resolved_at < end]
    return mean((i.resolved_at - i.detected_at).total_seconds() for i in rows), len(rows)


def test_notable_differences_with_enough_data_ranked_worse_first(story, build):
    a, b = story
    found = insights(NOV, DEC)
    by_key = {(i["metric"], next(iter(i["scope"])), next(iter(i["scope"].values()))): i for i in found}
    service_keys = {k for k in by_key if k[1] == "service"}
    assert service_keys == {
        ("incidents.count", "service", a.pk), ("incidents.mttr_seconds", "service", a.pk),
        ("incidents.mtta_seconds", "service", a.pk), ("incidents.response_sla_met_rate", "service", a.pk),
        ("incidents.csat_score", "service", a.pk), ("changes.success_rate", "service", a.pk),
    }
    # the team sees the same incident figures (changes have no team)
    assert {k[0] for k in by_key if k[1] == "team"} == {k[0] for k in service_keys} - {"changes.success_rate"}
    assert all(k[2] == a.owner_team_id for k in by_key if k[1] == "team")
    mttr = by_key[("incidents.mttr_seconds", "service", a.pk)]
    now_value, n = mean_hours_to_resolve(a, NOV_1, datetime(2026, 12, 1, tzinfo=UTC))
    before, _ = mean_hours_to_resolve(a, OCT_2, NOV_1)
    assert (mttr["value"], mttr["previous"], mttr["sample"], mttr["previous_sample"]) == (now_value, before, n, 5)
    assert mttr["change"] == pytest.approx(2.0) and mttr["direction"] == "worse"
    assert mttr["text"] == f"Mean time to resolve on {a.name} rose from 1 h to 3 h (+200 %) over 6 resolved incidents."
    rate = by_key[("incidents.response_sla_met_rate", "service", a.pk)]
    assert (rate["value"], rate["previous"]) == (0.5, 1.0)
    assert rate["text"] == f"Response SLA met on {a.name} fell from 100.0 % to 50.0 % (−50.0 pp) over 6 incidents."
    csat = by_key[("incidents.csat_score", "team", a.owner_team_id)]
    assert (csat["value"], csat["previous"]) == (3.0, 5.0)
    assert csat["text"].startswith(f"Satisfaction (CSAT) for team {a.owner_team.name} fell from 5.0 / 5 to 3.0 / 5")
    assert by_key[("incidents.count", "service", a.pk)]["text"] == f"Incidents on {a.name} rose from 5 to 6 (+20 %)."
    # ranked: all worse here; larger changes first
    sizes = [abs(i["change"]) if "rate" not in i["metric"] else 2 * abs(i["value"] - i["previous"]) for i in found]
    assert sizes == sorted(sizes, reverse=True)


def test_no_insight_from_too_few_items_unless_the_setting_allows(story, settings):
    a, b = story
    assert not [i for i in insights(NOV, DEC) if i["scope"].get("service") == b.pk]
    settings.OPSDESK_INSIGHT_MIN_SAMPLE = 2
    lowered = {i["metric"] for i in insights(NOV, DEC) if i["scope"].get("service") == b.pk}
    assert {"incidents.count", "incidents.mttr_seconds"} <= lowered


def test_small_changes_are_not_news_and_improvements_come_after_deteriorations(build, settings):
    a = build.service
    incidents(build, a, start=OCT_2, n=10, hours=2)
    incidents(build, a, start=NOV_1, n=10, hours=2.2)  # +10 %: below the 20 % bar
    assert not [i for i in insights(NOV, DEC) if i["metric"] == "incidents.mttr_seconds"]
    other = ServiceFactory()
    incidents(build, other, start=OCT_2, n=5, hours=4)
    incidents(build, other, start=NOV_1, n=5, hours=1)  # better
    found = [i for i in insights(NOV, DEC) if i["metric"] == "incidents.mttr_seconds"]
    assert [i["direction"] for i in found] == ["better", "better"]  # the service and its team
    settings.OPSDESK_INSIGHT_MIN_CHANGE = 0.05
    ranked = [i["direction"] for i in insights(NOV, DEC) if i["metric"] == "incidents.mttr_seconds"]
    assert ranked == ["worse", "worse", "better", "better"]


def test_filters_limit_and_no_data(story):
    a, b = story
    assert insights(date(2025, 1, 1), date(2025, 2, 1)) == []
    only_a = insights(NOV, DEC, service=a.pk)
    assert only_a and all(i["scope"] == {"service": a.pk} for i in only_a)
    team = insights(NOV, DEC, team=a.owner_team_id)
    assert team and all(i["scope"] == {"team": a.owner_team_id} for i in team)
    assert len(insights(NOV, DEC, limit=2)) == 2


def test_the_query_count_does_not_grow_with_services_and_teams(build):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            insights(NOV, DEC)
        return len(ctx.captured_queries)

    incidents(build, build.service, start=OCT_2, n=5, hours=1, rating=4)
    few = queries()
    for _ in range(5):
        service = ServiceFactory(owner_team=TeamFactory())
        incidents(build, service, start=OCT_2, n=5, hours=1, rating=4)
        incidents(build, service, start=NOV_1, n=5, hours=3, rating=2)
        build.finished_change(state="failed", actual_start=NOV_1, actual_end=NOV_1 + timedelta(hours=1),
                              services=[service])
        build.deployment(release=build.release(services=[service]), status="failed", finished_at=NOV_1)
    # Incidents by service and by team, changes, deployments: the rollup state and the live days each (no
    # rollups built here: tests/metrics/test_rollups.py); surveys by service and by team; two names.
    assert queries() == few == 12


def test_the_api_json_csv_and_errors(story, reader, client):
    a, _ = story
    body = reader.get(URL, {"from": "2026-11-01", "to": "2026-12-01"}).json()
    assert body and set(body[0]) >= {"metric", "scope", "value", "previous", "change", "text"}
    limited = reader.get(URL, {"from": "2026-11-01", "to": "2026-12-01", "limit": 3}).json()
    assert limited == body[:3]
    response = reader.get(URL, {"from": "2026-11-01", "to": "2026-12-01", "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["metric", "scope_type", "scope_id", "scope_name"] and len(rows) == len(body) + 1
    empty = reader.get(URL, {"from": "2025-01-01", "to": "2025-02-01", "format": "csv"})
    assert empty.content.decode().startswith("metric,scope_type")
    bad = reader.get(URL, {"from": "2026-11-01", "to": "2026-12-01", "limit": "0"})
    assert bad.status_code == 400 and "limit" in bad.json()
    assert reader.get(URL, {"from": "2026-11-01"}).status_code == 400
    assert client.get(URL, {"from": "2026-11-01", "to": "2026-12-01"}).status_code == 401
