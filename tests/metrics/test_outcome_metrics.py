"""incidents.csat_score, incidents.csat_response_rate, automation.level and automation.runs (§5):
recomputed in plain Python from factory-made rows and compared; null without data; filters; the
summary's CSV and the time series carry them."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.contrib.contenttypes.models import ContentType

from automation.models import AutomationRule, AutomationRun
from changes.models import ChangeRequest
from incidents.models import Incident, SatisfactionSurvey, SurveyAnswer
from metrics.definitions import compute, flatten, timeseries
from releases.models import Release

from .conftest import DEC_1, NOV_1, at

pytestmark = pytest.mark.django_db

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)
NEW = ("incidents.csat_score", "incidents.csat_response_rate", "automation.level", "automation.runs")


def november(**filters):
    return flatten(compute(NOV, DEC, filters))


def surveyed(build, *, resolved_at, rating=None, **fields):
    incident = build.resolved(detected_at=resolved_at.replace(hour=0), resolved_at=resolved_at, **fields)
    survey = SatisfactionSurvey.objects.create(incident=incident, recipient="c@example.test", sent_at=resolved_at)
    if rating is not None:
        SurveyAnswer.objects.create(survey=survey, rating=rating)
    return incident


def csat_in_python(service=None):
    surveys = [s for s in SatisfactionSurvey.objects.select_related("incident")
               if s.incident.state != "cancelled" and NOV_1 <= s.incident.resolved_at < DEC_1
               and (service is None or s.incident.service_id == service.pk)]
    ratings = [a.rating for a in SurveyAnswer.objects.filter(survey__in=surveys)]
    return (sum(ratings) / len(ratings) if ratings else None, len(ratings) / len(surveys) if surveys else None)


def test_csat_score_and_response_rate_over_incidents_resolved_in_the_period(build, other_service):
    surveyed(build, resolved_at=at(3, 2), rating=5)
    surveyed(build, resolved_at=at(4, 2), rating=3)
    surveyed(build, resolved_at=at(5, 2))  # sent, not answered
    surveyed(build, resolved_at=at(6, 2), rating=4, service=other_service)
    surveyed(build, resolved_at=at(7, 2), rating=1, state="cancelled", cancel_reason="duplicate")  # counts nowhere
    surveyed(build, resolved_at=DEC_1.replace(hour=2), rating=1)  # resolved in December
    build.resolved(detected_at=at(8), resolved_at=at(8, 1))  # resolved, no survey: not in either count
    values = november()
    assert (values["incidents.csat_score"], values["incidents.csat_response_rate"]) == csat_in_python()
    assert values["incidents.csat_score"] == pytest.approx(4.0) and values["incidents.csat_response_rate"] == 0.75
    mine = november(service=build.service.pk)
    assert (mine["incidents.csat_score"], mine["incidents.csat_response_rate"]) == csat_in_python(build.service)
    assert mine["incidents.csat_response_rate"] == pytest.approx(2 / 3)


def test_csat_is_null_without_surveys_and_the_score_null_without_answers(build):
    assert november()["incidents.csat_score"] is None and november()["incidents.csat_response_rate"] is None
    surveyed(build, resolved_at=at(3, 2))
    values = november()
    assert values["incidents.csat_score"] is None and values["incidents.csat_response_rate"] == 0.0


def _run(rule_key, outcome, created_at, subject):
    return AutomationRun.objects.create(
        rule=AutomationRule.objects.get(key=rule_key), event="incident.created", event_key=f"k{created_at}{outcome}",
        subject_type=ContentType.objects.get_for_model(subject), subject_id=subject.pk, outcome=outcome,
        created_at=created_at,
    )


def level_in_python(service=None, with_changes=True):
    def created(rows, field):
        return [r for r in rows if NOV_1 <= getattr(r, field) < DEC_1]

    incidents = created(Incident.objects.exclude(state="cancelled"), "detected_at")
    if service is not None:
        incidents = [i for i in incidents if i.service_id == service.pk]
    records = list(incidents)
    if with_changes:
        changes = ChangeRequest.objects.exclude(state="cancelled")
        releases = Release.objects.all()
        if service is not None:
            changes, releases = changes.filter(services=service), releases.filter(services=service)
        records += created(changes, "created_at") + created(releases, "created_at")
    return sum(1 for r in records if r.created_by_rule) / len(records) if records else None


def test_automation_level_is_the_share_created_by_a_rule(build, other_service):
    build.incident(detected_at=at(2), created_by_rule="alert_to_incident")
    build.incident(detected_at=at(3), created_by_rule="failed_deployment_to_incident", service=other_service)
    build.incident(detected_at=at(4))
    build.incident(detected_at=at(5), created_by_rule="alert_to_incident", state="cancelled", cancel_reason="duplicate")
    build.incident(detected_at=DEC_1, created_by_rule="alert_to_incident")  # December
    build.change(created_at=at(6), created_by_rule="recurring_incidents_to_change")
    build.change(created_at=at(7))
    build.change(created_at=at(8), state="cancelled", created_by_rule="recurring_incidents_to_change")
    build.release(created_at=at(9), created_by_rule="approved_change_to_release")
    build.release(created_at=at(10))
    values = november()
    assert values["automation.level"] == level_in_python() == pytest.approx(4 / 7)
    assert november(service=build.service.pk)["automation.level"] == pytest.approx(level_in_python(build.service))
    # a team filter: incidents only (changes and releases have no team)
    assert november(team=build.team.pk)["automation.level"] == pytest.approx(
        level_in_python(build.service, with_changes=False)
    ) == pytest.approx(1 / 2)


def test_automation_runs_counts_the_runs_that_acted_in_the_period(build):
    subject = build.incident(detected_at=at(2))
    assert november()["automation.runs"] == 0
    _run("auto_assign", "acted", at(2), subject)
    _run("auto_assign", "skipped", at(3), subject)
    _run("alert_to_incident", "acted", at(4), subject)
    _run("alert_to_incident", "failed", at(4, 1), subject)
    _run("recurring_incidents_to_change", "acted", DEC_1, subject)
    acted = [r for r in AutomationRun.objects.all() if r.outcome == "acted" and NOV_1 <= r.created_at < DEC_1]
    assert november()["automation.runs"] == len(acted) == 2


def test_no_data_makes_the_level_null():
    assert november()["automation.level"] is None


def test_the_new_metrics_are_in_the_csv_and_the_time_series(build, reader):
    surveyed(build, resolved_at=at(3, 2), rating=5)
    surveyed(build, resolved_at=at(10, 2), rating=2)
    response = reader.get("/api/v1/metrics/", {"from": "2026-11-01", "to": "2026-12-01", "format": "csv"})
    rows = dict(list(csv.reader(io.StringIO(response.content.decode())))[1:])
    assert set(NEW) <= set(rows) and rows["incidents.csat_score"] == "3.5"
    assert reader.get("/api/v1/metrics/", {"from": "2026-11-01", "to": "2026-12-01"}).json()["automation"] == {
        "level": 0.0, "runs": 0,  # two incidents, both logged by people
    }
    series = timeseries("incidents.csat_score", "week", NOV, date(2026, 11, 16))
    assert [row["value"] for row in series] == [None, 5.0, 2.0]
    api = reader.get("/api/v1/metrics/timeseries/", {"metric": "automation.runs", "interval": "week",
                                                      "from": "2026-11-02", "to": "2026-11-16"})
    assert api.status_code == 200 and [r["value"] for r in api.json()] == [0, 0]
