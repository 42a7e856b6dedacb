"""The incident lifecycle (§2 states table) and who may take each transition (§6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied

from incidents import services
from incidents.models import Incident
from opsdesk.choices import Role
from opsdesk.exceptions import DomainValidationError, TransitionNotAllowed
from tests.factories import IncidentFactory

from .conftest import T0

pytestmark = pytest.mark.django_db

FIELDS = {
    "resolve": {"resolution_summary": "Restarted the pods"},
    "close": {"root_cause": "Memory leak", "lessons_learned": "Alert earlier"},
    "cancel": {"reason": "false_alarm"},
}
# transition -> (allowed from, target)
TABLE = {
    "acknowledge": ({"detected"}, "responding"),
    "hold": ({"responding"}, "on_hold"),
    "resume": ({"on_hold"}, "responding"),
    "resolve": ({"detected", "responding"}, "resolved"),
    "reopen": ({"resolved"}, "responding"),
    "close": ({"resolved"}, "closed"),
    "cancel": ({"detected", "responding", "on_hold"}, "cancelled"),
}
# the shortest path (by the system) into each state
PATH = {
    "detected": [],
    "responding": ["acknowledge"],
    "on_hold": ["acknowledge", "hold"],
    "resolved": ["resolve"],
    "closed": ["resolve", "close"],
    "cancelled": ["cancel"],
}


def incident_in(state: str, **kwargs) -> Incident:
    incident = IncidentFactory(**kwargs)
    for name in PATH[state]:
        incident = services.incident_transition(instance=incident, name=name, by=None, **FIELDS.get(name, {}))
    assert incident.state == state
    return incident


CASES = [(name, state) for name in TABLE for state in PATH]


@pytest.mark.parametrize(("name", "state"), CASES)
def test_each_transition_from_each_state(clock, manager, name, state):
    incident = incident_in(state)
    sources, target = TABLE[name]
    if state in sources:
        done = services.incident_transition(instance=incident, name=name, by=manager, **FIELDS.get(name, {}))
        assert done.state == target
    else:
        with pytest.raises(TransitionNotAllowed):
            services.incident_transition(instance=incident, name=name, by=manager, **FIELDS.get(name, {}))
        incident.refresh_from_db()
        assert incident.state == state


SERVICE_DESK_MAY = {"acknowledge", "resolve"}


@pytest.mark.parametrize("name", list(TABLE))
def test_service_desk_may_acknowledge_and_resolve_only(clock, desk, name):
    state = next(iter(TABLE[name][0]))
    incident = incident_in(state)
    if name in SERVICE_DESK_MAY:
        assert services.incident_transition(instance=incident, name=name, by=desk, **FIELDS.get(name, {})).state
    else:
        with pytest.raises(PermissionDenied):
            services.incident_transition(instance=incident, name=name, by=desk, **FIELDS.get(name, {}))
    assert set(incident_in("detected").available_transitions_for(desk)) == {"acknowledge", "resolve"}


@pytest.mark.parametrize("role", [Role.API_READERS, Role.CHANGE_MANAGERS, Role.OPS_MANAGERS, Role.RELEASE_MANAGERS])
@pytest.mark.parametrize("name", list(TABLE))
def test_other_roles_may_take_no_transition(clock, user_in_role, role, name):
    incident = incident_in(next(iter(TABLE[name][0])))
    with pytest.raises(PermissionDenied):
        services.incident_transition(instance=incident, name=name, by=user_in_role(role), **FIELDS.get(name, {}))


def test_incident_manager_may_take_every_transition(clock, manager):
    assert set(incident_in("detected").available_transitions_for(manager)) == {"acknowledge", "resolve", "cancel"}
    assert set(incident_in("responding").available_transitions_for(manager)) == {"hold", "resolve", "cancel"}
    assert set(incident_in("resolved").available_transitions_for(manager)) == {"reopen", "close"}
    assert incident_in("closed").available_transitions_for(manager) == []


def test_anonymous_and_inactive_users_may_not(clock, manager):
    from django.contrib.auth.models import AnonymousUser

    incident = incident_in("detected")
    manager.is_active = False
    for user in (AnonymousUser(), manager):
        with pytest.raises(PermissionDenied):
            services.incident_transition(instance=incident, name="acknowledge", by=user)


def test_acknowledge_sets_acknowledged_at(clock, desk):
    incident = incident_in("detected")
    clock.move_to(T0 + timedelta(minutes=3))
    assert services.incident_transition(instance=incident, name="acknowledge", by=desk).acknowledged_at == (
        T0 + timedelta(minutes=3)
    )


def test_resolve_from_detected_sets_acknowledged_at_and_follow_up(clock, desk):
    incident = incident_in("detected")
    clock.move_to(T0 + timedelta(minutes=7))
    done = services.incident_transition(instance=incident, name="resolve", by=desk, resolution_summary="fixed")
    assert done.acknowledged_at == T0 + timedelta(minutes=7)
    assert done.resolved_at == T0 + timedelta(minutes=7)
    assert done.follow_up_due == T0 + timedelta(hours=24, minutes=7)


def test_resolve_after_acknowledge_keeps_acknowledged_at(clock, desk):
    incident = incident_in("responding")
    clock.move_to(T0 + timedelta(hours=1))
    done = services.incident_transition(instance=incident, name="resolve", by=desk, resolution_summary="fixed")
    assert done.acknowledged_at == T0
    assert done.follow_up_due == T0 + timedelta(hours=25)


def test_resolve_needs_a_summary(clock, desk):
    with pytest.raises(DomainValidationError) as exc:
        services.incident_transition(instance=incident_in("detected"), name="resolve", by=desk)
    assert "resolution_summary" in exc.value.errors


def test_reopen_clears_resolved_at_and_follow_up(clock, manager):
    done = services.incident_transition(instance=incident_in("resolved"), name="reopen", by=manager)
    assert (done.resolved_at, done.follow_up_due) == (None, None)


def test_close_needs_root_cause_and_lessons(clock, manager):
    incident = incident_in("resolved")
    with pytest.raises(DomainValidationError) as exc:
        services.incident_transition(instance=incident, name="close", by=manager, root_cause="x")
    assert set(exc.value.errors) == {"lessons_learned"}
    clock.move_to(T0 + timedelta(days=1))
    done = services.incident_transition(
        instance=incident, name="close", by=manager, root_cause="x", lessons_learned="y", preventive_measures="z"
    )
    assert (done.closed_at, done.preventive_measures) == (T0 + timedelta(days=1), "z")


def test_cancel_needs_a_known_reason(clock, manager):
    incident = incident_in("detected")
    with pytest.raises(DomainValidationError) as exc:
        services.incident_transition(instance=incident, name="cancel", by=manager, reason="bored")
    assert "reason" in exc.value.errors
    assert services.incident_transition(
        instance=incident, name="cancel", by=manager, reason="duplicate"
    ).cancel_reason == "duplicate"


def test_state_cannot_be_set_directly(clock):
    incident = incident_in("detected")
    with pytest.raises(AttributeError):
        incident.state = "closed"
