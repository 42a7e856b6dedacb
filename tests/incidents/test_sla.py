"""SLA deadlines per severity, pause/resume, severity change, and the SLA state selector."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incidents import services
from incidents.selectors import incident_list, sla_clocks, sla_state
from incidents.sla import ROUND_THE_CLOCK, resolution_due, response_due, warning_at

from .conftest import T0

pytestmark = pytest.mark.django_db

HANDBOOK = {
    "critical": (timedelta(minutes=15), timedelta(hours=2)),
    "high": (timedelta(minutes=30), timedelta(hours=4)),
    "medium": (timedelta(hours=2), timedelta(hours=8)),
    "low": (timedelta(hours=4), timedelta(hours=24)),
}


def make(service, severity="critical", **kwargs):
    return services.incident_create(by=None, title="Down", service=service, severity=severity, **kwargs)


def test_pure_arithmetic():
    assert response_due(detected_at=T0, response_time=timedelta(minutes=15)) == T0 + timedelta(minutes=15)
    assert resolution_due(
        detected_at=T0, resolution_time=timedelta(hours=2), time_on_hold=timedelta(minutes=10)
    ) == T0 + timedelta(hours=2, minutes=10)
    assert warning_at(start=T0, due=T0 + timedelta(minutes=20), threshold=0.75) == T0 + timedelta(minutes=15)
    assert ROUND_THE_CLOCK.between(T0, T0 - timedelta(1)) == timedelta(0)


@pytest.mark.parametrize("severity", list(HANDBOOK))
def test_deadlines_per_severity(clock, service, severity):
    incident = make(service, severity=severity)
    response, resolution = HANDBOOK[severity]
    assert incident.response_due == T0 + response
    assert incident.resolution_due == T0 + resolution


def test_deadlines_count_from_detected_at_not_from_logging(clock, service):
    incident = make(service, severity="high", detected_at=T0 - timedelta(minutes=10))
    assert incident.response_due == T0 + timedelta(minutes=20)


def test_pause_and_resume_move_resolution_due_by_exactly_the_paused_time(clock, service):
    incident = make(service)
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    clock.move_to(T0 + timedelta(minutes=20))
    services.incident_transition(instance=incident, name="hold", by=None)
    clock.move_to(T0 + timedelta(minutes=57, seconds=30))
    resumed = services.incident_transition(instance=incident, name="resume", by=None)
    assert resumed.resolution_due == T0 + timedelta(hours=2, minutes=37, seconds=30)
    assert resumed.time_on_hold == timedelta(minutes=37, seconds=30)
    assert resumed.response_due == T0 + timedelta(minutes=15)
    services.incident_transition(instance=incident, name="hold", by=None)
    clock.move_to(T0 + timedelta(hours=1, minutes=57, seconds=30))
    again = services.incident_transition(instance=incident, name="resume", by=None)
    assert again.resolution_due == T0 + timedelta(hours=3, minutes=37, seconds=30)


def test_severity_change_keeps_hold_time_and_counts_from_detection(clock, manager, service):
    incident = make(service, severity="low")
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    services.incident_transition(instance=incident, name="hold", by=None)
    clock.move_to(T0 + timedelta(hours=1))
    services.incident_transition(instance=incident, name="resume", by=None)
    clock.move_to(T0 + timedelta(hours=2))
    changed = services.incident_change_severity(incident=incident, by=manager, severity="high")
    assert changed.response_due == T0 + timedelta(minutes=30)
    assert changed.resolution_due == T0 + timedelta(hours=5)


# --- sla_state ---------------------------------------------------------------------


def test_sla_state_running(clock, service):
    incident = make(service)
    clock.move_to(T0 + timedelta(minutes=5))
    state = sla_state(incident)
    assert state.response.remaining_seconds == 600
    assert state.response.elapsed_seconds == 300
    assert state.resolution.remaining_seconds == 6900
    assert (state.status, state.paused, state.response.breached) == ("ok", False, False)


def test_sla_state_warning_then_breached_with_negative_remaining(clock, service):
    incident = make(service)
    assert sla_state(incident, now=T0 + timedelta(minutes=11, seconds=15)).status == "warning"
    state = sla_state(incident, now=T0 + timedelta(minutes=20))
    assert state.status == "breached"
    assert state.response.remaining_seconds == -300
    assert state.response.breached is True


def test_sla_state_paused_is_frozen(clock, service):
    incident = make(service)
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    clock.move_to(T0 + timedelta(minutes=30))
    incident = services.incident_transition(instance=incident, name="hold", by=None)
    later = sla_state(incident, now=T0 + timedelta(hours=10))
    assert later.paused is True
    assert later.status == "paused"
    assert later.resolution.remaining_seconds == 90 * 60
    assert later.resolution.elapsed_seconds == 30 * 60
    assert later.time_on_hold_seconds == 9.5 * 3600
    assert later.response.status == "met"


def test_sla_state_met_when_resolved_in_time(clock, service):
    incident = make(service)
    clock.move_to(T0 + timedelta(minutes=10))
    incident = services.incident_transition(instance=incident, name="resolve", by=None, resolution_summary="x")
    state = sla_state(incident, now=T0 + timedelta(days=3))
    assert state.status == "met"
    assert state.resolution.remaining_seconds == 110 * 60
    assert state.response.elapsed_seconds == 600


def test_sla_state_as_dict_is_json_ready(clock, service):
    incident = make(service)
    data = sla_state(incident).as_dict()
    assert data["response"]["due"] == (T0 + timedelta(minutes=15)).isoformat()
    assert set(data) == {
        "response", "resolution", "paused", "paused_reason", "time_on_hold_seconds", "status", "calendar"
    }
    assert (data["paused_reason"], data["calendar"]) == (None, None)


def test_sla_state_with_the_clocks_of_a_list_makes_no_queries(clock, service, django_assert_num_queries):
    make(service)
    incident = incident_list(user=None).get()
    clocks = sla_clocks()
    with django_assert_num_queries(0):
        sla_state(incident, clocks=clocks)
