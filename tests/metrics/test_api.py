"""The metrics API: JSON and CSV, validation with clear 400s, 401/403, tokens, constant queries."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from rest_framework.test import APIClient

from metrics.definitions import METRIC_KEYS
from tests.factories import TeamFactory, UserFactory

from .conftest import at

pytestmark = pytest.mark.django_db

SUMMARY = "/api/v1/metrics/"
SERIES = "/api/v1/metrics/timeseries/"
NOVEMBER = {"from": "2026-11-01", "to": "2026-12-01"}


@pytest.fixture
def reader_client(api_reader, api_client):
    return api_client(api_reader)


def _csv(response):
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_summary_returns_every_group_and_key(reader_client, build):
    build.resolved(detected_at=at(2), resolved_at=at(2, 1), customers_affected=7)
    build.incident(detected_at=at(3), confidential=True)
    response = reader_client.get(SUMMARY, NOVEMBER)
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == NOVEMBER
    assert body["incidents"]["count"] == 2
    assert body["incidents"]["mttr_seconds"] == 3600.0
    assert body["incidents"]["resolution_rate"] == 0.5
    assert body["incidents"]["customer_impact"] == 7
    assert body["changes"]["success_rate"] is None
    assert sum(len(body[g]) for g in ("incidents", "changes", "releases", "dora", "automation")) == len(METRIC_KEYS)


def test_summary_never_names_confidential_incidents(reader_client, build):
    secret = build.incident(detected_at=at(3), confidential=True)
    content = reader_client.get(SUMMARY, NOVEMBER).content.decode()
    assert secret.title not in content and secret.number not in content


def test_summary_filters(reader_client, build, other_service):
    team = TeamFactory()
    build.incident(detected_at=at(2), severity="critical", team=team)
    build.incident(detected_at=at(3), service=other_service, severity="low")
    assert reader_client.get(SUMMARY, {**NOVEMBER, "service": build.service.pk}).json()["incidents"]["count"] == 1
    assert reader_client.get(SUMMARY, {**NOVEMBER, "team": team.pk}).json()["incidents"]["count"] == 1
    assert reader_client.get(SUMMARY, {**NOVEMBER, "severity": "low"}).json()["incidents"]["count"] == 1


def test_summary_csv_matches_json(reader_client, build):
    build.resolved(detected_at=at(2), resolved_at=at(2, 1))
    build.resolved(detected_at=at(3), resolved_at=at(3, 2), response_breached=True)
    build.incident(detected_at=at(4))
    data = reader_client.get(SUMMARY, NOVEMBER).json()
    response = reader_client.get(SUMMARY, {**NOVEMBER, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="opsdesk-metrics-2026-11-01-2026-12-01.csv"' in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == ["metric", "value"]
    assert [r[0] for r in rows[1:]] == list(METRIC_KEYS)
    for key, text in rows[1:]:
        group, name = key.split(".", 1)
        expected = data[group][name]
        if expected is None:
            assert text == ""
        else:
            assert float(text) == expected, key
    assert dict(rows[1:])["incidents.response_sla_met_rate"] == repr(2 / 3)


def test_timeseries_json_and_csv_match(reader_client, build):
    build.incident(detected_at=at(2))
    build.incident(detected_at=at(10))
    build.incident(detected_at=at(11))
    params = {"metric": "incidents.count", "interval": "week", "from": "2026-11-02", "to": "2026-11-16"}
    response = reader_client.get(SERIES, params)
    assert response.status_code == 200
    assert response.json() == [{"bucket": "2026-11-02", "value": 1}, {"bucket": "2026-11-09", "value": 2}]
    rows = _csv(reader_client.get(SERIES, {**params, "format": "csv"}))
    assert rows == [["bucket", "value"], ["2026-11-02", "1"], ["2026-11-09", "2"]]


def test_timeseries_null_values_are_empty_in_csv(reader_client, build):
    build.resolved(detected_at=at(2), resolved_at=at(2, 1, 30))
    params = {"metric": "incidents.mttr_seconds", "interval": "day", "from": "2026-11-02", "to": "2026-11-04"}
    assert reader_client.get(SERIES, params).json() == [
        {"bucket": "2026-11-02", "value": 5400.0}, {"bucket": "2026-11-03", "value": None},
    ]
    assert _csv(reader_client.get(SERIES, {**params, "format": "csv"}))[1:] == [["2026-11-02", "5400.0"],
                                                                                 ["2026-11-03", ""]]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "2026-13-01", "to": "2026-12-01"}, "from", "YYYY-MM-DD"),
        ({"from": "yesterday", "to": "2026-12-01"}, "from", "YYYY-MM-DD"),
        ({"to": "2026-12-01"}, "from", "required"),
        ({"from": "2026-11-01"}, "to", "required"),
        ({"from": "2026-12-01", "to": "2026-12-01"}, "to", "must be after 'from'"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "to", "must be after 'from'"),
        ({**NOVEMBER, "service": "999999"}, "service", "no service with id 999999"),
        ({**NOVEMBER, "service": "web"}, "service", "numeric id"),
        ({**NOVEMBER, "team": "999999"}, "team", "no team with id 999999"),
        ({**NOVEMBER, "severity": "huge"}, "severity", '"huge" is not a severity'),
        ({"from": "2000-01-01", "to": "2026-12-01"}, "to", "at most 3660 days"),
    ],
)
def test_summary_bad_parameters_are_400_naming_the_problem(reader_client, params, field, message):
    response = reader_client.get(SUMMARY, params)
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"metric": "incidents.nope", "interval": "day"}, "metric", '"incidents.nope" is not a metric'),
        ({"interval": "day"}, "metric", "required"),
        ({"metric": "incidents.count", "interval": "year"}, "interval", '"year" is not an interval'),
        ({"metric": "incidents.count"}, "interval", "required"),
    ],
)
def test_timeseries_bad_parameters_are_400(reader_client, params, field, message):
    response = reader_client.get(SERIES, {**NOVEMBER, **params})
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


def test_timeseries_caps_the_number_of_buckets(reader_client):
    ok = {"metric": "incidents.count", "interval": "day", "from": "2026-01-01", "to": "2027-01-02"}  # 366 days
    assert reader_client.get(SERIES, ok).status_code == 200
    response = reader_client.get(SERIES, {**ok, "to": "2027-01-03"})
    assert response.status_code == 400
    assert "at most 366 buckets" in response.json()["to"][0]
    assert reader_client.get(SERIES, {**ok, "interval": "month", "to": "2030-01-01"}).status_code == 200


def test_errors_answer_json_even_when_csv_was_asked(reader_client):
    response = reader_client.get(SUMMARY, {"from": "bad", "to": "2026-12-01", "format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "from" in response.json()


def test_anonymous_is_401(api_client):
    assert api_client().get(SUMMARY, NOVEMBER).status_code == 401
    assert api_client().get(SERIES, {**NOVEMBER, "metric": "incidents.count", "interval": "day"}).status_code == 401


def test_without_the_permission_is_403(api_client):
    response = api_client(UserFactory()).get(SUMMARY, NOVEMBER)
    assert response.status_code == 403
    assert "metrics.view_metricsnapshot" in response.json()["detail"]


def test_every_role_may_read_metrics(user_in_role, api_client):
    from opsdesk.choices import Role

    for role in Role:
        assert api_client(user_in_role(role)).get(SUMMARY, NOVEMBER).status_code == 200, role


def test_token_authentication(api_reader):
    _, key = AuthToken.objects.create(api_reader)
    client = APIClient()
    assert client.get(SUMMARY, NOVEMBER, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert client.get(SUMMARY, NOVEMBER, HTTP_AUTHORIZATION="Token wrong").status_code == 401
    csv_response = client.get(SUMMARY, {**NOVEMBER, "format": "csv"}, HTTP_AUTHORIZATION=f"Token {key}")
    assert _csv(csv_response)[0] == ["metric", "value"]


def test_session_authentication_for_the_dashboard_links(client, api_reader):
    client.force_login(api_reader)
    params = {**NOVEMBER, "metric": "incidents.count", "interval": "week", "format": "csv"}
    assert client.get(SERIES, params).status_code == 200


def test_the_endpoints_are_in_the_openapi_schema(reader_client):
    schema = reader_client.get("/api/schema/", {"format": "json"}).json()
    summary = schema["paths"]["/api/v1/metrics/"]["get"]
    assert {p["name"] for p in summary["parameters"]} >= {"from", "to", "service", "team", "severity", "format"}
    series = schema["paths"]["/api/v1/metrics/timeseries/"]["get"]
    metric = next(p for p in series["parameters"] if p["name"] == "metric")
    assert sorted(metric["schema"]["enum"]) == sorted(METRIC_KEYS)
    assert "MetricsSummary" in schema["components"]["schemas"]
    assert "mttr_seconds" in schema["components"]["schemas"]["MetricsIncidents"]["properties"]


def _populate(build, n):
    release = build.release(state="completed", created_at=at(1), completed_at=at(20))
    for i in range(n):
        build.resolved(detected_at=at(1 + i % 28, 1), resolved_at=at(1 + i % 28, 2) + timedelta(minutes=i),
                       caused_by_release=release)
        build.change(state="completed", release=release, submitted_at=at(1), approved_at=at(1, 3),
                     actual_start=at(2), actual_end=at(2, 1))
        build.deployment(release=release, status="succeeded", finished_at=at(1 + i % 28, 5))


def _fresh_client(api_client, user):
    # A fresh user object: permissions are not cached from an earlier request.
    return api_client(type(user).objects.get(pk=user.pk))


def test_the_summary_makes_a_constant_number_of_queries(api_client, api_reader, build, django_assert_num_queries):
    params = {**NOVEMBER, "service": build.service.pk}
    _populate(build, 3)
    client = _fresh_client(api_client, api_reader)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(SUMMARY, params).status_code == 200
    small = len(ctx.captured_queries)
    _populate(build, 30)
    # permissions (2) + service check (1) + the metrics (19: no rollups built here, so every source is its
    # live partial sums per day; see tests/metrics/test_definitions.py)
    expected = 3 + 19
    client = _fresh_client(api_client, api_reader)
    with django_assert_num_queries(expected):
        assert client.get(SUMMARY, params).status_code == 200
    assert small == expected


@pytest.mark.parametrize("path", [SUMMARY, SERIES])
def test_options_asking_for_csv_describes_the_view_in_json(reader_client, path):
    response = reader_client.options(f"{path}?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["name"]
