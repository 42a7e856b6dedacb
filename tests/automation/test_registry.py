"""The event bus, the rule dispatcher and the rule rows: the contract of §8 for every rule."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from automation import registry
from automation import services as automation_services
from automation.models import AutomationRule, AutomationRun
from automation.rules.auto_assign import AutoAssign
from incidents.models import Incident
from opsdesk import events
from opsdesk.choices import Role
from opsdesk.exceptions import AppendOnlyError, DomainValidationError
from opsdesk.models import Team
from tests.factories import IncidentFactory

from .conftest import runs

pytestmark = pytest.mark.django_db


# --- the event bus ---------------------------------------------------------------------


def test_a_failing_handler_is_rolled_back_alone_and_the_publisher_keeps_its_write(db):
    calls = []

    def breaks(event):
        Team.objects.create(name="half-done reaction")  # rolled back with its savepoint
        raise RuntimeError("boom")

    def works(event):
        calls.append(event.key)

    incident = IncidentFactory()
    events.subscribe(events.IncidentTransitioned, breaks)
    events.subscribe(events.IncidentTransitioned, works)
    try:
        events.publish(events.IncidentTransitioned(
            object_id=incident.pk, transition="acknowledge", from_state="detected", to_state="responding", log_id=7,
        ))
    finally:
        events.unsubscribe(events.IncidentTransitioned, breaks)
        events.unsubscribe(events.IncidentTransitioned, works)
    assert not Team.objects.filter(name="half-done reaction").exists()
    assert calls == [f"incident.transitioned:{incident.pk}:7"]
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_event_keys_identify_the_occurrence():
    assert events.IncidentCreated(incident_id=5).key == "incident.created:5"
    assert events.DeploymentFailed(deployment_id=3, release_id=9, by_id=1).key == "deployment.failed:3"
    assert events.AlertReceived(source_id=2, group_id=4, firing=(7, 8), receipt="a1b2").key == (
        "alert.received:4:a1b2"
    )
    assert set(events.EVENT_TYPES) == {
        "incident.created", "incident.transitioned", "incident.severity_changed", "change.approved",
        "change.transitioned", "release.transitioned", "deployment.failed", "alert.received",
    }


# --- the dispatcher, with a rule of the test's own -------------------------------------------


class Probe(registry.Rule):
    """A rule for the tests: acts by renaming the incident, or fails when told to."""

    key = "auto_assign"  # borrows an existing row so the dispatcher finds it
    title = "probe"
    trigger = events.IncidentCreated
    summary = "test rule"
    Params = AutoAssign.Params  # the borrowed row's params are checked against this schema
    behaviour = "act"

    def subject(self, event):
        return Incident.objects.get(pk=event.incident_id)

    def run(self, event, params):
        incident = Incident.objects.get(pk=event.incident_id)
        Incident.objects.filter(pk=incident.pk).update(title="touched by the probe")
        if self.behaviour == "fail":
            raise RuntimeError("the probe failed half-way")
        return registry.Acted(detail="probed", changed=[incident])


@pytest.fixture
def probe(monkeypatch, rules_off):
    rules_off("recurring_incidents_to_change")
    rule = Probe()
    monkeypatch.setitem(registry.RULES, "auto_assign", rule)
    return rule


def test_a_failing_rule_is_recorded_rolled_back_and_never_loses_the_trigger(probe, desk, service):
    from incidents import services as incident_services

    probe.behaviour = "fail"
    incident = incident_services.incident_create(by=desk, service=service, title="Down", severity="high")
    incident.refresh_from_db()
    assert incident.title == "Down"  # the half-done reaction is gone, the incident is saved
    assert runs("auto_assign") == [("failed", "RuntimeError: the probe failed half-way")]


def test_the_same_event_twice_acts_once(probe):
    incident = IncidentFactory()
    event = events.IncidentCreated(incident_id=incident.pk)
    events.publish(event)
    events.publish(event)
    outcome = runs("auto_assign")
    first = AutomationRun.objects.get(outcome="acted")
    assert outcome == [("acted", "probed"), ("skipped", f"Already handled by run #{first.pk}.")]


def test_params_broken_in_the_database_make_a_failed_run(probe):
    AutomationRule.objects.filter(key="auto_assign").update(params={"strategy": "by-astrology"})
    events.publish(events.IncidentCreated(incident_id=IncidentFactory().pk))
    assert runs("auto_assign") == [("failed", 'params: strategy: "by-astrology" is not a valid choice.')]


def test_runs_are_append_only(probe):
    events.publish(events.IncidentCreated(incident_id=IncidentFactory().pk))
    run = AutomationRun.objects.get()
    with pytest.raises(AppendOnlyError):
        run.save()
    with pytest.raises(AppendOnlyError):
        run.delete()
    with pytest.raises(AppendOnlyError):
        AutomationRun.objects.update(detail="rewritten")
    with pytest.raises(AppendOnlyError):
        run.records.all().delete()


# --- params and the rule rows ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "params", "message"),
    [
        ("recurring_incidents_to_change", {"count": 1}, "count: Ensure this value is greater than or equal to 2."),
        ("recurring_incidents_to_change", {"days": "a week"}, "days: A valid integer is required."),
        ("recurring_incidents_to_change", {"window": 3}, "Unknown parameter 'window' (this rule takes: count, days)."),
        ("auto_assign", {"strategy": "random"}, 'strategy: "random" is not a valid choice.'),
        ("failed_deployment_to_incident", {"severity": "p1"}, 'severity: "p1" is not a valid choice.'),
        ("approved_change_to_release", {"x": 1}, "Unknown parameter 'x' (this rule takes: none)."),
        ("auto_assign", ["round_robin"], "Give the parameters as a JSON object."),
    ],
)
def test_bad_params_are_refused_naming_the_parameter(key, params, message):
    rule = AutomationRule.objects.get(key=key)
    before = dict(rule.params)
    with pytest.raises(DomainValidationError) as refused:
        automation_services.rule_update(rule=rule, by=None, params=params)
    assert message in refused.value.errors["params"]
    rule.refresh_from_db()
    assert rule.params == before


def test_good_params_are_stored_with_defaults_filled_in():
    rule = AutomationRule.objects.get(key="recurring_incidents_to_change")
    updated = automation_services.rule_update(rule=rule, by=None, params={"count": 5})
    assert AutomationRule.objects.get(pk=rule.pk).params == updated.params == {"count": 5, "days": 7}


@pytest.mark.parametrize(("role", "allowed"), [(Role.OPS_MANAGERS, True), (Role.INCIDENT_MANAGERS, False),
                                               (Role.SERVICE_DESK, False), (Role.API_READERS, False)])
def test_only_ops_managers_and_superusers_change_rules(user_in_role, role, allowed):
    rule = AutomationRule.objects.get(key="auto_assign")
    user = user_in_role(role)
    if allowed:
        assert automation_services.rule_update(rule=rule, by=user, enabled=False).updated_by == user
    else:
        with pytest.raises(PermissionDenied):
            automation_services.rule_update(rule=rule, by=user, enabled=False)
        assert AutomationRule.objects.get(pk=rule.pk).enabled


def test_missing_rule_rows_come_back_without_touching_edited_ones():
    AutomationRule.objects.filter(key="auto_assign").update(enabled=False, params={"strategy": "none"})
    AutomationRule.objects.filter(key="approved_change_to_release").delete()
    assert automation_services.ensure_rules() == 1
    assert AutomationRule.objects.get(key="approved_change_to_release").enabled
    kept = AutomationRule.objects.get(key="auto_assign")
    assert (kept.enabled, kept.params) == (False, {"strategy": "none"})


def test_every_rule_of_the_spec_is_seeded_enabled_with_its_defaults():
    assert {r.key: (r.enabled, r.params) for r in AutomationRule.objects.all()} == {
        "recurring_incidents_to_change": (True, {"count": 3, "days": 7}),
        "approved_change_to_release": (True, {}),
        "failed_deployment_to_incident": (True, {"severity": "high"}),
        "auto_assign": (True, {"strategy": "round_robin"}),
        "alert_to_incident": (True, {}),
    }
