"""Services: create/update validation and permissions, transitions, severity, escalation, notes,
notifications per level, confidentiality and concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from incidents import services
from incidents.models import Incident
from opsdesk.choices import NotificationQueue, Role
from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.models import Notification, TransitionLog
from tests.factories import IncidentFactory, UserFactory

from .conftest import T0, sent

pytestmark = pytest.mark.django_db

TEAM = {
    ("email", "platform@example.test"),
    ("email", "lead@example.test"),
    ("email", "member1@example.test"),
    ("email", "member2@example.test"),
}
WEBHOOK = ("webhook", "https://chat.example.test/hooks/platform")


def create(by, service, **kwargs):
    kwargs.setdefault("title", "Checkout fails")
    kwargs.setdefault("severity", "medium")
    return services.incident_create(by=by, service=service, **kwargs)


# --- create --------------------------------------------------------------------


def test_create_sets_number_reporter_team_and_deadlines(clock, desk, service, team):
    incident = create(desk, service, severity="critical")
    assert incident.number == f"INC-{incident.pk:06d}"
    assert incident.reporter == desk
    assert incident.team == team
    assert incident.state == "detected"
    assert incident.detected_at == T0
    assert incident.started_at == T0
    assert incident.response_due == T0 + timedelta(minutes=15)
    assert incident.resolution_due == T0 + timedelta(hours=2)


def test_create_by_the_system_has_no_reporter(clock, service):
    incident = create(None, service)
    assert incident.reporter is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"started_at": T0 + timedelta(minutes=1), "detected_at": T0}, "started_at"),
        ({"detected_at": T0 + timedelta(seconds=1)}, "detected_at"),
        ({"customers_affected": -1}, "customers_affected"),
        ({"severity": "urgent"}, "severity"),
    ],
)
def test_create_validates(clock, desk, service, kwargs, field):
    with pytest.raises(DomainValidationError) as exc:
        create(desk, service, **kwargs)
    assert field in exc.value.errors
    assert Incident.objects.count() == 0


def test_create_needs_a_service(clock, desk):
    with pytest.raises(DomainValidationError) as exc:
        services.incident_create(by=desk, title="x", service=None, severity="low")
    assert "service" in exc.value.errors


def test_create_accepts_the_limits(clock, desk, service):
    incident = create(desk, service, title="x" * 200, started_at=T0, detected_at=T0, customers_affected=0)
    assert incident.pk


def test_create_needs_the_permission(clock, api_reader, service):
    with pytest.raises(PermissionDenied):
        create(api_reader, service)


def test_create_and_transitions_publish_their_events(clock, desk, service, incident_manager):
    """The incidents app tells the automation rules what happened; it calls no other app."""
    from opsdesk import events

    seen = []
    types = (events.IncidentCreated, events.IncidentTransitioned, events.IncidentSeverityChanged)
    for event_type in types:
        events.subscribe(event_type, seen.append)
    try:
        incident = create(desk, service)
        services.incident_transition(instance=incident, name="acknowledge", by=desk)
        services.incident_change_severity(incident=incident, by=incident_manager, severity="critical")
    finally:
        for event_type in types:
            events.unsubscribe(event_type, seen.append)
    assert [event.name for event in seen] == ["incident.created", "incident.transitioned", "incident.severity_changed"]
    created, acknowledged, severity = seen
    assert (created.incident_id, created.by_id, created.at) == (incident.pk, desk.pk, T0)
    assert (acknowledged.transition, acknowledged.from_state, acknowledged.to_state) == (
        "acknowledge", "detected", "responding"
    )
    assert (severity.old_severity, severity.new_severity) == ("medium", "critical")
    assert len({event.key for event in seen}) == 3


# --- notifications per level -----------------------------------------------------


def test_immediate_goes_to_team_lead_managers_and_webhook_on_the_high_queue(clock, desk, service, managers):
    incident = create(desk, service, severity="critical")
    assert sent(object_id=incident.pk) == TEAM | {("email", "im@example.test"), WEBHOOK}
    assert set(Notification.objects.values_list("queue", flat=True)) == {NotificationQueue.HIGH}


def test_urgent_goes_to_team_and_webhook_on_the_high_queue(clock, desk, service, managers):
    incident = create(desk, service, severity="high")
    assert sent(object_id=incident.pk) == TEAM | {WEBHOOK}
    assert set(Notification.objects.values_list("queue", flat=True)) == {NotificationQueue.HIGH}


def test_standard_is_email_to_the_team(clock, desk, service, managers):
    incident = create(desk, service, severity="medium")
    assert sent(object_id=incident.pk) == TEAM
    assert set(Notification.objects.values_list("queue", flat=True)) == {NotificationQueue.DEFAULT}


def test_routine_is_not_sent_at_once(clock, desk, service, managers):
    create(desk, service, severity="low")
    assert Notification.objects.count() == 0


def test_confidential_never_goes_to_a_webhook(clock, desk, service, managers):
    incident = create(desk, service, severity="critical", confidential=True)
    assert sent(object_id=incident.pk) == TEAM | {("email", "im@example.test")}


def test_recipients_take_a_constant_number_of_queries(clock, desk, service, team, django_assert_num_queries):
    from incidents import notify

    incident = create(desk, service, severity="critical")
    incident = Incident.objects.select_related("team").get(pk=incident.pk)
    with django_assert_num_queries(2):
        few = notify.event_recipients(incident, "immediate")
    team.members.add(*[UserFactory() for _ in range(10)])
    UserFactory.create_batch(5, roles=[Role.INCIDENT_MANAGERS])
    with django_assert_num_queries(2):
        many = notify.event_recipients(incident, "immediate")
    assert len(many) == len(few) + 15


def test_resolve_notifies_per_level(clock, desk, service):
    incident = create(desk, service, severity="high")
    services.incident_transition(instance=incident, name="resolve", by=desk, resolution_summary="Restarted")
    resolved = Notification.objects.filter(subject__contains="Resolved")
    assert {(r.channel, r.recipient) for r in resolved} == TEAM | {WEBHOOK}


# --- update ------------------------------------------------------------------------


def test_update_changes_fields(clock, desk, service):
    incident = create(desk, service)
    updated = services.incident_update(incident=incident, by=desk, title="New title", customers_affected=12)
    assert (updated.title, updated.customers_affected) == ("New title", 12)


def test_update_refuses_state_and_deadlines(clock, desk, service):
    incident = create(desk, service)
    with pytest.raises(DomainValidationError) as exc:
        services.incident_update(incident=incident, by=desk, state="closed", response_due=T0)
    assert set(exc.value.errors) == {"state", "response_due"}


def test_update_validates(clock, desk, service):
    incident = create(desk, service)
    with pytest.raises(DomainValidationError):
        services.incident_update(incident=incident, by=desk, started_at=T0 + timedelta(hours=1))


def test_update_needs_the_permission(clock, desk, api_reader, service):
    incident = create(desk, service)
    with pytest.raises(PermissionDenied):
        services.incident_update(incident=incident, by=api_reader, title="x")


def test_confidential_incident_only_changed_by_who_can_see_it(clock, service, user_in_role, team):
    reporter = user_in_role(Role.SERVICE_DESK)
    outsider = user_in_role(Role.SERVICE_DESK)
    member = team.members.first()
    member.groups.add(*reporter.groups.all())
    incident = create(reporter, service, confidential=True)
    with pytest.raises(PermissionDenied):
        services.incident_update(incident=incident, by=outsider, title="x")
    assert services.incident_update(incident=incident, by=reporter, title="by reporter").title == "by reporter"
    assert services.incident_update(incident=incident, by=member, title="by member").title == "by member"


def test_update_severity_needs_the_severity_permission(clock, desk, manager, service):
    incident = create(desk, service)
    with pytest.raises(PermissionDenied):
        services.incident_update(incident=incident, by=desk, severity="critical")
    assert services.incident_update(incident=incident, by=manager, severity="critical").severity == "critical"


# --- transitions ---------------------------------------------------------------------


def test_transition_is_logged_with_user_and_comment(clock, desk, service):
    incident = create(desk, service)
    services.incident_transition(instance=incident, name="acknowledge", by=desk, comment="on it")
    log = TransitionLog.objects.get(object_id=incident.pk)
    assert (log.transition, log.from_state, log.to_state, log.user, log.comment) == (
        "acknowledge", "detected", "responding", desk, "on it",
    )


def test_transition_on_an_invisible_confidential_incident_is_refused(clock, service, user_in_role):
    reporter = user_in_role(Role.INCIDENT_MANAGERS)
    outsider = user_in_role(Role.SERVICE_DESK)
    incident = create(reporter, service, confidential=True)
    with pytest.raises(PermissionDenied):
        services.incident_transition(instance=incident, name="acknowledge", by=outsider)
    incident.refresh_from_db()
    assert incident.state == "detected"


def test_expected_state_mismatch_is_a_concurrent_update(clock, desk, service):
    incident = create(desk, service)
    services.incident_transition(instance=incident, name="resolve", by=desk, resolution_summary="fixed")
    with pytest.raises(ConcurrentUpdate):
        services.incident_transition(
            instance=incident, name="resolve", by=desk, expected_state="detected", resolution_summary="again"
        )
    incident.refresh_from_db()
    assert incident.resolution_summary == "fixed"
    assert TransitionLog.objects.filter(object_id=incident.pk).count() == 1


def test_resolving_twice_without_expected_state_is_not_allowed(clock, desk, service):
    incident = create(desk, service)
    stale = Incident.objects.get(pk=incident.pk)
    services.incident_transition(instance=incident, name="resolve", by=desk, resolution_summary="fixed")
    with pytest.raises(TransitionNotAllowed):
        services.incident_transition(instance=stale, name="resolve", by=desk, resolution_summary="again")


def test_a_failed_transition_writes_nothing(clock, desk, service):
    incident = create(desk, service)
    with pytest.raises(DomainValidationError):
        services.incident_transition(instance=incident, name="resolve", by=desk, resolution_summary="  ")
    incident.refresh_from_db()
    assert (incident.state, incident.resolved_at) == ("detected", None)
    assert TransitionLog.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_people_resolving_at_once_one_wins(service, user_in_role):
    first, second = user_in_role(Role.SERVICE_DESK), user_in_role(Role.SERVICE_DESK)
    incident = IncidentFactory(service=service, severity="high")
    barrier = threading.Barrier(2)
    outcomes = {}

    def resolve(user):
        try:
            stale = Incident.objects.get(pk=incident.pk)
            barrier.wait()
            services.incident_transition(
                instance=stale, name="resolve", by=user, expected_state="detected",
                resolution_summary=f"fixed by {user.username}",
            )
            outcomes[user.username] = "ok"
        except (ConcurrentUpdate, TransitionNotAllowed) as exc:
            outcomes[user.username] = type(exc).__name__
        finally:
            connection.close()

    threads = [threading.Thread(target=resolve, args=(u,)) for u in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes.values()) in (["ConcurrentUpdate", "ok"], ["TransitionNotAllowed", "ok"])
    winner = next(name for name, result in outcomes.items() if result == "ok")
    incident.refresh_from_db()
    assert incident.state == "resolved"
    assert incident.resolution_summary == f"fixed by {winner}"
    assert TransitionLog.objects.filter(object_id=incident.pk).count() == 1
    assert Notification.objects.filter(object_id=incident.pk, subject__contains="Resolved").count() == len(
        {r for r in TEAM}
    ) + 1


# --- severity ----------------------------------------------------------------------


def test_change_severity_recomputes_from_detected_at_keeping_hold_time(clock, manager, service):
    incident = create(manager, service, severity="medium")
    services.incident_transition(instance=incident, name="acknowledge", by=manager)
    clock.move_to(T0 + timedelta(minutes=30))
    services.incident_transition(instance=incident, name="hold", by=manager)
    clock.move_to(T0 + timedelta(minutes=70))
    services.incident_transition(instance=incident, name="resume", by=manager)  # 40 min on hold
    clock.move_to(T0 + timedelta(minutes=90))
    changed = services.incident_change_severity(incident=incident, by=manager, severity="critical")
    assert changed.response_due == T0 + timedelta(minutes=15)
    assert changed.resolution_due == T0 + timedelta(hours=2, minutes=40)
    log = TransitionLog.objects.filter(object_id=incident.pk).last()
    assert (log.transition, log.from_state, log.to_state, log.comment) == (
        "change_severity", "responding", "responding", "medium → critical",
    )


def test_change_severity_while_on_hold_keeps_the_running_hold_out_until_resume(clock, manager, service):
    incident = create(manager, service, severity="medium")
    services.incident_transition(instance=incident, name="acknowledge", by=manager)
    services.incident_transition(instance=incident, name="hold", by=manager)
    clock.move_to(T0 + timedelta(minutes=30))
    services.incident_change_severity(incident=incident, by=manager, severity="high")
    clock.move_to(T0 + timedelta(minutes=50))
    resumed = services.incident_transition(instance=incident, name="resume", by=manager)
    assert resumed.resolution_due == T0 + timedelta(hours=4, minutes=50)


def test_change_severity_keeps_a_recorded_breach(clock, manager, service):
    incident = create(manager, service, severity="critical")
    clock.move_to(T0 + timedelta(minutes=20))
    services.sla_sweep()
    changed = services.incident_change_severity(incident=incident, by=manager, severity="low")
    assert changed.response_breached is True
    assert changed.response_breached_at == T0 + timedelta(minutes=15)
    assert changed.response_due == T0 + timedelta(hours=4)


@pytest.mark.parametrize("role", [Role.SERVICE_DESK, Role.API_READERS, Role.OPS_MANAGERS])
def test_change_severity_is_refused_without_the_permission(clock, service, user_in_role, role):
    incident = IncidentFactory(service=service)
    with pytest.raises(PermissionDenied):
        services.incident_change_severity(incident=incident, by=user_in_role(role), severity="high")


def test_change_severity_of_a_closed_incident_is_not_allowed(clock, manager, service):
    incident = create(manager, service)
    services.incident_transition(instance=incident, name="resolve", by=manager, resolution_summary="x")
    services.incident_transition(instance=incident, name="close", by=manager, root_cause="a", lessons_learned="b")
    with pytest.raises(TransitionNotAllowed):
        services.incident_change_severity(incident=incident, by=manager, severity="high")


# --- escalation ------------------------------------------------------------------------


def test_manual_escalation_goes_up_tier_by_tier_and_stops_at_three(clock, manager, service, managers):
    incident = create(manager, service, severity="medium")
    Notification.objects.all().delete()
    expected = [{"lead@example.test"}, {"im@example.test", "manager@example.test"}, {"om@example.test"}]
    for level, recipients in enumerate(expected, start=1):
        incident = services.incident_escalate(incident=incident, by=manager, comment="need help")
        assert incident.escalation_level == level
        rows = Notification.objects.filter(subject__startswith=f"[Escalation {level}]")
        assert set(rows.values_list("recipient", flat=True)) == recipients
        assert set(rows.values_list("queue", flat=True)) == {NotificationQueue.HIGH}
    with pytest.raises(TransitionNotAllowed, match="highest tier"):
        services.incident_escalate(incident=incident, by=manager)
    incident.refresh_from_db()
    assert incident.escalation_level == 3
    assert TransitionLog.objects.filter(object_id=incident.pk, transition="escalate").count() == 3


@pytest.mark.parametrize("role", [Role.SERVICE_DESK, Role.API_READERS])
def test_escalation_needs_the_permission(clock, service, user_in_role, role):
    incident = IncidentFactory(service=service)
    with pytest.raises(PermissionDenied):
        services.incident_escalate(incident=incident, by=user_in_role(role))


def test_escalating_a_resolved_incident_is_not_allowed(clock, manager, service):
    incident = create(manager, service)
    services.incident_transition(instance=incident, name="resolve", by=manager, resolution_summary="x")
    with pytest.raises(TransitionNotAllowed):
        services.incident_escalate(incident=incident, by=manager)


def test_confidential_level_three_reaches_only_ops_managers_who_may_see_it(clock, manager, service, managers):
    incident = create(manager, service, confidential=True)
    for _ in range(3):
        incident = services.incident_escalate(incident=incident, by=manager)
    rows = Notification.objects.filter(subject__startswith="[Escalation 3]")
    assert set(rows.values_list("recipient", flat=True)) == {"im@example.test", "manager@example.test"}
    managers["om"].groups.add(*managers["im"].groups.all())
    assert "om@example.test" in {
        r.address for r in __import__("incidents.notify", fromlist=["x"]).tier_recipients(incident, 3)
    }


# --- notes -------------------------------------------------------------------------------


def test_add_note(clock, desk, service):
    incident = create(desk, service)
    note = services.incident_add_note(incident=incident, by=desk, body="  Looking at the logs ")
    assert (note.author, note.body, note.created_at) == (desk, "Looking at the logs", T0)


def test_add_note_validates_and_checks_permission(clock, desk, api_reader, service):
    incident = create(desk, service)
    with pytest.raises(DomainValidationError):
        services.incident_add_note(incident=incident, by=desk, body=" ")
    with pytest.raises(PermissionDenied):
        services.incident_add_note(incident=incident, by=api_reader, body="hi")
