"""The SLA sweep (warnings at 75 %, breaches, escalation 1-2-3, idempotence, late sweeps) and
the routine digest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services, tasks
from incidents.models import Incident, SLAPolicy
from opsdesk.models import Notification, TransitionLog
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

from .conftest import T0

pytestmark = pytest.mark.django_db


def make(service, severity="critical", **kwargs):
    return services.incident_create(by=None, title="Down", service=service, severity=severity, **kwargs)


def reload(incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def subjects(incident) -> list[str]:
    return sorted(set(Notification.objects.filter(object_id=incident.pk).values_list("subject", flat=True)))


# --- warnings ------------------------------------------------------------------------


def test_response_warning_at_75_percent_once(clock, service, managers):
    incident = make(service)  # response 15 min: warning from 11:15
    clock.move_to(T0 + timedelta(minutes=11, seconds=14))
    assert services.sla_sweep()["response_warned"] == 0
    clock.move_to(T0 + timedelta(minutes=11, seconds=15))
    assert services.sla_sweep()["response_warned"] == 1
    assert reload(incident).response_warned_at == T0 + timedelta(minutes=11, seconds=15)
    rows = Notification.objects.filter(subject__contains="Response SLA at risk").count()
    assert rows == 6  # team address, lead, 2 members, Incident Manager, webhook
    clock.move_to(T0 + timedelta(minutes=12))
    assert services.sla_sweep()["response_warned"] == 0
    assert Notification.objects.filter(subject__contains="Response SLA at risk").count() == rows


def test_resolution_warning_at_the_policy_threshold(clock, service):
    SLAPolicy.objects.filter(severity="high").update(warning_threshold="0.50")
    incident = make(service, severity="high")  # resolution 4 h: warning from 2 h at 50 %
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    clock.move_to(T0 + timedelta(hours=1, minutes=59))
    assert services.sla_sweep()["resolution_warned"] == 0
    clock.move_to(T0 + timedelta(hours=2))
    assert services.sla_sweep()["resolution_warned"] == 1


def test_no_warning_for_acknowledged_response_nor_paused_resolution(clock, service):
    incident = make(service, severity="medium")
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    services.incident_transition(instance=incident, name="hold", by=None)
    clock.move_to(T0 + timedelta(hours=7))
    assert services.sla_sweep() == {
        "response_breached": 0, "resolution_breached": 0, "response_warned": 0, "resolution_warned": 0,
        "follow_up_breached": 0, "action_items_reminded": 0, "status_updates_reminded": 0,
    }


def warned(incident) -> set[str]:
    return set(
        Notification.objects.filter(object_id=incident.pk, subject__contains="SLA at risk").values_list(
            "recipient", flat=True
        )
    )


def test_a_low_severity_warning_reaches_the_assignee(clock, service, team):
    assignee = team.members.get(username="member2")
    incident = make(service, severity="low", assignee=assignee)  # routine: response 4 h, warning at 3 h
    clock.move_to(T0 + timedelta(hours=3))
    assert services.sla_sweep()["response_warned"] == 1
    assert warned(incident) == {"member2@example.test"}


def test_an_unassigned_low_severity_warning_reaches_the_team(clock, service, team):
    incident = make(service, severity="low")
    clock.move_to(T0 + timedelta(hours=3))
    services.sla_sweep()
    assert warned(incident) == {"platform@example.test", "lead@example.test", "member1@example.test",
                                "member2@example.test"}


def test_warnings_at_other_levels_go_to_their_people_and_the_assignee(clock, service, team):
    outsider = UserFactory(username="helper", email="helper@example.test")
    incident = make(service, severity="medium", assignee=outsider)  # standard: the team by email
    clock.move_to(T0 + timedelta(hours=1, minutes=30))
    services.sla_sweep()
    assert warned(incident) == {"platform@example.test", "lead@example.test", "member1@example.test",
                                "member2@example.test", "helper@example.test"}


def test_late_sweep_sends_the_breach_not_a_warning(clock, service):
    incident = make(service)
    clock.move_to(T0 + timedelta(minutes=16))
    result = services.sla_sweep()
    assert result["response_breached"] == 1
    assert result["response_warned"] == 0
    incident = reload(incident)
    assert incident.response_warned_at is None
    assert not any("at risk" in s for s in subjects(incident))


# --- breaches ------------------------------------------------------------------------


def test_response_breach_flags_once_at_the_due_time_escalates_and_notifies(clock, service, managers):
    incident = make(service)
    clock.move_to(T0 + timedelta(minutes=15))
    assert services.sla_sweep()["response_breached"] == 1
    incident = reload(incident)
    assert incident.response_breached is True
    assert incident.response_breached_at == T0 + timedelta(minutes=15)
    assert incident.escalation_level == 1
    assert set(
        Notification.objects.filter(subject__startswith="[Escalation 1]").values_list("recipient", flat=True)
    ) == {"lead@example.test"}
    assert Notification.objects.filter(subject__contains="Response SLA breached").count() == 6
    log = TransitionLog.objects.get(object_id=incident.pk, transition="escalate")
    assert (log.user, log.from_state, log.to_state) == (None, "detected", "detected")


def test_not_yet_due_is_not_breached(clock, service):
    incident = make(service)
    clock.move_to(T0 + timedelta(minutes=14, seconds=59))
    assert services.sla_sweep()["response_breached"] == 0
    assert reload(incident).response_breached is False


def test_two_sweeps_one_notification(clock, service, managers):
    incident = make(service)
    clock.move_to(T0 + timedelta(minutes=20))
    services.sla_sweep()
    count = Notification.objects.count()
    assert services.sla_sweep() == {
        "response_breached": 0, "resolution_breached": 0, "response_warned": 0, "resolution_warned": 0,
        "follow_up_breached": 0, "action_items_reminded": 0, "status_updates_reminded": 0,
    }
    assert Notification.objects.count() == count
    assert reload(incident).escalation_level == 1


def test_late_sweep_catches_every_breach_with_its_own_time(clock, service, managers):
    incident = make(service)  # response due 09:15, resolution due 11:00
    clock.move_to(T0 + timedelta(hours=5))
    result = services.sla_sweep()
    assert (result["response_breached"], result["resolution_breached"]) == (1, 1)
    incident = reload(incident)
    assert incident.response_breached_at == T0 + timedelta(minutes=15)
    assert incident.resolution_breached_at == T0 + timedelta(hours=2)
    assert incident.escalation_level == 2
    assert set(
        Notification.objects.filter(subject__startswith="[Escalation 2]").values_list("recipient", flat=True)
    ) == {"im@example.test"}


def test_acknowledged_late_before_the_sweep_ran_is_still_a_breach(clock, service):
    incident = make(service)
    clock.move_to(T0 + timedelta(minutes=17))
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    clock.move_to(T0 + timedelta(minutes=18))
    services.sla_sweep()
    incident = reload(incident)
    assert incident.response_breached is True
    assert incident.response_breached_at == T0 + timedelta(minutes=15)


def test_acknowledged_in_time_is_never_a_response_breach(clock, service):
    incident = make(service)
    clock.move_to(T0 + timedelta(minutes=14))
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    clock.move_to(T0 + timedelta(minutes=30))
    services.sla_sweep()
    assert reload(incident).response_breached is False


def test_a_paused_clock_cannot_breach(clock, service):
    incident = make(service)
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    clock.move_to(T0 + timedelta(hours=1))
    services.incident_transition(instance=incident, name="hold", by=None)
    clock.move_to(T0 + timedelta(hours=5))
    services.sla_sweep()
    assert reload(incident).resolution_breached is False
    services.incident_transition(instance=incident, name="resume", by=None)  # due moves to 15:00
    clock.move_to(T0 + timedelta(hours=5, minutes=59))
    services.sla_sweep()
    assert reload(incident).resolution_breached is False
    clock.move_to(T0 + timedelta(hours=6))
    services.sla_sweep()
    incident = reload(incident)
    assert incident.resolution_breached is True
    assert incident.resolution_breached_at == T0 + timedelta(hours=6)


def test_resolved_late_before_the_sweep_is_flagged_without_escalating(clock, service):
    incident = make(service, severity="high")
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    clock.move_to(T0 + timedelta(hours=4, minutes=1))
    services.incident_transition(instance=incident, name="resolve", by=None, resolution_summary="late")
    services.sla_sweep()
    incident = reload(incident)
    assert incident.resolution_breached is True
    assert incident.resolution_breached_at == T0 + timedelta(hours=4)
    assert incident.escalation_level == 0


def test_breach_is_never_unset(clock, service):
    incident = make(service)
    clock.move_to(T0 + timedelta(minutes=16))
    services.sla_sweep()
    services.incident_transition(instance=incident, name="resolve", by=None, resolution_summary="x")
    services.incident_transition(instance=incident, name="reopen", by=None)
    services.sla_sweep()
    assert reload(incident).response_breached is True


def test_escalation_stops_at_three(clock, manager, service, managers):
    incident = make(service)
    services.incident_escalate(incident=incident, by=manager)
    services.incident_escalate(incident=incident, by=manager)
    clock.move_to(T0 + timedelta(hours=3))
    services.sla_sweep()
    incident = reload(incident)
    assert incident.escalation_level == 3
    assert incident.response_breached and incident.resolution_breached
    assert set(
        Notification.objects.filter(subject__startswith="[Escalation 3]").values_list("recipient", flat=True)
    ) == {"om@example.test"}


def test_routine_breach_is_escalated_but_not_announced_at_once(clock, service):
    incident = make(service, severity="low")
    clock.move_to(T0 + timedelta(hours=4))
    services.sla_sweep()
    assert subjects(incident) == [f"[Escalation 1] {incident.number}: Down"]


def test_cancelled_incidents_are_ignored(clock, service):
    incident = make(service)
    services.incident_transition(instance=incident, name="cancel", by=None, reason="duplicate")
    clock.move_to(T0 + timedelta(hours=5))
    services.sla_sweep()
    assert reload(incident).response_breached is False


def test_sweep_queries_do_not_grow_with_quiet_incidents(clock, service, django_assert_max_num_queries):
    IncidentFactory.create_batch(20, service=service, severity="low")
    # 6 for the SLA clocks, 3 for the process (follow-up breaches, overdue items, status updates).
    with django_assert_max_num_queries(9):
        services.sla_sweep()


def _sweep_statements(count: int, service) -> tuple[int, dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(count):
        make(service)  # critical: response due at 09:15, resolution at 11:00
    with CaptureQueriesContext(connection) as captured:
        done = services.sla_sweep(T0 + timedelta(hours=3))
    Notification.objects.all().delete()
    return len(captured.captured_queries), done


def test_sweep_statements_do_not_grow_with_crossings(clock, service, managers):
    """Both clocks breached and escalated for 1 and for 6 incidents: the same statements."""
    one, done_one = _sweep_statements(1, service)
    Incident.objects.all().delete()
    six, done_six = _sweep_statements(6, service)
    assert (done_one["response_breached"], done_one["resolution_breached"]) == (1, 1)
    assert (done_six["response_breached"], done_six["resolution_breached"]) == (6, 6)
    assert one == six


def test_warning_statements_do_not_grow_with_crossings(clock, service, managers):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for batch in (1, 5):
        Incident.objects.all().delete()
        for _ in range(batch):
            make(service)
        with CaptureQueriesContext(connection) as captured:
            assert services.sla_sweep(T0 + timedelta(minutes=12))["response_warned"] == batch
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_a_sweep_publishes_one_delivery_task_per_queue(
    clock, service, managers, monkeypatch, django_capture_on_commit_callbacks
):
    from opsdesk import tasks as opsdesk_tasks

    published = []
    monkeypatch.setattr(opsdesk_tasks.deliver_notifications, "apply_async",
                        lambda args, queue: published.append((queue, len(args[0]))))
    for _ in range(3):
        make(service)
    clock.move_to(T0 + timedelta(minutes=16))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sla_sweep()["response_breached"] == 3
    # Critical: the breach notices and the escalations all go on the high-priority queue, in one task.
    swept = Notification.objects.filter(queue="high", created_at=T0 + timedelta(minutes=16)).count()
    assert swept == 21 and published == [("high", swept)]


def test_sla_sweep_task(clock, service):
    make(service)
    clock.move_to(T0 + timedelta(minutes=16))
    assert tasks.sla_sweep.delay().get()["response_breached"] == 1


# --- routine digest ----------------------------------------------------------------------


def test_routine_digest_one_email_per_team_idempotent_per_day(clock, service, team):
    other_team = TeamFactory(email="", lead=UserFactory(email="other-lead@example.test"))
    other_service = ServiceFactory(owner_team=other_team)
    make(service, severity="low", detected_at=T0 - timedelta(hours=23))
    make(service, severity="low", detected_at=T0 - timedelta(hours=1))
    make(service, severity="low", detected_at=T0 - timedelta(hours=25))  # too old
    make(service, severity="medium", detected_at=T0 - timedelta(hours=1))  # not routine
    make(other_service, severity="low")
    Notification.objects.all().delete()
    assert services.send_routine_digests() == 2
    rows = Notification.objects.filter(subject__startswith="Routine incidents digest for Platform")
    assert set(rows.values_list("recipient", flat=True)) == {
        "platform@example.test", "lead@example.test", "member1@example.test", "member2@example.test",
    }
    assert rows.first().subject == "Routine incidents digest for Platform: 2 in the last 24 h"
    assert set(
        Notification.objects.filter(subject__contains=other_team.name).values_list("recipient", flat=True)
    ) == {"other-lead@example.test"}
    before = Notification.objects.count()
    assert tasks.send_routine_digests.delay().get() == 0
    assert Notification.objects.count() == before
    clock.move_to(T0 + timedelta(days=1))
    make(service, severity="low")
    assert services.send_routine_digests() == 1


def test_confidential_routine_incidents_stay_within_the_team(clock, service, managers):
    make(service, severity="low", confidential=True)
    services.send_routine_digests()
    recipients = set(Notification.objects.values_list("recipient", flat=True))
    assert recipients == {"platform@example.test", "lead@example.test", "member1@example.test",
                          "member2@example.test"}
    assert "webhook" not in set(Notification.objects.values_list("channel", flat=True))


def test_digest_query_count_does_not_grow_with_incidents(clock, service):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def run(count):
        Notification.objects.all().delete()
        Incident.objects.all().delete()
        for _ in range(count):
            make(service, severity="low", detected_at=timezone.now() - timedelta(hours=2))
        with CaptureQueriesContext(connection) as queries:
            services.send_routine_digests()
        clock.move_to(T0 + timedelta(days=count))  # a new day: a new digest
        return len(queries)

    assert run(2) == run(10)
