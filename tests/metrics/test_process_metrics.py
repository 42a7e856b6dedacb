"""The incident-process metrics of §5: detection and follow-up targets, process adherence, overdue
action items — hand-built data, hand-computed values, filters, and the API's CSV and time series."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine

from incidents.choices import StepState
from incidents.models import ActionItem, IncidentStep
from metrics.definitions import compute, flatten, timeseries
from tests.factories import ServiceFactory, UserFactory

from .conftest import DEC_1, at

pytestmark = pytest.mark.django_db

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)


def november(**filters):
    return flatten(compute(NOV, DEC, filters))


def test_detection_sla_met_rate_is_the_share_detected_in_time(build):
    build.incident(detected_at=at(3), detection_breached=True)
    build.incident(detected_at=at(4))
    build.incident(detected_at=at(5))
    build.incident(detected_at=at(6), detection_breached=True, state="cancelled", cancel_reason="duplicate")
    build.incident(detected_at=DEC_1, detection_breached=True)  # not in the period
    assert november()["incidents.detection_sla_met_rate"] == pytest.approx(2 / 3)


def test_follow_up_met_rate_counts_closed_in_time_and_still_open_windows(build):
    with time_machine.travel(at(28, 12), tick=False):
        # resolved in November: closed in time, closed late, still resolved within / past its window
        build.resolved(detected_at=at(2), resolved_at=at(2, 2), follow_up_due=at(3, 2), state="closed",
                       closed_at=at(3, 1))
        build.resolved(detected_at=at(4), resolved_at=at(4, 2), follow_up_due=at(5, 2), state="closed",
                       closed_at=at(6))
        build.resolved(detected_at=at(28), resolved_at=at(28, 1), follow_up_due=at(29, 1))
        build.resolved(detected_at=at(20), resolved_at=at(20, 1), follow_up_due=at(21, 1))
        build.resolved(detected_at=at(20), resolved_at=DEC_1, follow_up_due=DEC_1 + timedelta(days=1))  # December
        assert november()["incidents.follow_up_met_rate"] == pytest.approx(2 / 4)


def _steps(incident, done: int, skipped: int, pending: int) -> None:
    rows = [(StepState.DONE, done), (StepState.SKIPPED, skipped), (StepState.PENDING, pending)]
    IncidentStep.objects.bulk_create(
        IncidentStep(incident=incident, phase="detection", key=f"s{state}{n}", title="x", state=state)
        for state, count in rows for n in range(count)
    )


def test_process_adherence_is_done_over_done_and_skipped_of_incidents_closed_in_the_period(build):
    closed = build.resolved(detected_at=at(2), resolved_at=at(2, 3), state="closed", closed_at=at(3))
    _steps(closed, done=12, skipped=3, pending=1)
    other = build.resolved(detected_at=at(5), resolved_at=at(5, 3), state="closed", closed_at=at(6),
                           service=ServiceFactory())
    _steps(other, done=5, skipped=0, pending=0)
    still_resolved = build.resolved(detected_at=at(7), resolved_at=at(7, 3))
    _steps(still_resolved, done=1, skipped=9, pending=0)
    closed_in_december = build.resolved(detected_at=at(28), resolved_at=at(28, 3), state="closed", closed_at=DEC_1)
    _steps(closed_in_december, done=0, skipped=5, pending=0)
    assert november()["incidents.process_adherence_rate"] == pytest.approx(17 / 20)
    assert november(service=build.service.pk)["incidents.process_adherence_rate"] == pytest.approx(12 / 15)


def test_action_items_overdue_counts_items_open_and_past_due_at_the_end_of_the_period(build):
    incident = build.resolved(detected_at=at(2), resolved_at=at(2, 3))
    owner = UserFactory()

    def item(due, created=None, **fields):
        return ActionItem.objects.create(incident=incident, title="x", owner=owner, due_date=due,
                                         created_at=created or at(2, 4), **fields)

    item(date(2026, 11, 20))  # open, overdue: counts
    item(date(2026, 11, 30))  # due on the last day: overdue only from 1 December 00:00 — counts
    item(date(2026, 12, 1))  # due after the period: no
    item(date(2026, 11, 20), state="done", closed_at=at(25))  # done before the end: no
    item(date(2026, 11, 20), state="done", closed_at=DEC_1 + timedelta(days=2))  # done after the end: counts
    item(date(2026, 11, 20), created=DEC_1 + timedelta(hours=1))  # created after the end: no
    cancelled = build.incident(detected_at=at(3), state="cancelled", cancel_reason="duplicate")
    ActionItem.objects.create(incident=cancelled, title="x", owner=owner, due_date=date(2026, 11, 5), created_at=at(3))
    assert november()["incidents.action_items_overdue"] == 3
    assert november(service=ServiceFactory().pk)["incidents.action_items_overdue"] == 0


def test_the_process_metrics_come_as_time_series_and_csv(build, api_client, api_reader):
    build.incident(detected_at=at(3), detection_breached=True)
    build.incident(detected_at=at(10))
    series = timeseries("incidents.detection_sla_met_rate", "week", NOV, DEC)
    assert [row["value"] for row in series if row["value"] is not None] == [0.0, 1.0]
    client = api_client(api_reader)
    csv = client.get("/api/v1/metrics/", {"from": "2026-11-01", "to": "2026-12-01", "format": "csv"})
    text = csv.content.decode()
    for key in ("incidents.detection_sla_met_rate", "incidents.follow_up_met_rate",
                "incidents.process_adherence_rate", "incidents.action_items_overdue"):
        assert key in text
    data = client.get("/api/v1/metrics/", {"from": "2026-11-01", "to": "2026-12-01"}).json()
    assert data["incidents"]["detection_sla_met_rate"] == 0.5
    assert data["incidents"]["action_items_overdue"] == 0
