"""Demo incidents: every state and severity, breaches and escalations, fast."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.db.models import Count

from incidents import demo
from incidents.models import Incident, IncidentNote
from opsdesk.demo import seed_kernel
from opsdesk.models import Notification, TransitionLog


@pytest.mark.django_db
def test_seed_creates_a_realistic_history():
    ctx, _ = seed_kernel()
    queries = []
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        summary = demo.seed(ctx)
    # The query budget is the guard (time is for benchmarks: a wall-clock limit fails on a busy machine).
    # Each incident's checklist (copied, observed, worked by people) is about half of the writes.
    assert len(queries) < 20000, len(queries)
    assert summary.startswith("308 incidents")  # with the two major incidents and the desk's own four
    assert "SLA calendars: medium in Office hours, low in APAC service desk" in summary
    states = dict(Incident.objects.values_list("state").annotate(n=Count("pk")))
    assert set(states) == {"detected", "responding", "on_hold", "resolved", "closed", "cancelled"}
    assert set(Incident.objects.values_list("severity", flat=True)) == {"critical", "high", "medium", "low"}
    assert Incident.objects.filter(response_breached=True).exists()
    assert Incident.objects.filter(resolution_breached=True).exists()
    assert Incident.objects.filter(escalation_level__gt=0).exists()
    assert Incident.objects.filter(confidential=True).exists()
    assert IncidentNote.objects.exists()
    assert Notification.objects.count() == 0  # muted
    assert not Incident.objects.filter(detected_at__gt=ctx.now).exists()
    assert not Incident.objects.filter(started_at__gt=models_f("detected_at")).exists()
    assert not TransitionLog.objects.filter(object_number__startswith="INC", timestamp__gt=ctx.now).exists()


def models_f(name):
    from django.db.models import F

    return F(name)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("now", "paused_severity"),
    [
        (datetime(2026, 3, 4, 10, 0, tzinfo=UTC), "low"),  # a Wednesday in office hours: Sydney is closed
        (datetime(2026, 3, 4, 22, 30, tzinfo=UTC), "medium"),  # the same evening: the office is closed
        (datetime(2026, 3, 7, 12, 0, tzinfo=UTC), "medium"),  # a Saturday: both are closed
    ],
)
def test_the_demo_queue_shows_clocks_paused_outside_business_hours_at_any_hour(now, paused_severity):
    from incidents.selectors import sla_clocks, sla_state

    with time_machine.travel(now, tick=False):
        ctx, _ = seed_kernel(now=now)
        demo.seed(ctx)
        clocks = sla_clocks()
        paused = {
            incident.severity
            for incident in Incident.objects.filter(state__in=["detected", "responding"])
            if sla_state(incident, now=now, clocks=clocks).paused_reason == "outside_business_hours"
        }
    assert paused_severity in paused
    assert paused <= {"low", "medium"}


@pytest.mark.django_db
def test_seed_shows_the_incident_process():
    from django.db.models import F, Q

    from incidents.choices import StepState
    from incidents.models import ActionItem, IncidentStep, StatusUpdate

    ctx, _ = seed_kernel()
    summary = demo.seed(ctx)
    assert "2 major incidents" in summary
    # Every incident has its checklist, worked to different stages.
    assert not Incident.objects.annotate(n=Count("steps")).exclude(n=16).exists()
    settled = dict(
        Incident.objects.annotate(
            settled=Count("steps", filter=~Q(steps__state=StepState.PENDING))
        ).values_list("pk", "settled")
    )
    assert min(settled.values()) <= 3 and max(settled.values()) >= 14
    assert IncidentStep.objects.filter(state=StepState.SKIPPED).exists()
    assert IncidentStep.objects.filter(state=StepState.DONE, auto=False).exists()
    # Closed incidents never kept a required step pending.
    assert not IncidentStep.objects.filter(incident__state="closed", required=True, state=StepState.PENDING).exists()
    # The closed major incident: status updates (some to stakeholders), action items, one raised as a change.
    closed_major = Incident.objects.get(major=True, state="closed")
    assert StatusUpdate.objects.filter(incident=closed_major, audience="stakeholders").count() >= 3
    items = ActionItem.objects.filter(incident=closed_major)
    assert items.count() == 3 and items.filter(change__isnull=False).count() == 1
    assert items.get(change__isnull=False).change.state == "draft"
    assert Incident.objects.filter(major=True, state__in=["detected", "responding", "on_hold"]).count() == 1
    # Overdue follow-ups, flagged by the sweep, only on incidents still resolved past their due time.
    flagged = Incident.objects.filter(follow_up_breached=True)
    assert flagged.filter(state="resolved").exists()
    assert not flagged.filter(state="resolved", follow_up_due__gt=ctx.now).exists()
    assert not Incident.objects.filter(state="resolved", follow_up_due__lte=ctx.now, follow_up_breached=False).exists()
    assert not flagged.filter(state="closed", closed_at__lte=F("follow_up_due")).exists()
    assert Incident.objects.filter(detection_breached=True).exists()


@pytest.mark.django_db
def test_the_desk_has_its_own_work_and_the_open_queue_is_not_a_permanent_crisis():
    from django.db.models import Q

    from incidents.choices import OPEN_STATES
    from opsdesk.choices import Role

    ctx, _ = seed_kernel()
    demo.seed(ctx)
    desk = ctx.user(Role.SERVICE_DESK)
    open_incidents = Incident.objects.filter(state__in=OPEN_STATES)
    assert open_incidents.filter(assignee=desk).count() >= 3
    breached = open_incidents.filter(Q(response_breached=True) | Q(resolution_breached=True)).count()
    assert 0 < breached <= open_incidents.count() // 3
