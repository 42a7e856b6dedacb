"""The metrics dashboard: access, periods, charts with tables and CSV links, bounded queries."""

import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics.charts import Series, line_chart, nice_ceiling, stacked_bar_chart
from metrics.formatting import compare, format_duration, format_value
from opsdesk.choices import Role
from tests.factories import UserFactory

from .conftest import at

pytestmark = pytest.mark.django_db

URL = "/metrics/"
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def manager_client(client, user_in_role):
    client.force_login(user_in_role(Role.INCIDENT_MANAGERS))
    return client


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_url_name():
    assert reverse("metrics:dashboard") == URL


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_users_without_the_permission_get_403(client):
    client.force_login(UserFactory())
    response = client.get(URL)
    assert response.status_code == 403
    assert "viewing metrics" in response.content.decode()


def test_default_is_the_last_30_days_with_the_previous_30(manager_client, build):
    build.incident(detected_at=at(27, 9))
    build.incident(detected_at=at(28, 9))
    build.incident(detected_at=at(20, 9, month=10))  # the previous period
    response = manager_client.get(URL)
    assert response.status_code == 200
    context = response.context
    assert (context["start"], context["end"]) == (date(2026, 10, 30), date(2026, 11, 29))
    assert (context["previous_start"], context["previous_last_day"]) == (date(2026, 9, 30), date(2026, 10, 29))
    assert context["active_days"] == 30
    incidents = next(g for g in context["groups"] if g["name"] == "incidents")
    count = next(m for m in incidents["metrics"] if m["key"] == "incidents.count")
    assert (count["value"], count["previous"], str(count["change"])) == ("2", "1", "▲ +100.0 %")
    assert count["change"].tone == "bad"  # more incidents is worse


@pytest.mark.parametrize("days", [7, 30, 90])
def test_presets(manager_client, days):
    context = manager_client.get(URL, {"days": days}).context
    assert context["end"] == date(2026, 11, 29)
    assert (context["end"] - context["start"]).days == days
    assert context["active_days"] == days


def test_custom_period_and_filters(manager_client, build, other_service):
    build.incident(detected_at=at(3, 9), severity="critical")
    build.incident(detected_at=at(4, 9), service=other_service)
    response = manager_client.get(URL, {"from": "2026-11-01", "to": "2026-11-08", "service": build.service.pk})
    context = response.context
    assert (context["start"], context["end"], context["interval"]) == (date(2026, 11, 1), date(2026, 11, 8), "day")
    assert context["active_days"] is None
    incidents = next(g for g in context["groups"] if g["name"] == "incidents")
    assert incidents["metrics"][0]["value"] == "1"
    html = response.content.decode()
    assert f"service={build.service.pk}" in html  # CSV links keep the filters


def test_a_bad_period_shows_a_form_error(manager_client):
    response = manager_client.get(URL, {"from": "2026-11-08", "to": "2026-11-01"})
    assert response.status_code == 200
    assert "must end after it starts" in response.content.decode()
    assert "groups" not in response.context
    response = manager_client.get(URL, {"from": "2026-11-08"})
    assert "Give both dates" in response.content.decode()
    response = manager_client.get(URL, {"from": "2020-01-01", "to": "2026-11-01"})
    assert "at most 731 days" in response.content.decode()


def test_charts_are_inline_svg_with_tables_and_csv_links(manager_client, build):
    build.resolved(detected_at=at(20, 9), resolved_at=at(20, 11), severity="high")
    html = manager_client.get(URL, {"days": 30}).content.decode()
    assert html.count("<svg class=\"metrics-chart\"") == 8
    for title in ("Incidents per week by severity", "Mean time to resolve", "SLA compliance", "Incident process",
                  "Change outcomes", "Deployment frequency (DORA)", "Change failure rate (DORA)",
                  "Satisfaction (CSAT)"):
        assert title in html
    assert html.count("<details") == 8
    assert "/api/v1/metrics/timeseries/?metric=incidents.mttr_seconds&amp;interval=week" in html
    assert "severity=high&amp;format=csv" in html
    assert "format=csv" in html and "cdn" not in html.lower()


def test_confidential_incidents_are_counted_not_named(manager_client, build):
    secret = build.incident(detected_at=at(27, 9), confidential=True)
    html = manager_client.get(URL).content.decode()
    assert secret.title not in html and secret.number not in html


def _queries(client, params):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(URL, params).status_code == 200
    return len(ctx.captured_queries)


def _populate(build, n):
    release = build.release(state="completed", created_at=at(1), completed_at=at(20))
    for i in range(n):
        build.resolved(detected_at=at(1 + i % 27, 1), resolved_at=at(1 + i % 27, 3), caused_by_release=release)
        build.change(state="completed", release=release, submitted_at=at(1), approved_at=at(1, 2),
                     actual_start=at(2), actual_end=at(2, 1))
        build.deployment(release=release, status="succeeded", finished_at=at(1 + i % 27, 5))


# 30 days: session, user, 2 permission queries, the user's roles (nav), services and teams of the form, the
# major-incident banner (8); both periods and the 5 weekly buckets as spans of one computation (19, as one
# summary: tests/metrics/test_definitions.py; no rollups built here); the counts by severity (2: rollup
# state, live days); the insights (12: incidents by service and by team, changes, deployments — rollup
# state and live days each — surveys by service and by team, two names). Not one per bucket or period.
EXPECTED_QUERIES = {"postgresql": 41, "sqlite": 41}


def test_the_page_makes_a_bounded_number_of_queries_whatever_the_data(manager_client, build, django_assert_num_queries):
    _populate(build, 3)
    small = _queries(manager_client, {"days": 30})
    _populate(build, 30)
    with django_assert_num_queries(EXPECTED_QUERIES[connection.vendor]):
        manager_client.get(URL, {"days": 30})
    assert small == EXPECTED_QUERIES[connection.vendor]


# --- the pieces --------------------------------------------------------------------------------


def test_nice_ceiling():
    assert [nice_ceiling(v) for v in (0, 0.7, 1, 3, 7, 12, 26, 230)] == [1, 1, 1, 5, 10, 20, 50, 250]


def test_svg_escapes_labels_and_breaks_lines_on_gaps():
    svg = line_chart(["<a>", "b", "c"], [Series("x&y", "#000", [1, None, 2])], title="T<")
    assert "<a>" not in svg and "&lt;a&gt;" in svg and "x&amp;y" in svg
    assert "<polyline" not in svg  # two single points, no line between them
    assert svg.count("<circle") == 2
    bars = stacked_bar_chart(["w1"], [Series("low", "#111", [2]), Series("high", "#222", [3])], title="B")
    assert bars.count("<rect x=") == 4  # two legend swatches, two bar segments
    assert "No data" in line_chart(["a"], [Series("s", "#000", [None])], title="E")


def test_formatting_and_direction():
    assert format_duration(42) == "42 s"
    assert format_duration(4980) == "1 h 23 min"
    assert format_duration(93784) == "1 d 2 h"
    assert format_value("incidents.resolution_rate", 0.8123) == "81.2 %"
    assert format_value("incidents.mttr_seconds", None) == "—"
    assert str(compare("incidents.mttr_seconds", 90, 100)) == "▼ −10.0 %"
    assert compare("incidents.mttr_seconds", 90, 100).tone == "good"
    assert compare("changes.success_rate", 0.9, 0.8).text == "+10.0 pp"
    assert compare("changes.success_rate", 0.9, 0.8).tone == "good"
    assert compare("incidents.count", 3, 0).text == "new"
    assert compare("incidents.count", 3, None).text == ""
    assert compare("changes.count", 3, 2).tone == "neutral"


def test_count_axes_have_whole_number_ticks():
    from metrics.charts import count_ceiling

    assert [count_ceiling(v) for v in (0, 1, 4, 5, 23, 25)] == [4, 4, 4, 8, 24, 28]
    svg = str(stacked_bar_chart(["Mon", "Tue"], [Series("Critical", "#dc3545", [25, 3])], title="Incidents",
                                counts=True))
    ticks = re.findall(r'class="tick">([0-9.]+)</text>', svg)
    assert ticks and all("." not in tick for tick in ticks)
