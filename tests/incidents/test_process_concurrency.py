"""The incident process under concurrency, on PostgreSQL with real row locks: two people raising a
change for one action item raise one, and two sweeps at the same moment flag and remind once."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from changes.models import ChangeRequest
from incidents import process, review, services
from incidents.models import ActionItem, Incident
from opsdesk.choices import Role
from opsdesk.exceptions import TransitionNotAllowed
from opsdesk.models import Notification

from .conftest import T0

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_at_once(*calls) -> list:
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test compares
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_people_raising_a_change_for_one_item_raise_one(service, user_in_role, team):
    from automation.incident_changes import action_item_raise_change

    manager = user_in_role(Role.INCIDENT_MANAGERS)
    first, second = user_in_role(Role.CHANGE_MANAGERS), user_in_role(Role.CHANGE_MANAGERS)
    incident = services.incident_create(by=manager, title="Disk full", service=service, severity="medium")
    item = review.action_item_create(incident=incident, by=manager, title="Alert", owner=team.lead,
                                     due_date=timezone.localdate() + timedelta(days=7))
    results = run_at_once(lambda: action_item_raise_change(item=item, by=first),
                          lambda: action_item_raise_change(item=item, by=second))
    assert sorted(type(r).__name__ for r in results) == ["ChangeRequest", "TransitionNotAllowed"]
    assert isinstance(next(r for r in results if not isinstance(r, ChangeRequest)), TransitionNotAllowed)
    assert ChangeRequest.objects.count() == 1
    assert ActionItem.objects.get(pk=item.pk).change == ChangeRequest.objects.get()


def test_two_sweeps_at_once_flag_and_remind_once(service, user_in_role, team):
    manager = user_in_role(Role.INCIDENT_MANAGERS)
    with time_machine.travel(T0, tick=False):
        incident = services.incident_create(by=manager, title="Disk full", service=service, severity="medium",
                                            major=True)
        resolved = services.incident_create(by=manager, title="Slow", service=service, severity="medium")
        resolved = services.incident_transition(instance=resolved, name="resolve", by=manager,
                                                resolution_summary="ok")
        review.action_item_create(incident=resolved, by=manager, title="Alert", owner=team.lead,
                                  due_date=date(2026, 3, 3))
    now = T0 + timedelta(days=2)
    with time_machine.travel(now, tick=False):
        results = run_at_once(lambda: process.sweep(now), lambda: process.sweep(now))
    assert not [r for r in results if isinstance(r, Exception)], results
    totals = {key: sum(r[key] for r in results) for key in results[0]}
    assert totals == {"follow_up_breached": 1, "action_items_reminded": 1, "status_updates_reminded": 1}
    assert Incident.objects.get(pk=resolved.pk).follow_up_breached is True
    assert Notification.objects.filter(subject__contains="follow-up overdue").count() == 2  # lead + manager
    assert Notification.objects.filter(subject__startswith="Overdue action item").count() == 1
    assert Notification.objects.filter(object_id=incident.pk, subject__contains="status update due").exists()


def test_two_sla_sweeps_at_once_flag_escalate_and_notify_once(service, managers):
    """Set-based claims: two sweeps at the same moment act on each breach once."""
    with time_machine.travel(T0, tick=False):
        incidents = [
            services.incident_create(by=None, title=f"Down {i}", service=service, severity="critical")
            for i in range(5)
        ]
    later = T0 + timedelta(minutes=20)
    results = run_at_once(lambda: services.sla_sweep(later), lambda: services.sla_sweep(later))
    assert sum(r["response_breached"] for r in results) == 5
    rows = Incident.objects.filter(pk__in=[i.pk for i in incidents])
    assert set(rows.values_list("escalation_level", flat=True)) == {1}
    assert Notification.objects.filter(subject__startswith="[Escalation 1]").count() == 5  # the lead, once each
    keys = list(Notification.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys))


def test_a_manual_escalation_racing_the_sweep_raises_the_level_once_each(service, managers):
    """The sweep claims and escalates in one UPDATE; a manual escalation at the same moment is never
    lost nor counted twice: each incident ends two levels up, logged and announced once per level."""
    from opsdesk.models import TransitionLog

    with time_machine.travel(T0, tick=False):
        incidents = [
            services.incident_create(by=None, title=f"Down {i}", service=service, severity="critical")
            for i in range(5)
        ]
    later = T0 + timedelta(minutes=20)

    def escalate_all():
        for incident in incidents:
            services.incident_escalate(incident=incident, by=managers["im"], comment="by hand")
        return len(incidents)

    results = run_at_once(lambda: services.sla_sweep(later), escalate_all)
    assert results[0]["response_breached"] == 5 and results[1] == 5
    rows = Incident.objects.filter(pk__in=[i.pk for i in incidents])
    assert set(rows.values_list("escalation_level", flat=True)) == {2}
    for incident in incidents:
        levels = sorted(TransitionLog.objects.filter(object_id=incident.pk, transition="escalate")
                        .values_list("comment", flat=True))
        assert [comment[:7] for comment in levels] == ["level 1", "level 2"]
        subjects = Notification.objects.filter(object_id=incident.pk, subject__startswith="[Escalation")
        assert sorted(set(subjects.values_list("subject", flat=True))) == [
            f"[Escalation {level}] {incident.number}: {incident.title}" for level in (1, 2)
        ]


def test_two_submits_of_one_survey_at_once_record_one_answer(service):
    from incidents import survey
    from incidents.models import SatisfactionSurvey, SurveyAnswer
    from tests.factories import IncidentFactory

    incident = IncidentFactory(service=service, caller_email="caller@example.test")
    record = SatisfactionSurvey.objects.create(incident=incident, recipient="caller@example.test")
    results = run_at_once(lambda: survey.survey_answer(survey=record, rating=5),
                          lambda: survey.survey_answer(survey=record, rating=1))
    assert sorted(type(r).__name__ for r in results) == ["SurveyAlreadyAnswered", "SurveyAnswer"]
    assert SurveyAnswer.objects.count() == 1
